"""Picks the implementation once, at import.

VISIONTOKENS_NO_EXTENSIONS=1 uses the pure-Python reference; VISIONTOKENS_REQUIRE_EXTENSIONS=1
turns a missing or broken compiled core into an ImportError (CI sets it), so a test run can
never pass quietly on the fallback.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _pick(compiled: str, reference: str) -> ModuleType:
    """The compiled module, or its pure-Python reference, by the rules above."""
    if _truthy("VISIONTOKENS_NO_EXTENSIONS"):
        return importlib.import_module(f"{__package__}.{reference}")
    try:
        return importlib.import_module(f"{__package__}.{compiled}")
    except ImportError:
        if _truthy("VISIONTOKENS_REQUIRE_EXTENSIONS"):
            raise
        return importlib.import_module(f"{__package__}.{reference}")


impl = _pick("_core", "_reference")  # the calculator
header = _pick("_header", "_header_reference")  # the image-header parser
