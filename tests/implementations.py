"""Load an implementation by name: the compiled core by its module name, never a fallback."""

from __future__ import annotations

import importlib
import os

import pytest


def load_impl(name: str):
    if name == "python":
        return importlib.import_module("visiontokens._reference")
    if os.environ.get("VISIONTOKENS_NO_EXTENSIONS"):
        pytest.skip("built without extensions (VISIONTOKENS_NO_EXTENSIONS)", allow_module_level=True)
    try:
        return importlib.import_module("visiontokens._core")
    except ImportError:
        if os.environ.get("VISIONTOKENS_REQUIRE_EXTENSIONS"):
            raise
        pytest.skip("the compiled core is not built", allow_module_level=True)


def load_parser(name: str):
    """The image-header parser by name: compiled `_header` or `_header_reference`."""
    if name == "python":
        return importlib.import_module("visiontokens._header_reference")
    load_impl("cython")  # the same skip and fail rules
    return importlib.import_module("visiontokens._header")
