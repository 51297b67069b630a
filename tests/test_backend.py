"""Choosing the implementation: env vars at import, and a light import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VISIONTOKENS_")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**environment, **env})


def test_no_extensions_env_selects_every_pure_twin():
    code = ("import visiontokens as v; print(v.IMPLEMENTATION, sorted(set(v.IMPLEMENTATIONS.values())), "
            "v._request.__name__, v._tokens.__name__)")
    for value in ("1", "true", "YES", " on "):
        done = run(code, VISIONTOKENS_NO_EXTENSIONS=value)
        assert done.stdout.split() == ["python", "['python']", "visiontokens.requests._request_py",
                                       "visiontokens.calc._tokens_py"], done.stderr


def test_a_false_switch_means_false_at_import():
    # "0" once built pure Python but imported compiled; now every reader agrees it is off.
    pytest.importorskip("visiontokens.calc._tokens_c")
    for value in ("0", "false", "no", "off", ""):
        done = run("import visiontokens; print(visiontokens.IMPLEMENTATION)", VISIONTOKENS_NO_EXTENSIONS=value)
        assert done.stdout.strip() == "cython", (value, done.stderr)


def test_a_mistyped_switch_is_an_error_not_a_guess():
    done = run("import visiontokens", VISIONTOKENS_NO_EXTENSIONS="maybe")
    assert done.returncode != 0 and "VISIONTOKENS_NO_EXTENSIONS must be one of" in done.stderr


def test_the_build_reads_the_same_switch(monkeypatch):
    from visiontokens import _extensions

    monkeypatch.setenv("VISIONTOKENS_NO_EXTENSIONS", "1")
    assert not _extensions.use_extensions()
    monkeypatch.setenv("VISIONTOKENS_NO_EXTENSIONS", "0")
    assert _extensions.use_extensions() == (sys.implementation.name == "cpython")
    setup = (Path(__file__).parent.parent / "setup.py")
    if setup.exists():  # a source checkout: setup.py decides with this very function
        assert "switch.use_extensions()" in setup.read_text()


def test_implementation_tells_the_truth_per_twin():
    # One compiled twin missing: that twin says "python", the others "cython", the sum "mixed".
    pytest.importorskip("visiontokens.calc._tokens_c")
    done = run("import sys; sys.modules['visiontokens.images._header_c'] = None; import visiontokens as v; "
               "print(v.IMPLEMENTATION, v.IMPLEMENTATIONS['header'], v.IMPLEMENTATIONS['tokens'])")
    assert done.stdout.split() == ["mixed", "python", "cython"], done.stderr


def test_default_prefers_the_compiled_core():
    pytest.importorskip("visiontokens.calc._tokens_c")
    done = run("import visiontokens; print(visiontokens.IMPLEMENTATION)")
    assert done.stdout.strip() == "cython"


def test_require_extensions_fails_loudly_without_the_core():
    pytest.importorskip("visiontokens.calc._tokens_c")
    # Hide the compiled module: REQUIRE turns that into an ImportError, not a quiet fallback.
    code = ("import sys; sys.modules['visiontokens.calc._tokens_c'] = None; import visiontokens")
    assert run(code).returncode == 0
    done = run(code, VISIONTOKENS_REQUIRE_EXTENSIONS="1")
    assert done.returncode != 0 and "import of visiontokens.calc._tokens_c" in done.stderr  # ModuleNotFoundError


def test_import_is_light():
    # Gateways import us on their hot path: no numpy, no JSON tables until first use.
    done = run("import sys, visiontokens; print('numpy' in sys.modules, 'json' in sys.modules)")
    assert done.stdout.split() == ["False", "False"]
