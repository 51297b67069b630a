"""Tests that need the ``integration`` extra (the dataframe engines, a Dask cluster, the plot,
the LiteLLM proxy): they skip with a visible reason when it is absent (``-rs`` lists them), and
carry the ``integration`` marker, so ``.ci/run`` can run exactly them once the extra is in.

- a whole module: ``pytestmark = integration_module("pandas", "polars")``, *before* importing
  them (it skips the module when one is missing);
- one test or fixture's test: ``@needs("duckdb")``.

With VISIONTOKENS_REQUIRE_INTEGRATION=1 (``.ci/run`` sets it for the integration run) a missing
package is an error, not a skip, so a broken extra cannot pass CI by skipping.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")
HINT = "pip install '.[integration]'"


def _importable(name: str) -> bool:
    # find_spec imports a dotted name's parents, and raises when a parent is missing
    # ("google.genai" without "google")
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _missing(modules: tuple[str, ...]) -> list[str]:
    missing = [name for name in modules if not _importable(name)]
    if missing and os.environ.get("VISIONTOKENS_REQUIRE_INTEGRATION", "").strip() in ("1", "true"):
        raise ImportError(f"VISIONTOKENS_REQUIRE_INTEGRATION is set and {', '.join(missing)} "
                          f"is not installed ({HINT})")
    return missing


def reason(missing: list[str]) -> str:
    return f"needs {', '.join(missing)}, in the integration extra: {HINT}"


def integration_module(*modules: str) -> pytest.MarkDecorator:
    """For ``pytestmark``: skips the calling module unless every module is importable."""
    missing = _missing(modules)
    if missing:
        caller = sys._getframe(1).f_globals.get("__name__", "this module")
        pytest.skip(f"{caller}: {reason(missing)}", allow_module_level=True)
    return pytest.mark.integration


def needs(*modules: str) -> Callable[[T], T]:
    """Marks one test as integration; it skips unless every module is importable."""
    missing = _missing(modules)

    def apply(test: T) -> T:
        test = pytest.mark.integration(test)
        if missing:
            test = pytest.mark.skip(reason=reason(missing))(test)
        return test

    return apply
