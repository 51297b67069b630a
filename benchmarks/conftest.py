"""The `measured` fixture: ratio checks run only when benchmarks are measured.

Under ``--benchmark-disable`` (the default in pytest's addopts, so the test command smoke-runs
every benchmark once) the ratio checks are skipped: they only mean something when measured.
Full run: ``python -m pytest benchmarks --benchmark-enable``.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def measured(request):
    config = request.config
    if config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"):
        pytest.skip("ratios need a measured run: pytest benchmarks --benchmark-enable")
