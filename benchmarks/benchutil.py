"""Timing helpers for the ratio checks, and the implementations by name."""

from __future__ import annotations

import importlib
import timeit


def per_call_ns(fn, *args, number: int = 20000, repeat: int = 9) -> float:
    """Best-of-`repeat` time of one call, in ns (the minimum is the least noisy estimate)."""
    timer = timeit.Timer(lambda: fn(*args))
    empty = timeit.Timer(lambda: None)
    # subtract the lambda's own cost, measured the same way
    best = min(timer.repeat(repeat, number)) / number
    base = min(empty.repeat(repeat, number)) / number
    return max(best - base, 1e-12) * 1e9


def core():
    return importlib.import_module("visiontokens._tokens_c")


def reference():
    return importlib.import_module("visiontokens._tokens_py")
