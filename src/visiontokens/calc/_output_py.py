"""Output image tokens (spec 6.2), the pure-Python twin: the rules as the spec states them.

The oracle the compiled ``_output_c`` is tested against, and what runs when the extension is
not built. It reads the spec literally: the gpt-image-2 rule in the spec's own integer form,
the size limits one by one, and ``auto`` as a plain search over every cell the API could
pick (every size, for gpt-image-2).
"""

from __future__ import annotations

import re
from typing import Any

from . import output_rules as shared
from .. import rules
from .._errors import size_type_error, unsupported_quality_error, unsupported_size_error
from ..rules import OutputModelSpec
from .._results import OutputImageCost

IMPLEMENTATION = "python"

AUTO = shared.AUTO
_SIZE = re.compile(r"([1-9][0-9]{0,%d})x([1-9][0-9]{0,%d})" % ((shared.SIDE_DIGITS_MAX - 1,) * 2),
                   re.ASCII)


def _flexible_tokens(spec: OutputModelSpec, factor: int, width: int, height: int) -> int:
    """spec 6.2, gpt-image-2 (EMPIRICAL): s = (2 f S + L) // (2 L), then
    tokens = ceil(f * s * (2 000 000 + w * h) / 4 000 000), in exact integers."""
    long, short = max(width, height), min(width, height)
    s = (2 * factor * short + long) // (2 * long)
    return -(-(factor * s * (spec.pixel_offset + width * height)) // spec.divisor)


def _flexible_size_error(spec: OutputModelSpec, width: int, height: int) -> str | None:
    """Why the API cannot make width x height (spec 6.2), or None when it can."""
    if width % spec.size_multiple or height % spec.size_multiple:
        return shared.multiple_reason(spec)
    if max(width, height) > spec.long_side_max:
        return shared.long_side_reason(spec)
    if max(width, height) > spec.ratio_max * min(width, height):
        return shared.ratio_reason(spec)
    if not spec.pixels_min <= width * height <= spec.pixels_max:
        return shared.pixels_reason(spec, width * height)
    return None


class OutputModel:
    """An image-generation model resolved in one ruleset: no name lookup per call."""

    def __init__(self, spec: OutputModelSpec):
        self.spec = spec
        self.id = spec.id
        self.ruleset = spec.ruleset
        # flexible models, per quality: (tokens, width, height) of the costliest size,
        # found on first use of size "auto"
        self._costliest: dict[str, tuple[int, int, int]] = {}

    def __repr__(self) -> str:
        return f"<visiontokens.OutputModel {self.id!r} ruleset={self.ruleset!r} ({IMPLEMENTATION})>"

    def _costliest_size(self, quality: str) -> tuple[int, int, int]:
        """Every size the model can make, searched: the costliest one (the first on a tie,
        widths then heights ascending)."""
        found = self._costliest.get(quality)
        if found is None:
            spec, factor = self.spec, self.spec.quality_factors[quality]
            found = (-1, 0, 0)
            step, ratio = spec.size_multiple, spec.ratio_max
            for width in range(step, spec.long_side_max + 1, step):
                # heights past ratio * width, or past the pixel limit, are never valid
                tallest = min(spec.long_side_max, ratio * width, spec.pixels_max // width)
                for height in range(step, tallest + 1, step):
                    if _flexible_size_error(spec, width, height) is None:
                        tokens = _flexible_tokens(spec, factor, width, height)
                        if tokens > found[0]:
                            found = (tokens, width, height)
            self._costliest[quality] = found
        return found

    def explain(self, size: Any = AUTO, quality: Any = AUTO, n: Any = 1,
                partial_images: Any = 0) -> OutputImageCost:
        """The tokens and how they were reached, as an :class:`OutputImageCost`."""
        spec = self.spec
        # The checks, in the order both twins keep: quality, size, n, partial images.
        if quality is None:
            quality = AUTO
        if type(quality) is not str or (quality != AUTO and quality not in spec.qualities):
            raise unsupported_quality_error(spec.id, quality, spec.qualities)
        if size is None:
            size = AUTO
        if type(size) is not str:
            raise size_type_error(size)
        asked: tuple[int, int] | None = None
        if size != AUTO:
            if spec.rule == "table":
                if size not in spec.sizes:
                    raise unsupported_size_error(spec.id, size, shared.table_reason(spec))
            else:
                match = _SIZE.fullmatch(size)
                if match is None:
                    raise unsupported_size_error(spec.id, size, shared.format_reason())
                asked = int(match[1]), int(match[2])
                reason = _flexible_size_error(spec, *asked)
                if reason is not None:
                    raise unsupported_size_error(spec.id, size, reason)
        n = shared.checked_count("n", n, 1, spec.n_max)
        partial_images = shared.checked_count("partial_images", partial_images, 0,
                                              spec.partial_images_max)
        # The costliest cell among what the API may pick, the first in data order on a tie.
        best = (-1, "", "")
        for q in (spec.qualities if quality == AUTO else (quality,)):
            if spec.rule == "table":
                for s in (spec.sizes if size == AUTO else (size,)):
                    if spec.cells[q][s] > best[0]:
                        best = (spec.cells[q][s], s, q)
            else:
                if asked is None:
                    tokens, width, height = self._costliest_size(q)
                else:
                    width, height = asked
                    tokens = _flexible_tokens(spec, spec.quality_factors[q], width, height)
                if tokens > best[0]:
                    best = (tokens, f"{width}x{height}", q)
        per_image, priced_size, priced_quality = best
        return shared.cost(spec, size, quality, priced_size, priced_quality, per_image, n,
                           partial_images)

    def count(self, size: Any = AUTO, quality: Any = AUTO, n: Any = 1,
              partial_images: Any = 0) -> int:
        """Output tokens of n images of size at quality, each with its partial images."""
        return self.explain(size, quality, n, partial_images).tokens


#: This twin's namespace of the one cache.
_MODELS = rules.namespace(f"output.{IMPLEMENTATION}")


def get_output_model(model: Any, *, ruleset: Any = None, undocumented: Any = "error") -> OutputModel:
    """The output-token rule of an image model, resolved once."""
    key = (model, ruleset, undocumented)
    hit = _MODELS.get(key) if type(model) is str and type(undocumented) is str and (
        ruleset is None or type(ruleset) is str) else None
    if hit is None:
        hit = rules.memoised(_MODELS, key, _new_output_model, model, ruleset, undocumented)
    return hit  # type: ignore[return-value]


def _new_output_model(model: Any, ruleset: Any, undocumented: Any) -> OutputModel:
    return OutputModel(rules.resolve_output(model, ruleset, undocumented))


def count_output_image_tokens(model: Any, size: Any = AUTO, quality: Any = AUTO, *, n: Any = 1,
                              partial_images: Any = 0, ruleset: Any = None,
                              undocumented: Any = "error") -> int:
    """Output tokens of generating ``n`` images of ``size`` at ``quality`` on ``model``,
    each with ``partial_images`` streamed partial images."""
    return get_output_model(model, ruleset=ruleset, undocumented=undocumented).count(
        size, quality, n, partial_images)


def explain_output_image_tokens(model: Any, size: Any = AUTO, quality: Any = AUTO, *,
                                n: Any = 1, partial_images: Any = 0, ruleset: Any = None,
                                undocumented: Any = "error") -> OutputImageCost:
    """Like :func:`count_output_image_tokens`, with the cell priced and whether the figure
    is exact, an upper bound (size or quality "auto") or EMPIRICAL (gpt-image-2)."""
    return get_output_model(model, ruleset=ruleset, undocumented=undocumented).explain(
        size, quality, n, partial_images)
