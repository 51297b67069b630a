"""Picks the implementation once, at import.

VISIONTOKENS_NO_EXTENSIONS=1 uses the pure-Python reference; VISIONTOKENS_REQUIRE_EXTENSIONS=1
turns a missing or broken compiled core into an ImportError (CI sets it), so a test run can
never pass quietly on the fallback.
"""

from __future__ import annotations

import os
from types import ModuleType


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def load() -> ModuleType:
    if _truthy("VISIONTOKENS_NO_EXTENSIONS"):
        from . import _reference

        return _reference
    try:
        from . import _core
    except ImportError:
        if _truthy("VISIONTOKENS_REQUIRE_EXTENSIONS"):
            raise
        from . import _reference

        return _reference
    return _core


def load_header() -> ModuleType:
    """The image-header parser, chosen by the same rules as the calculator."""
    if _truthy("VISIONTOKENS_NO_EXTENSIONS"):
        from . import _header_reference

        return _header_reference
    try:
        from . import _header
    except ImportError:
        if _truthy("VISIONTOKENS_REQUIRE_EXTENSIONS"):
            raise
        from . import _header_reference

        return _header_reference
    return _header


impl = load()
header = load_header()
