"""Argument checks shared by both twins of the calculator: one rule and one message each.

The Cython core runs its own C-level fast path for the common case (a plain ``int`` in
range) and falls back to these for everything else, so an odd input is accepted or refused
exactly as the pure twin does it. Batch columns are read by ``_columns`` (shared the same way).
"""

from __future__ import annotations

from .._errors import InvalidArgumentError, choice_option, dimension_error
from .._spec import MAX_DIMENSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from ..rules import DetailParams, ModelSpec

ON_ERROR = ("raise", "mask")


def checked_dimension(name: str, value: object) -> int:
    """A width or height as an int in 1..MAX_DIMENSION.

    Exact integers only: ``int`` and anything with ``__index__`` (numpy integers). Floats
    are refused, not truncated (Cython would turn 1920.7 into 1920), and so are bools.
    """
    if type(value) is not int:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise dimension_error(name, value)
        value = value.__index__()
    if not 1 <= value <= MAX_DIMENSION:  # type: ignore[operator]
        raise dimension_error(name, value)
    return value  # type: ignore[return-value]


def check_on_error(on_error: object) -> None:
    if not (type(on_error) is str and on_error in ON_ERROR):
        choice_option("on_error", on_error, ON_ERROR)


#: Largest min_pixels/max_pixels accepted (Qwen, providers 4.2): the kernels' products of two
#: such values or of one with a side stay inside int64.
MAX_PIXELS = 2**31 - 1


def checked_pixels(name: str, value: object) -> int:
    if type(value) is not int:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            from .._errors import ArgumentTypeError, quoted

            raise ArgumentTypeError(f"{name} must be an int or None, got {quoted(value)}",
                                    argument=name)
        value = value.__index__()
    if not 1 <= value <= MAX_PIXELS:  # type: ignore[operator]
        raise InvalidArgumentError(f"{name} must be between 1 and {MAX_PIXELS}, got {value}",
                                   argument=name)
    return value  # type: ignore[return-value]


def with_pixel_limits(model: str, p: DetailParams, min_pixels: object,
                      max_pixels: object) -> DetailParams:
    """``p`` with a call's own min_pixels/max_pixels (Qwen's processor arguments, providers
    4.2); either may be None (the model's). Any other model refuses them."""
    from dataclasses import replace

    from .._errors import argument_not_applicable_error

    if p.scheme != "qwen":
        raise argument_not_applicable_error("min_pixels" if min_pixels is not None
                                            else "max_pixels", model)
    lo = p.lo if min_pixels is None else checked_pixels("min_pixels", min_pixels)
    hi = p.hi if max_pixels is None else checked_pixels("max_pixels", max_pixels)
    if lo > hi:
        raise InvalidArgumentError(f"min_pixels ({lo}) must not exceed max_pixels ({hi})",
                                   argument="min_pixels")
    return replace(p, lo=lo, hi=hi)


def result_labels(spec: ModelSpec, p: DetailParams) -> dict[str, object]:
    """The fields of an ImageCost that say what the figure is (both twins)."""
    exactness = "assumed" if spec.assumed_from is not None else p.exactness
    return {"provider": spec.provider, "exactness": exactness, "tier": spec.tier,
            "marker_tokens": p.markers if p.scheme == "qwen" else None,
            "docs_as_of": spec.docs_as_of or spec.ruleset}
