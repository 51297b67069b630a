"""Every test that takes ``impl``, ``parser`` or ``walk`` runs against both twins.

The compiled core is imported by name: with VISIONTOKENS_REQUIRE_EXTENSIONS=1 (CI) a broken
build fails the run instead of quietly testing the reference twice.
Hypothesis profiles: ``dev`` (default, fast) and ``ci`` (thorough), by HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from implementations import KINDS, load_twin

settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile(
    "ci", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session", params=KINDS)
def impl(request):
    """The calculator twin: compiled (_tokens_c, _batch_c) and pure (_tokens_py, _batch_py)."""
    return load_twin("tokens", request.param)


@pytest.fixture(scope="session", params=KINDS)
def parser(request):
    """The image-header parser twin: compiled _header_c and pure _header_py."""
    return load_twin("header", request.param)


@pytest.fixture(scope="session", params=KINDS)
def walk(request):
    """The request-walk twin: _request_c (compiled from _request_py.py as is) and _request_py."""
    return load_twin("request", request.param)


@pytest.fixture(scope="session", params=KINDS)
def output(request):
    """The output-token twin (spec 6.2): compiled _output_c and pure _output_py."""
    return load_twin("output", request.param)
