"""Every test that takes ``impl`` runs against both implementations.

The compiled core is imported by name: with VISIONTOKENS_REQUIRE_EXTENSIONS=1 (CI) a broken
build fails the run instead of quietly testing the reference twice.
Hypothesis profiles: ``dev`` (default, fast) and ``ci`` (thorough), by HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from implementations import load_impl, load_parser

settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile(
    "ci", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=["cython", "python"])
def impl(request):
    return load_impl(request.param)



@pytest.fixture(params=["cython", "python"])
def parser(request):
    """The image-header parser, compiled and reference."""
    return load_parser(request.param)
