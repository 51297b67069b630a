"""Argument checks shared by both implementations: one rule, one message.

The Cython core runs its own C-level fast path for the common case (a plain ``int`` in
range, ``detail`` one of the four strings) and falls back to these for everything else, so
an odd input is accepted or refused exactly as the reference does it.
"""

from __future__ import annotations

from ._errors import MAX_DIMENSION, dimension_error, input_fidelity_error


def checked_dimension(name: str, value: object) -> int:
    """A width or height as an int in 1..MAX_DIMENSION.

    Exact integers only: ``int`` and anything with ``__index__`` (numpy integers). Floats
    are refused, not truncated (Cython would turn 1920.7 into 1920), and so are bools.
    """
    if type(value) is not int:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise dimension_error(name, value)
        value = value.__index__()  # type: ignore[attr-defined]
    if not 1 <= value <= MAX_DIMENSION:  # type: ignore[operator]
        raise dimension_error(name, value)
    return value  # type: ignore[return-value]


def fidelity_extra(model: str, has_fidelity: bool, square: int, other: int,
                   width: int, height: int, value: object) -> int:
    """Tokens added by GPT Image 1's ``input_fidelity="high"`` (spec 3.3).

    ASSUMED (spec 8.4): "square" means ``width == height`` of the image as given.
    ASSUMED: the extra applies at every detail level. ``"low"`` (the API's default) and
    None add nothing on any model; ``"high"`` on a model without the rule is an error.
    """
    if value is None or (type(value) is str and value == "low"):
        return 0
    if type(value) is str and value == "high" and has_fidelity:
        return square if width == height else other
    raise input_fidelity_error(model, value)
