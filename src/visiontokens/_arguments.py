"""Argument checks shared by both twins of the calculator: one rule and one message each.

The Cython core runs its own C-level fast path for the common case (a plain ``int`` in
range, a one-dimensional int64 array) and falls back to these for everything else, so an odd
input is accepted or refused exactly as the pure twin does it.
"""

from __future__ import annotations

from typing import Any

from ._errors import ArgumentTypeError, InvalidArgumentError, dimension_error
from ._spec import MAX_DIMENSION

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


def size_arrays(widths: Any, heights: Any) -> tuple[Any, Any, Any, Any]:
    """(widths, heights) as given, and as contiguous int64 arrays of the same length.

    Any integer dtype is accepted; a uint64 value past int64 wraps to a negative number,
    which the kernels reject as a row like any other out-of-range size.
    """
    import numpy as np

    arrays = []
    for name, values in (("widths", widths), ("heights", heights)):
        given = np.asarray(values)
        if given.ndim != 1:
            raise InvalidArgumentError(f"{name} must be one-dimensional, got shape {given.shape}")
        if given.dtype.kind not in "iu" and not (given.size == 0 and given.dtype.kind in "fO"):
            raise ArgumentTypeError(f"{name} must hold integers, got dtype {given.dtype}")
        arrays.append((given, np.ascontiguousarray(given.astype(np.int64, copy=False))))
    (w_given, w64), (h_given, h64) = arrays
    if len(w64) != len(h64):
        raise InvalidArgumentError(
            f"widths and heights differ in length: {len(w64)} and {len(h64)}"
        )
    return w_given, h_given, w64, h64


def per_row(values: Any, n: int, name: str) -> Any:
    """None when one value serves every row, else a 1-d object array of length n."""
    import numpy as np

    if values is None or isinstance(values, str):
        return None
    column = np.asarray(values, dtype=object)
    if column.ndim != 1 or len(column) != n:
        raise InvalidArgumentError(
            f"{name} must be one str or one per row ({n}), got shape {column.shape}"
        )
    return column


def check_on_error(on_error: object) -> None:
    if on_error not in ON_ERROR:
        raise InvalidArgumentError(f"on_error must be 'raise' or 'mask', got {on_error!r}")
