"""Builds the Cython core; all metadata is in pyproject.toml.

VISIONTOKENS_NO_EXTENSIONS=1 builds a pure-Python package (the reference implementation).
Flags stay portable: nothing like -march=native goes into what ships.
"""

import os

from setuptools import setup

ext_modules = []
if not os.environ.get("VISIONTOKENS_NO_EXTENSIONS"):
    import numpy
    from Cython.Build import cythonize
    from setuptools import Extension

    def extension(name: str) -> Extension:
        return Extension(
            f"visiontokens.{name}",
            [f"src/visiontokens/{name}.pyx"],
            include_dirs=[numpy.get_include(), "src/visiontokens"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=["src/visiontokens/_kernels.pxd", "src/visiontokens/_tile_lanes.h"],
            extra_compile_args=["-O3"],
        )

    # _core: the scalar API; _core_batch: the batch API (needs numpy's C API, so _core
    # imports it on first use). Both inline the kernels of _kernels.pxd. _header: the
    # image-header parser.
    # _request: the request walk, plain Python compiled as is (the same file is the
    # pure-Python build's), which halves its interpreter overhead.
    request = Extension("visiontokens._request", ["src/visiontokens/_request.py"],
                        extra_compile_args=["-O3"])
    ext_modules = cythonize(
        [extension("_core"), extension("_core_batch"), extension("_header"), request],
        compiler_directives={"language_level": 3},
    )

setup(ext_modules=ext_modules)
