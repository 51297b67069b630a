"""Builds the Cython core; all metadata is in pyproject.toml.

VISIONTOKENS_NO_EXTENSIONS=1 builds a pure-Python package (the reference implementation).
Flags stay portable: nothing like -march=native goes into what ships.
"""

import os

from setuptools import setup

ext_modules = []
if not os.environ.get("VISIONTOKENS_NO_EXTENSIONS"):
    from Cython.Build import cythonize
    from setuptools import Extension

    ext_modules = cythonize(
        [Extension("visiontokens._core", ["src/visiontokens/_core.pyx"], extra_compile_args=["-O3"])],
        compiler_directives={"language_level": 3},
    )

setup(ext_modules=ext_modules)
