"""Choosing the implementation: env vars at import, and a light import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VISIONTOKENS_")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**environment, **env})


def test_no_extensions_env_selects_the_reference():
    done = run("import visiontokens; print(visiontokens.IMPLEMENTATION)", VISIONTOKENS_NO_EXTENSIONS="1")
    assert done.stdout.strip() == "python"


def test_default_prefers_the_compiled_core():
    pytest.importorskip("visiontokens._tokens_c")
    done = run("import visiontokens; print(visiontokens.IMPLEMENTATION)")
    assert done.stdout.strip() == "cython"


def test_require_extensions_fails_loudly_without_the_core():
    # Hide the compiled module: REQUIRE turns that into an ImportError, not a quiet fallback.
    code = ("import sys; sys.modules['visiontokens._tokens_c'] = None; import visiontokens")
    assert run(code).returncode == 0
    done = run(code, VISIONTOKENS_REQUIRE_EXTENSIONS="1")
    assert done.returncode != 0 and "import of visiontokens._tokens_c" in done.stderr  # ModuleNotFoundError


def test_import_is_light():
    # Gateways import us on their hot path: no numpy, no JSON tables until first use.
    done = run("import sys, visiontokens; print('numpy' in sys.modules, 'json' in sys.modules)")
    assert done.stdout.split() == ["False", "False"]
