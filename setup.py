"""Builds the compiled twins; all metadata is in pyproject.toml.

What to build follows the same switch as what to import: ``src/visiontokens/_extensions.py``
(loaded here by path) pairs every compiled module with its pure twin and reads
VISIONTOKENS_NO_EXTENSIONS. Flags stay portable: nothing like -march=native goes into what
ships, and each compiler gets its own spelling of "optimise" (MSVC rejects -O3).

No compiler is not a failed install: ``OptionalBuildExt`` catches the compile error, keeps no
compiled module, and the install carries the pure twins alone, with a warning that says why and
what it costs (the msgpack/aiohttp pattern). VISIONTOKENS_REQUIRE_EXTENSIONS=1 makes it fail.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

HERE = Path(__file__).parent
PACKAGE = HERE / "src" / "visiontokens"

_spec = importlib.util.spec_from_file_location("_extensions", PACKAGE / "_extensions.py")
switch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(switch)

#: Where the prerequisites and the pure fallback are described (a path in the repository).
DOCS = switch.DOCS
#: Written next to the package when the build fell back, so `visiontokens --version` can say why
#: after pip has hidden the build's output.
NOTE = switch.BUILD_NOTE
#: Per compiler type (distutils' names); anything unlisted speaks GCC's dialect.
OPTIMISE = {"msvc": ["/O2"]}
GCC_LIKE = ["-O3"]


def compile_args(compiler_type: str) -> list[str]:
    """The optimisation flags for a compiler type ("unix", "msvc", "mingw32", ...)."""
    return OPTIMISE.get(compiler_type, GCC_LIKE)


def shorten(output: str, error: BaseException, lines: int = 6, width: int = 200) -> str:
    """The last few lines of what the compiler said that look like errors, then the error
    itself, with the compiler's whole command line cut to the compiler's name."""
    said = [line.rstrip() for line in output.splitlines() if line.strip()]
    errors = [line for line in said if "error" in line.lower()] or said
    message = str(error)
    command = re.match(r"[Cc]ommand '\[?'?([^',\]]+).*?(returned non-zero exit status \d+|failed.*)",
                       message, re.DOTALL)
    if command:  # "Command '['gcc', '-O3', ... 40 flags ...]' returned non-zero exit status 1."
        message = f"the compiler {command[1]!r} {command[2].rstrip('.')}"
    cut = [line if len(line) <= width else line[: width - 3] + "..." for line in errors[-lines:]]
    return "\n".join([*cut, f"{type(error).__name__}: {message}"])


def warning(reason: str) -> str:
    indented = "\n".join("    " + line for line in reason.splitlines())
    return (
        "\n" + "=" * 78 + "\n"
        "WARNING: visiontokens' compiled core could not be built; installing the pure-Python\n"
        "twin instead. It gives the same answers and raises the same errors, but it is\n"
        "about 30-100x slower on the hot paths (batches and columns, image headers, request\n"
        "walks). Why the build failed:\n"
        f"{indented}\n"
        "To get the compiled core, install a C compiler and Python's development headers,\n"
        f"then reinstall (see {DOCS}). To make this an error instead, set\n"
        "VISIONTOKENS_REQUIRE_EXTENSIONS=1.\n" + "=" * 78 + "\n"
    )


class OptionalBuildExt(build_ext):
    """build_ext with flags per compiler, and the pure twins when compiling fails."""

    #: set when the build fell back: the shortened reason (tests read it)
    failure: str | None = None

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:  # the modules are independent: one compiler per core
            self.parallel = os.cpu_count() or 1

    def build_extensions(self) -> None:
        flags = compile_args(self.compiler.compiler_type)
        for ext in self.extensions:
            ext.extra_compile_args = [*flags, *ext.extra_compile_args]
        with tempfile.TemporaryFile() as log:
            # pip shows a build's output only when it fails; what the compiler said is kept
            # (and passed on unchanged) so the warning can quote its last error lines
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(log.fileno(), 2)
            try:
                super().build_extensions()
                error = None
            except (CCompilerError, ExecError, PlatformError, OSError) as failed:
                error = failed
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                log.seek(0)
                output = log.read().decode(errors="replace")
            sys.stderr.write(output)
        note = self._note_path()
        if error is None:
            note.unlink(missing_ok=True)  # a stale note from an earlier failed build
            return
        if switch.flag("VISIONTOKENS_REQUIRE_EXTENSIONS"):
            raise error
        self.failure = shorten(output, error)
        for ext in self.extensions:  # all or nothing: no half-compiled install
            Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
        self.extensions = []  # nothing to copy in place, nothing to list as an output
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(self.failure + "\n", encoding="utf-8")
        sys.stderr.write(warning(self.failure))

    def _note_path(self) -> Path:
        root = Path(self.get_finalized_command("build_py").get_package_dir("visiontokens")) \
            if self.inplace else Path(self.build_lib) / "visiontokens"
        return root / NOTE


def extensions() -> list:
    if not switch.use_extensions():
        return []
    import numpy
    from Cython.Build import cythonize
    from setuptools import Extension

    def extension(name: str) -> Extension:
        # name is dotted under the package ("calc._tokens_c"). requests._request_c has no
        # .pyx: it is requests/_request_py.py compiled as is, under its own name, so both
        # twins exist side by side in one install.
        path = "src/visiontokens/" + name.replace(".", "/")
        source = path.removesuffix("_c") + "_py.py" if name == "requests._request_c" else path + ".pyx"
        return Extension(
            f"visiontokens.{name}",
            [source],
            include_dirs=[numpy.get_include(), "src/visiontokens/calc", "src/visiontokens/images"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=[str(p.relative_to(HERE)) for p in PACKAGE.rglob("*.pxd")]
            + [str(p.relative_to(HERE)) for p in PACKAGE.rglob("*.h")],
        )

    compiled = [name for names, _pure in switch.TWINS.values() for name in names]
    return cythonize([extension(name) for name in compiled],
                     compiler_directives={"language_level": 3})


if __name__ == "__main__":  # setuptools' build backend runs this file as __main__
    setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
