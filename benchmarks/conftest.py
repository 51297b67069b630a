"""Shared helpers: implementations by name, and same-run per-call timings for ratio checks.

Under ``--benchmark-disable`` (the default in pytest's addopts, so the test command smoke-runs
every benchmark once) the ratio checks are skipped: they only mean something when measured.
Full run: ``python -m pytest benchmarks --benchmark-enable``.
"""

from __future__ import annotations

import importlib
import timeit

import pytest


@pytest.fixture
def measured(request):
    config = request.config
    if config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"):
        pytest.skip("ratios need a measured run: pytest benchmarks --benchmark-enable")


def per_call_ns(fn, *args, number: int = 20000, repeat: int = 9) -> float:
    """Best-of-`repeat` time of one call, in ns (the minimum is the least noisy estimate)."""
    timer = timeit.Timer(lambda: fn(*args))
    empty = timeit.Timer(lambda: None)
    # subtract the lambda's own cost, measured the same way
    best = min(timer.repeat(repeat, number)) / number
    base = min(empty.repeat(repeat, number)) / number
    return max(best - base, 1e-12) * 1e9


def core():
    return importlib.import_module("visiontokens._core")


def reference():
    return importlib.import_module("visiontokens._reference")
