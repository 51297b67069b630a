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


#: What `import visiontokens` leaves for first use: the request walk and its walkers, the
#: image readers, the output calculator, the rules' classes and the result classes (the
#: dataclasses module with its inspect), and typing with the re and enum it imports.
DEFERRED = ("visiontokens.requests", "visiontokens.images", "visiontokens.calc._output",
            "visiontokens.calc.output_rules", "visiontokens.rules.specs",
            "visiontokens.rules.resolution", "visiontokens._results", "visiontokens.reconcile",
            "visiontokens.calibrate", "dataclasses", "inspect", "typing", "re", "enum")


def test_import_leaves_the_heavy_parts_for_first_use():
    # (the compiled calculator's import; the pure twin loads its rules as it imports)
    pytest.importorskip("visiontokens.calc._tokens_c")
    done = run(f"import sys, visiontokens; print(sorted(m for m in sys.modules if any("
               f"m == d or m.startswith(d + '.') or m.startswith(d + '_') for d in {DEFERRED!r})))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", ["compiled", "pure"])
def test_every_public_name_loads_on_first_use(kind):
    # dir() lists every public name before any is loaded; each resolves to what its home
    # module defines; help() renders them.
    code = ("import visiontokens as v, pydoc; names = dir(v); "
            "assert set(v.__all__) <= set(names), set(v.__all__) - set(names); "
            "from visiontokens.requests.pricing import SkippedPart; "
            "from visiontokens.rules.specs import ModelSpec; "
            "from visiontokens._results import ImageCost; "
            "from visiontokens.images.sources import ImageInfo; "
            "from visiontokens._extensions import twin; "
            "assert (v.SkippedPart, v.ModelSpec, v.ImageCost, v.ImageInfo) == "
            "(SkippedPart, ModelSpec, ImageCost, ImageInfo); "
            "assert v.count_request is twin('request').count_request; "
            "assert v.count_output_image_tokens is twin('output').count_output_image_tokens; "
            "assert v._request is twin('request') and v._output is twin('output'); "
            "assert all(getattr(v, n) is not None for n in v.__all__); "
            "text = pydoc.render_doc(v); "
            "assert all(n in text for n in ('count_request', 'SkippedPart', 'ModelSpec')); "
            "print(v.count_image_tokens(1024, 1024, 'gpt-4o', 'high'))")
    env = {"VISIONTOKENS_NO_EXTENSIONS": "1"} if kind == "pure" else {}
    done = run(code, **env)
    assert (done.returncode, done.stdout.strip()) == (0, "765"), done.stderr
    missing = run("import visiontokens; visiontokens.no_such_name")
    assert "module 'visiontokens' has no attribute 'no_such_name'" in missing.stderr
