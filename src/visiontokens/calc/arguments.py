"""Argument checks shared by both twins of the calculator: one rule and one message each.

The Cython core runs its own C-level fast path for the common case (a plain ``int`` in
range) and falls back to these for everything else, so an odd input is accepted or refused
exactly as the pure twin does it. Batch columns are read by ``_columns`` (shared the same way).
"""

from __future__ import annotations

from .._errors import choice_option, dimension_error
from .._spec import MAX_DIMENSION

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
