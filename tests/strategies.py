"""Hypothesis strategies shared by the tests."""

from __future__ import annotations

from hypothesis import strategies as st

import visiontokens
from visiontokens._errors import MAX_DIMENSION

# Where the rules change: patch and tile edges, the caps and fit boxes, the documented maximum.
BOUNDARIES = sorted({
    b + d
    for b in (32, 64, 512, 768, 1024, 1536, 2048, 4096, 6000, 8192, 65535, 65536, MAX_DIMENSION)
    for d in (-1, 0, 1)
} | {1, 2, 3})

sides = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(1, 4096),
    st.integers(1, 70000),
    st.integers(1, MAX_DIMENSION),
)

# Also what must be refused: zero, negatives, too large, floats, bools, strings, None.
any_side = st.one_of(
    sides,
    sides,
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, MAX_DIMENSION + 1, 2**63, 2**64]),
    st.floats(allow_nan=True),
    st.booleans(),
    st.sampled_from(["1024", None, 1024.0, b"12"]),
)

RULESETS = visiontokens.rulesets()
model_in_ruleset = st.sampled_from(RULESETS).flatmap(
    lambda rs: st.tuples(st.sampled_from([m.id for m in visiontokens.models(rs)]), st.just(rs))
)
details = st.sampled_from(["low", "high", "original", "auto", None])
any_detail = st.one_of(details, st.sampled_from(["HIGH", "Auto", "", "medium", 3]))
any_model = st.one_of(
    st.sampled_from([m.id for rs in RULESETS for m in visiontokens.models(rs)]),
    st.sampled_from(["gpt-4o-2024-08-06", "gpt-4.1-mini-2025-04-14", "gpt-4o-mini-x",
                     "gpt-image-1.5", "GPT-4O", "nope", 42]),
)
