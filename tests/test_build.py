"""setup.py's build_ext: flags per compiler, and the pure twins when compiling fails.

A one-function C extension is built with the real ``OptionalBuildExt`` in a temporary folder:
with a compiler that fails (``CC=false``) the build keeps no compiled module, leaves the note
the package reads, and warns with the reason and the cost; with VISIONTOKENS_REQUIRE_EXTENSIONS
it fails; with the machine's compiler it builds, with the flags of that compiler's type.
(The whole ``CC=false pip install .`` in a fresh venv is a CI step: ``.ci/run``.)
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "setup.py"
if not SETUP.exists():  # the wheel's tests run from copies without the build files
    pytest.skip("setup.py is not next to these tests (a run against an installed wheel)",
                allow_module_level=True)
pytest.importorskip("setuptools", reason="setuptools builds the extension")

SOURCE = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static struct PyModuleDef probe = {PyModuleDef_HEAD_INIT, "probe", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_probe(void) { return PyModule_Create(&probe); }
"""


@pytest.fixture(scope="module")
def setup_module_():
    spec = importlib.util.spec_from_file_location("visiontokens_setup", SETUP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: defines, does not call setup()
    return module


def build(setup_module_, tmp_path):
    from setuptools import Distribution, Extension

    source = tmp_path / "probe.c"
    source.write_text(SOURCE)
    dist = Distribution({"name": "probe", "ext_modules": [Extension("visiontokens.probe", [str(source)])]})
    command = setup_module_.OptionalBuildExt(dist)
    command.build_lib = str(tmp_path / "lib")
    command.build_temp = str(tmp_path / "temp")
    command.ensure_finalized()
    note = tmp_path / "lib" / "visiontokens" / setup_module_.NOTE
    return command, note


def test_optimisation_flags_per_compiler_type(setup_module_):
    assert setup_module_.compile_args("msvc") == ["/O2"]  # MSVC rejects -O3
    for kind in ("unix", "mingw32", "cygwin"):
        assert setup_module_.compile_args(kind) == ["-O3"]


def test_a_failing_compiler_installs_the_pure_twins_with_a_warning(setup_module_, tmp_path,
                                                                   monkeypatch, capfd):
    monkeypatch.setenv("CC", "false")
    monkeypatch.setenv("LDSHARED", "false")
    monkeypatch.delenv("VISIONTOKENS_REQUIRE_EXTENSIONS", raising=False)
    command, note = build(setup_module_, tmp_path)
    (tmp_path / "lib" / "visiontokens").mkdir(parents=True)
    command.run()
    assert command.extensions == [] and command.get_outputs() == []
    assert not list((tmp_path / "lib").rglob("probe*"))  # nothing compiled is kept
    err = capfd.readouterr().err
    assert "pure-Python" in err and "30-100x slower" in err and setup_module_.DOCS in err
    assert "VISIONTOKENS_REQUIRE_EXTENSIONS=1" in err
    assert "CompileError" in command.failure and "false" in command.failure  # why: the compiler
    assert note.read_text().strip() == command.failure.strip()


def test_required_extensions_make_the_failure_an_error(setup_module_, tmp_path, monkeypatch):
    from setuptools.errors import CCompilerError

    monkeypatch.setenv("CC", "false")
    monkeypatch.setenv("LDSHARED", "false")
    monkeypatch.setenv("VISIONTOKENS_REQUIRE_EXTENSIONS", "1")
    command, note = build(setup_module_, tmp_path)
    with pytest.raises(CCompilerError):
        command.run()
    assert not note.exists()


@pytest.mark.skipif(shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC")
                                 else "cc") is None or sys.platform == "win32",
                    reason="needs the C compiler Python was built with")
def test_a_working_compiler_builds_with_its_flags_and_clears_a_stale_note(setup_module_, tmp_path,
                                                                          monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("LDSHARED", raising=False)
    command, note = build(setup_module_, tmp_path)
    note.parent.mkdir(parents=True)
    note.write_text("an earlier build failed\n")
    command.run()
    assert command.failure is None and not note.exists()
    built = Path(command.get_ext_fullpath("visiontokens.probe"))
    assert built.exists()
    assert command.extensions[0].extra_compile_args[:1] == ["-O3"]
