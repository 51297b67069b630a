"""The pure-Python reference: spec 3 step by step, exact arithmetic, nothing clever.

This is the oracle the Cython core is tested against, and the implementation used when the
extension is not built (``VISIONTOKENS_NO_EXTENSIONS=1``). Keep it obviously right rather
than fast: it follows the guide's formulas literally, with :mod:`fractions` and
:func:`math.isqrt` where the guide uses real numbers (spec 3.6).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, Sequence, SupportsIndex, Union, overload

from .. import rules
from . import _providers_py as providers
from .arguments import check_on_error, checked_dimension, result_labels, with_pixel_limits
from .bounds import worst_case_size
from .columns import Labels, prepare
from .._errors import VisionTokensError, aspect_ratio_error, no_upper_bound_error, rejected_error
from ..rules import DetailParams, ModelSpec, UndocumentedPolicy, fidelity_extra
from .._results import ImageCost
from .._spec import PATCH, TILE

if TYPE_CHECKING:  # numpy loads on the first batch call, never at import
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

#: A side in pixels: an int, or any integer with ``__index__`` (numpy); floats and bools are
#: refused at run time (spec 2: integers >= 1).
Side = SupportsIndex

IMPLEMENTATION = "python"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def _fit_box(w: int, h: int, box: int) -> tuple[int, int]:
    """Shrink (never enlarge) to fit box x box; the short side rounds half up.

    spec 3.1 step 1 and 3.2 step 1. ASSUMED (spec 8.1): half up, where the guide only says
    "round to integer pixels".
    """
    if max(w, h) <= box:
        return w, h
    if w >= h:
        return box, max(1, _round_half_up(Fraction(h * box, w)))
    return max(1, _round_half_up(Fraction(w * box, h))), box


def _patch_cost(p: DetailParams, w: int, h: int) -> tuple[int, int, int, int]:
    """(tokens, resized width, resized height, patches) for a patch model (spec 3.1)."""
    w, h = _fit_box(w, h, p.cap)
    patches = _ceil_div(w, PATCH) * _ceil_div(h, PATCH)
    if p.budget and patches > p.budget:
        # The guide: s = sqrt(32^2 B / (w h)); a = s * min(floor(w s/32) / (w s/32), ...).
        # Since w s / 32 = sqrt(B w / h) and floor(sqrt(x)) = isqrt(floor(x)) (spec 3.6):
        budget = p.budget
        whole_w = math.isqrt(math.floor(Fraction(budget * w, h)))
        whole_h = math.isqrt(math.floor(Fraction(budget * h, w)))
        scale = min(Fraction(PATCH * whole_w, w), Fraction(PATCH * whole_h, h))
        # ASSUMED (spec 3.1 step 3): at least 1 px a side; unreachable for documented models.
        w, h = max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
        patches = min(_ceil_div(w, PATCH) * _ceil_div(h, PATCH), budget)
    if p.reject_over and patches > p.reject_over:
        raise _RejectedPatches(patches, p.reject_over)
    # ASSUMED for 2026-04, stated for 2026-09 (spec 8.2): round up.
    tokens = math.ceil(Fraction(patches * p.mult_num, p.mult_den))
    return tokens, w, h, patches


def _tile_cost(p: DetailParams, w: int, h: int) -> tuple[int, int, int, int]:
    """(tokens, resized width, resized height, tiles) for a tile model (spec 3.2)."""
    w, h = _fit_box(w, h, p.cap)
    side = p.short_side
    if min(w, h) > side:  # only shrinks; a short side at or under S stays
        if w <= h:
            w, h = side, math.floor(Fraction(h * side, w))
        else:
            w, h = math.floor(Fraction(w * side, h)), side
    tiles = _ceil_div(w, TILE) * _ceil_div(h, TILE)
    return p.base + tiles * p.per_tile, w, h, tiles


class _RejectedPatches(Exception):
    def __init__(self, patches: int, limit: int):
        self.patches, self.limit = patches, limit


class Model:
    """A model resolved in one ruleset: :meth:`count` does no name lookup."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.id = spec.id
        self.ruleset = spec.ruleset
        self.scheme = spec.scheme
        self.details = spec.details
        self._bounds: dict[str | None, int] = {}

    def __repr__(self) -> str:
        return f"<visiontokens.Model {self.id!r} ruleset={self.ruleset!r} ({IMPLEMENTATION})>"

    def count(self, width: Side, height: Side, detail: str | None = "auto", *,
              input_fidelity: str | None = None, min_pixels: int | None = None,
              max_pixels: int | None = None) -> int:
        """Input tokens of a width x height image at a detail level."""
        return self.explain(width, height, detail, input_fidelity=input_fidelity,
                            min_pixels=min_pixels, max_pixels=max_pixels).tokens

    def max_tokens(self, detail: str | None = "auto") -> int:
        """The most an image of any size can cost at ``detail``: what an image whose size is
        unknown is charged. Exact: a witness size costs it. ``input_fidelity`` extras are
        left out. Gemini 1.5 and 2.x tiles have no bound (no largest size is documented):
        NoUpperBoundError."""
        bound = self._bounds.get(detail) if detail is None or type(detail) is str else None
        if bound is None:
            p = self.spec.detail_params(detail)  # a bad level raises
            if p.scheme == "gemini_tiles":
                raise no_upper_bound_error(self.id, p.level)
            width, height = worst_case_size(p)
            bound = self.count(width, height, detail)
            if detail is None or type(detail) is str:
                self._bounds[detail] = bound
        return bound

    def explain(self, width: Side, height: Side, detail: str | None = "auto", *,
                input_fidelity: str | None = None, min_pixels: int | None = None,
                max_pixels: int | None = None) -> ImageCost:
        """The tokens and how they were reached, as an :class:`ImageCost`."""
        w = checked_dimension("width", width)
        h = checked_dimension("height", height)
        p = self.spec.detail_params(detail)
        extra = fidelity_extra(self.id, self.spec.has_input_fidelity, p.fidelity_square,
                               p.fidelity_other, w, h, input_fidelity)
        if min_pixels is not None or max_pixels is not None:
            p = with_pixel_limits(self.id, p, min_pixels, max_pixels)
        kernel = _PROVIDER_KERNELS.get(p.scheme)
        if kernel is not None:  # providers.md
            try:
                tokens, rw, rh, units, cols, rows = kernel(p, w, h)
            except providers.AspectRatioTooLarge:
                raise aspect_ratio_error(self.id, w, h) from None
            return ImageCost(
                tokens=tokens + extra, model=self.id, detail=p.level, scheme=self.scheme,
                width=w, height=h, resized_width=rw, resized_height=rh,
                patches=None if p.scheme == "gemini_tiles" else units,
                tiles=units if p.scheme == "gemini_tiles" else None, ruleset=self.ruleset,
                input_fidelity=input_fidelity, assumed_from=self.spec.assumed_from,
                evidence=self.spec.evidence,
                grid=(cols, rows), **result_labels(self.spec, p),  # type: ignore[arg-type]
            )
        patches = tiles = None
        if p.scheme == "patch":
            try:
                tokens, rw, rh, patches = _patch_cost(p, w, h)
            except _RejectedPatches as rejected:
                raise rejected_error(self.id, rejected.patches, rejected.limit) from None
        elif p.scheme == "tile":
            tokens, rw, rh, tiles = _tile_cost(p, w, h)
        else:  # spec 3.2 step 4: low detail costs the base, whatever the size
            tokens, rw, rh = p.base, w, h
        return ImageCost(
            tokens=tokens + extra, model=self.id, detail=p.level, scheme=self.scheme,
            width=w, height=h, resized_width=rw, resized_height=rh, patches=patches,
            tiles=tiles, ruleset=self.ruleset, multiplier=self.spec.multiplier,
            input_fidelity=input_fidelity, assumed_from=self.spec.assumed_from,
            evidence=self.spec.evidence, **result_labels(self.spec, p),  # type: ignore[arg-type]
        )


_PROVIDER_KERNELS = {"claude": providers.claude, "gemini_tiles": providers.gemini_tiles,
                     "mistral": providers.mistral, "qwen": providers.qwen}


def get_model(name: str, *, ruleset: str | None = None, undocumented: UndocumentedPolicy = "error",
              enforce_patch_limit: bool = True) -> Model:
    """The model ``name`` means in ``ruleset``, resolved once.
    ``undocumented="assume"`` counts a known undocumented model like the documented model the
    data names (the figures say so); ``enforce_patch_limit=False`` drops the 30,000-patch
    rejection."""
    return Model(rules.resolve(name, ruleset, undocumented, enforce_patch_limit))


def count_image_tokens(width: Side, height: Side, model: str, detail: str | None = "auto", *,
                       ruleset: str | None = None, input_fidelity: str | None = None,
                       undocumented: UndocumentedPolicy = "error", enforce_patch_limit: bool = True,
                       min_pixels: int | None = None, max_pixels: int | None = None) -> int:
    """Input tokens of a width x height image on ``model`` at ``detail``.
    ``min_pixels``/``max_pixels`` override a Qwen model's processor limits for this call."""
    return get_model(model, ruleset=ruleset, undocumented=undocumented,
                     enforce_patch_limit=enforce_patch_limit).count(
        width, height, detail, input_fidelity=input_fidelity, min_pixels=min_pixels,
        max_pixels=max_pixels)


def explain_image_tokens(width: Side, height: Side, model: str, detail: str | None = "auto", *,
                         ruleset: str | None = None, input_fidelity: str | None = None,
                         undocumented: UndocumentedPolicy = "error",
                         enforce_patch_limit: bool = True, min_pixels: int | None = None,
                         max_pixels: int | None = None) -> ImageCost:
    """Like :func:`count_image_tokens`, with the resized size, patches or tiles, the grid,
    and what the figure is (provider, exactness, tier, marker tokens, docs date)."""
    return get_model(model, ruleset=ruleset, undocumented=undocumented,
                     enforce_patch_limit=enforce_patch_limit).explain(
        width, height, detail, input_fidelity=input_fidelity, min_pixels=min_pixels,
        max_pixels=max_pixels)


#: One value for every row, or one per row (a sequence or an array of strings).
PerRow = Union[str, Sequence[str], "ArrayLike"]


@overload
def count_image_tokens_batch(widths: ArrayLike, heights: ArrayLike, model: PerRow,
                             detail: PerRow = "auto", *, ruleset: str | None = None,
                             on_error: Literal["raise"] = "raise", undocumented: UndocumentedPolicy = "error",
                             enforce_patch_limit: bool = True) -> NDArray[np.int64]: ...
@overload
def count_image_tokens_batch(widths: ArrayLike, heights: ArrayLike, model: PerRow,
                             detail: PerRow = "auto", *, ruleset: str | None = None,
                             on_error: Literal["mask"], undocumented: UndocumentedPolicy = "error",
                             enforce_patch_limit: bool = True,
                             ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]: ...
def count_image_tokens_batch(widths: ArrayLike, heights: ArrayLike, model: PerRow,
                             detail: PerRow = "auto", *, ruleset: str | None = None,
                             on_error: Literal["raise", "mask"] = "raise",
                             undocumented: UndocumentedPolicy = "error", enforce_patch_limit: bool = True,
                             ) -> NDArray[np.int64] | tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Tokens for many images at once: numpy in, numpy out (int64).

    ``model`` and ``detail`` are each one value or one per row. A row that cannot be
    counted raises, naming the row; ``on_error="mask"`` returns ``(tokens, rejected)``
    instead, with 0 tokens on rejected rows.
    """
    # A loop over the scalar reference, row by row (the oracle of _batch_c.pyx). Both batch
    # twins read their arguments through the same shared code (``columns.prepare``: numpy,
    # lists, Arrow, pandas, Polars; nulls; model and detail columns as codes into their
    # distinct values), check them in the same order, and a bad row raises the scalar path's
    # own error, named by its row, exactly as the compiled batch does.
    import numpy as np

    check_on_error(on_error)
    rules.get_ruleset(ruleset)
    rules.check_policies(undocumented, enforce_patch_limit)
    options: dict[str, Any] = {"ruleset": ruleset, "undocumented": undocumented,
                               "enforce_patch_limit": enforce_patch_limit}
    columns = prepare(widths, heights, model, detail)
    models: Any = columns.model  # one name, or Labels: a name per row
    details: Any = columns.detail
    if not isinstance(models, Labels):  # one model (and detail) for every row: not a row's error
        get_model(models, **options).spec.detail_params(
            "auto" if isinstance(details, Labels) else details)
    w_given, h_given = columns.given
    valid = columns.valid
    n = len(w_given)
    tokens = np.zeros(n, dtype=np.int64)
    rejected = np.zeros(n, dtype=bool)
    for row in range(n):
        if valid is not None and not valid[row]:
            continue  # a null row: null out, neither counted nor rejected
        try:
            tokens[row] = count_image_tokens(
                int(w_given[row]), int(h_given[row]),
                models.value(row) if isinstance(models, Labels) else models,  # type: ignore[arg-type]
                details.value(row) if isinstance(details, Labels) else details,  # type: ignore[arg-type]
                **options,
            )
        except VisionTokensError as error:
            if on_error == "raise":
                raise error.at_row(row) from None
            rejected[row] = True
    # (the numpy types are what a numpy input gets; another kind gets its own kind back)
    return columns.output.wrap(tokens, rejected, valid, on_error == "mask")  # type: ignore[no-any-return]
