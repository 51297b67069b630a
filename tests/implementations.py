"""Load a twin by name: the compiled module by its own name, never a fallback.

With VISIONTOKENS_REQUIRE_EXTENSIONS=1 (CI) a broken build fails the run instead of quietly
testing the pure twin twice; in a pure install (VISIONTOKENS_NO_EXTENSIONS=1) the compiled
rows are skipped.
"""

from __future__ import annotations

import importlib

import pytest

from visiontokens import _extensions

KINDS = ("cython", "python")


def load_twin(name: str, kind: str):
    """Twin ``name`` ("tokens", "header", "request") as ``kind`` ("cython" or "python")."""
    compiled, pure = _extensions.TWINS[name]
    if kind == "python":
        return importlib.import_module(f"visiontokens.{pure}")
    if not _extensions.use_extensions():
        pytest.skip("built without extensions (VISIONTOKENS_NO_EXTENSIONS)", allow_module_level=True)
    try:
        for module in compiled[1:]:
            importlib.import_module(f"visiontokens.{module}")
        return importlib.import_module(f"visiontokens.{compiled[0]}")
    except ImportError:
        if _extensions.flag("VISIONTOKENS_REQUIRE_EXTENSIONS"):
            raise
        pytest.skip(f"the compiled {name} twin is not built", allow_module_level=True)


def load_impl(kind: str):
    return load_twin("tokens", kind)


def load_parser(kind: str):
    return load_twin("header", kind)
