"""Timing helpers for the ratio checks, and the twins by name (compiled rows skip in a pure
install, as in the tests)."""

from __future__ import annotations

import timeit

from implementations import load_twin


def per_call_ns(fn, *args, number: int = 20000, repeat: int = 9) -> float:
    """Best-of-`repeat` time of one call, in ns (the minimum is the least noisy estimate)."""
    timer = timeit.Timer(lambda: fn(*args))
    empty = timeit.Timer(lambda: None)
    # subtract the lambda's own cost, measured the same way
    best = min(timer.repeat(repeat, number)) / number
    base = min(empty.repeat(repeat, number)) / number
    return max(best - base, 1e-12) * 1e9


def core():
    """The compiled calculator; in a pure install the benchmark asking for it is skipped."""
    return load_twin("tokens", "cython")


def reference():
    """The pure calculator twin."""
    return load_twin("tokens", "python")
