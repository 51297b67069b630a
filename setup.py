"""Builds the compiled twins; all metadata is in pyproject.toml.

What to build follows the same switch as what to import: ``src/visiontokens/_extensions.py``
(loaded here by path) pairs every compiled module with its pure twin and reads
VISIONTOKENS_NO_EXTENSIONS. Flags stay portable: nothing like -march=native goes into what
ships.
"""

import importlib.util
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
PACKAGE = HERE / "src" / "visiontokens"

spec = importlib.util.spec_from_file_location("_extensions", PACKAGE / "_extensions.py")
switch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(switch)

ext_modules = []
if switch.use_extensions():
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
            include_dirs=[numpy.get_include(), "src/visiontokens/calc"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=[str(p.relative_to(HERE)) for p in PACKAGE.rglob("*.pxd")]
            + [str(p.relative_to(HERE)) for p in PACKAGE.rglob("*.h")],
            extra_compile_args=["-O3"],
        )

    compiled = [name for names, _pure in switch.TWINS.values() for name in names]
    ext_modules = cythonize([extension(name) for name in compiled],
                            compiler_directives={"language_level": 3})

setup(ext_modules=ext_modules)
