"""The spec's numbers live once in _spec.py; the kernels' C mirror (_spec.pxd) must agree."""

from __future__ import annotations

import re
from pathlib import Path

from implementations import load_twin

from visiontokens import _spec


def test_the_pxd_mirror_holds_the_same_numbers():
    compiled = load_twin("tokens", "cython")
    assert compiled.SPEC_CONSTANTS == {name: getattr(_spec, name) for name in compiled.SPEC_CONSTANTS}


def test_every_number_of_the_pxd_is_checked():
    # A constant added to _spec.pxd but not exported for the check above would drift silently.
    pxd = (Path(_spec.__file__).parent / "calc" / "_spec.pxd").read_text()
    declared = set(re.findall(r"^\s+([A-Z_]+)\s*=", pxd, flags=re.M))
    compiled = load_twin("tokens", "cython")
    assert declared == set(compiled.SPEC_CONSTANTS)


def test_the_spec_numbers():
    # spec 3.1, 3.2, 5: a change here is a change of the specification.
    assert (_spec.PATCH, _spec.TILE, _spec.TILE_FIT, _spec.TILE_SHORT_SIDE) == (32, 512, 2048, 768)
    assert (_spec.MAX_IMAGES, _spec.MAX_PAYLOAD, _spec.MAX_DIMENSION) == (1500, 512 * 2**20, 2**31 - 1)
