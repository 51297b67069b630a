"""The numbers of the specification (``shared/spec.md``), each once, with its section.

Both twins and every shared module read them from here; the compiled kernels read the same
values from ``calc/_spec.pxd``, which ``tests/test_spec_constants.py`` holds equal to this file.
Per-model numbers (caps, budgets, multipliers, base and per-tile tokens) are not here: they
are data, in ``rules/data/<provider>/*.json`` (spec 1).
"""

from __future__ import annotations

PATCH = 32  # spec 3.1 step 2: patch side, px
TILE = 512  # spec 3.2 step 3: tile side, px
TILE_FIT = 2048  # spec 3.2 step 1: tile models first fit into 2048 x 2048
TILE_SHORT_SIDE = 768  # spec 3.2 step 2: then the shortest side goes down to 768 (S)
LEVELS = ("low", "high", "original")  # spec 2: detail levels; "auto" is an alias, per model

#: Largest width or height accepted: every intermediate product of the kernels stays inside
#: int64 for sizes up to 2**31 - 1 (style guide, "Integers, not floats").
MAX_DIMENSION = 2**31 - 1
#: Largest size cap a model may register: capped sides <= 65535 keep products in int64.
MAX_CAP = 65535
MAX_BUDGET = 2**31 - 1  # largest patch budget a model may register
MAX_TOKENS_PARAM = 10**9  # largest base or per-tile tokens a model may register
MAX_MULTIPLIER = 1000  # largest patch multiplier a model may register (spec 2: <= 4 places)

MAX_IMAGES = 1500  # spec 5: images per request
#: spec 5: 512 MB of image payload per request, read as 512 * 2**20 bytes: of the two
#: readings, the one that never refuses what the API takes.
MAX_PAYLOAD = 512 * 2**20

