"""What both output-token twins share (spec 6.2): argument checks, the reasons a size is
refused, the "why" of an upper bound and the result. One rule and one message each, so the
compiled ``_output_c`` and the pure ``_output_py`` refuse the same inputs with the same
errors by construction; each twin does its own parsing and arithmetic.
"""

from __future__ import annotations

from .._errors import count_argument_error
from ..rules import OutputModelSpec
from .._results import OutputImageCost

AUTO = "auto"
#: A flexible size as the API spells it: WIDTHxHEIGHT, ASCII digits, no sign, no leading zero,
#: at most 9 digits a side (so every product of the rule stays far inside int64).
SIDE_DIGITS_MAX = 9


def checked_count(name: str, value: object, low: int, high: int) -> int:
    """``n`` or ``partial_images``: an int (or anything with ``__index__``, not a bool) in
    low..high."""
    if type(value) is not int:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise count_argument_error(name, value, low, high)
        value = value.__index__()
    if not low <= value <= high:  # type: ignore[operator]
        raise count_argument_error(name, value, low, high)
    return value  # type: ignore[return-value]


# --- why a size is refused (the same words from both twins) --------------------------------------

def format_reason() -> str:
    return "a size is WIDTHxHEIGHT in pixels, such as 1536x1024, or auto"


def table_reason(spec: OutputModelSpec) -> str:
    return f"its sizes are {', '.join(spec.sizes)} or auto"


def multiple_reason(spec: OutputModelSpec) -> str:
    return f"both sides must be multiples of {spec.size_multiple}"


def long_side_reason(spec: OutputModelSpec) -> str:
    return f"the long side must be at most {spec.long_side_max} px"


def ratio_reason(spec: OutputModelSpec) -> str:
    return f"the long side must be at most {spec.ratio_max} times the short side"


def pixels_reason(spec: OutputModelSpec, pixels: int) -> str:
    return f"it must have {spec.pixels_min} to {spec.pixels_max} pixels, not {pixels}"


# --- the result ---------------------------------------------------------------------------------

def why(spec: OutputModelSpec, size: str, quality: str, priced_size: str,
        priced_quality: str) -> str | None:
    """Why a figure is an upper bound: size or quality "auto" is chosen by the API when it
    generates, so the costliest choice is priced (ASSUMED, spec 6.2)."""
    parts = []
    if size == AUTO:
        where = "of its sizes" if spec.rule == "table" else "size it can make"
        parts.append(f"size auto: priced at the costliest {where}, {priced_size}")
    if quality == AUTO:
        parts.append(f"quality auto: priced at the costliest quality, {priced_quality}")
    if not parts:
        return None
    return "; ".join(parts) + " (the API picks at generation time; ASSUMED)"  # spec 6.2


def cost(spec: OutputModelSpec, size: str, quality: str, priced_size: str, priced_quality: str,
         per_image: int, n: int, partial_images: int) -> OutputImageCost:
    """The result both twins return: n images, each with its partial images (ASSUMED: the
    partial images are per image, spec 6.2)."""
    reason = why(spec, size, quality, priced_size, priced_quality)
    return OutputImageCost(
        tokens=n * (per_image + partial_images * spec.partial_image_tokens),
        per_image_tokens=per_image, model=spec.id, size=size, quality=quality,
        priced_size=priced_size, priced_quality=priced_quality, n=n,
        partial_images=partial_images, partial_image_tokens=spec.partial_image_tokens,
        upper_bound=reason is not None, why=reason, empirical=spec.empirical,
        ruleset=spec.ruleset, assumed_from=spec.assumed_from)
