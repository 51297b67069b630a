"""One switch for the compiled twins, read by the build and by the import alike.

Every compiled module has a pure-Python twin of the same behaviour; ``TWINS`` pairs them.
``setup.py`` loads this file by path (it imports nothing from the package at module level) to
decide what to build, and the package calls :func:`twin` to decide what to import:

- ``VISIONTOKENS_NO_EXTENSIONS`` true: build nothing, import the pure twins.
- ``VISIONTOKENS_REQUIRE_EXTENSIONS`` true: a compiled twin that is missing or broken is an
  ImportError, never a quiet fallback (CI sets it).
- Off CPython: pure Python (the compiled modules use CPython's C API).

True is ``1``/``true``/``yes``/``on``, false is unset, empty, ``0``/``false``/``no``/``off``
(any case); anything else is an error, so a typo cannot silently pick the wrong build.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

#: twin name -> (compiled modules, pure module), as dotted names under the package. The
#: calculator's compiled twin is two extensions: the batch entry point needs numpy's C API, so
#: it is imported on first use.
TWINS: dict[str, tuple[tuple[str, ...], str]] = {
    "tokens": (("calc._tokens_c", "calc._batch_c"), "calc._tokens_py"),
    "header": (("images._header_c",), "images._header_py"),
    "request": (("requests._request_c",), "requests._request_py"),
    "output": (("calc._output_c",), "calc._output_py"),
    "scan": (("requests._scan_c",), "requests._scan_py"),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def flag(name: str) -> bool:
    """The value of a VISIONTOKENS_* switch, by the one rule above."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be one of {', '.join(_TRUE + _FALSE[1:])} or unset, got {value!r}")


def use_extensions() -> bool:
    """Whether compiled twins are wanted at all: at build time and at import time."""
    return sys.implementation.name == "cpython" and not flag("VISIONTOKENS_NO_EXTENSIONS")


_chosen: dict[str, ModuleType] = {}


def twin(name: str) -> ModuleType:
    """The module serving twin ``name``, chosen once per process."""
    module = _chosen.get(name)
    if module is None:
        module = _chosen[name] = _choose(name)
    return module


def _choose(name: str) -> ModuleType:
    compiled, pure = TWINS[name]
    package = __name__.rpartition(".")[0]
    if use_extensions():
        try:
            module = importlib.import_module(f"{package}.{compiled[0]}")
            for extra in compiled[1:]:  # found, not imported: numpy loads on first batch call
                if importlib.util.find_spec(f"{package}.{extra}") is None:
                    raise ModuleNotFoundError(f"No module named '{package}.{extra}'")
            return module
        except ImportError:
            if flag("VISIONTOKENS_REQUIRE_EXTENSIONS"):
                raise
    return importlib.import_module(f"{package}.{pure}")


def lower(name: str, kind: str) -> ModuleType:
    """The twin ``name`` a twin of ``kind`` ("cython" or "python") builds on: a pure twin
    uses pure lower twins, so the pure stack is pure end to end in any process; a compiled
    one uses the process's choice (compiled when built)."""
    if kind == "python":
        return importlib.import_module(f"{__name__.rpartition('.')[0]}.{TWINS[name][1]}")
    return twin(name)


def implementations() -> dict[str, str]:
    """twin name -> "cython" or "python": what each twin really runs."""
    return {name: twin(name).IMPLEMENTATION for name in TWINS}


#: What the pure twins cost, and where the build's prerequisites are described. The docs page
#: is a path in the repository until the documentation site has an address.
DOCS = "docs/how-it-is-built.md"
#: setup.py leaves this next to the package when the compiled core failed to build.
BUILD_NOTE = "_build_note.txt"


def build_note() -> str | None:
    """Why the build fell back to the pure twins (the compiler's error, shortened), or None."""
    try:
        path = os.path.join(os.path.dirname(__file__), BUILD_NOTE)
        with open(path, encoding="utf-8") as note:
            return note.read().strip() or None
    except OSError:
        return None


def fallback_text() -> str:
    """For a user of a pure (or mixed) install: why, what it costs, what to do."""
    if not use_extensions():
        why = "the compiled core is switched off (VISIONTOKENS_NO_EXTENSIONS, or not CPython)"
    else:
        note = build_note()
        why = ("the compiled core could not be built when this was installed:\n  "
               + note.replace("\n", "\n  ")) if note else "the compiled core is not installed"
    return (f"{why}\nThe pure-Python twins give the same answers, about 30-100x slower on the hot "
            f"paths. Install a C compiler and reinstall to get it back: see {DOCS}.")


def summary(chosen: dict[str, str]) -> str:
    """"cython" or "python" when every twin agrees, else "mixed"."""
    kinds = set(chosen.values())
    return kinds.pop() if len(kinds) == 1 else "mixed"
