"""The Cython core and the pure-Python reference agree: results and errors alike."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from implementations import load_impl
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import any_detail, any_model, any_side, details, model_in_ruleset, sides

import visiontokens
from visiontokens import VisionTokensError

core = load_impl("cython")
reference = load_impl("python")


def outcome(fn, *args, **kwargs):
    """What a call did: its value, or its error's type and message."""
    try:
        return ("value", fn(*args, **kwargs))
    except VisionTokensError as error:
        return ("error", type(error), str(error))


@given(sides, sides, model_in_ruleset, details)
@example(1800, 2400, ("gpt-4.1-mini", "2026-04"), "high")
@example(2048, 2048, ("gpt-5.4", "2026-09"), "high")
@example(65535, 1, ("gpt-6-astra", "2026-09"), "original")
@example(1, 65535, ("gpt-6-astra", "2026-09"), "high")
@example(2**31 - 1, 2**31 - 1, ("gpt-4o", "2026-09"), "high")
def test_scalar_agrees(w, h, model_ruleset, detail):
    model, ruleset = model_ruleset
    args = (w, h, model, detail)
    assert outcome(core.count_image_tokens, *args, ruleset=ruleset) == outcome(
        reference.count_image_tokens, *args, ruleset=ruleset)
    assert outcome(core.explain_image_tokens, *args, ruleset=ruleset) == outcome(
        reference.explain_image_tokens, *args, ruleset=ruleset)


@given(any_side, any_side, any_model, any_detail, st.sampled_from([None, "2026-04", "2025-01", 7]),
       st.sampled_from([None, "low", "high", "HIGH", 1]))
def test_scalar_agrees_on_anything(w, h, model, detail, ruleset, fidelity):
    for fn in ("count_image_tokens", "explain_image_tokens"):
        assert outcome(getattr(core, fn), w, h, model, detail, ruleset=ruleset,
                       input_fidelity=fidelity) == outcome(
            getattr(reference, fn), w, h, model, detail, ruleset=ruleset, input_fidelity=fidelity)


@given(sides, sides, model_in_ruleset, details)
def test_resolved_model_agrees(w, h, model_ruleset, detail):
    model, ruleset = model_ruleset
    fast, slow = core.get_model(model, ruleset=ruleset), reference.get_model(model, ruleset=ruleset)
    assert outcome(fast.count, w, h, detail) == outcome(slow.count, w, h, detail)
    assert outcome(fast.count, w, h, detail) == outcome(core.count_image_tokens, w, h, model, detail,
                                                        ruleset=ruleset)


sizes_column = st.lists(st.one_of(sides, st.sampled_from([0, -5, 2**31, 2**40])), max_size=40)


@given(st.data(), model_in_ruleset, st.sampled_from(["raise", "mask"]))
def test_batch_agrees(data, model_ruleset, on_error):
    model, ruleset = model_ruleset
    widths = data.draw(sizes_column)
    heights = data.draw(st.lists(sides, min_size=len(widths), max_size=len(widths)))
    per_row = data.draw(st.booleans())
    if per_row:
        model = data.draw(st.lists(any_model, min_size=len(widths), max_size=len(widths)))
        detail = data.draw(st.lists(any_detail, min_size=len(widths), max_size=len(widths)))
    else:
        detail = data.draw(details)
    fast = outcome(core.count_image_tokens_batch, widths, heights, model, detail,
                   ruleset=ruleset, on_error=on_error)
    slow = outcome(reference.count_image_tokens_batch, widths, heights, model, detail,
                   ruleset=ruleset, on_error=on_error)
    assert _comparable(fast) == _comparable(slow)
    if fast[0] == "value" and on_error == "raise":  # and row by row, equal to the scalar
        for i, tokens in enumerate(fast[1]):
            assert tokens == core.count_image_tokens(
                widths[i], heights[i], model[i] if per_row else model,
                detail[i] if per_row else detail, ruleset=ruleset)


# Per-row models over more rows than one step of the compiled loop's dealing (32 rows with
# AVX-512, a block is 1,024): the pairs a block's rows are dealt into, with the AVX-512 passes,
# with the one-pass loop, and the pure twin, all alike. Valid models of every scheme, pairs
# that raise, sizes out of range; about the 12 pairs past which the passes give way.
DEALT_MODELS = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "o3", "gpt-6-astra", "gpt-5-mini",
                "claude-sonnet-4-5", "gemini-2.5-flash", "nope"]
DEALT_DETAILS = ["auto", "low", "high", "original"]


@given(st.integers(0, 1100), st.integers(1, len(DEALT_MODELS)), st.integers(1, 4),
       st.integers(0, 2**32 - 1), st.booleans())
@example(1100, 9, 4, 0, False)  # 36 pairs: the one-pass loop on every processor
@example(1056, 3, 4, 1, False)  # 12 pairs, a whole step past the block
@example(1056, 7, 2, 3, False)  # 14 pairs: the one pass
@example(64, 1, 1, 2, True)     # one pair: the plain loop
def test_dealt_rows_agree(rows, models, details, seed, run):
    rng = np.random.default_rng(seed)
    model = np.array(DEALT_MODELS[:models])[rng.integers(0, models, rows)]
    detail = np.array(DEALT_DETAILS[:details])[rng.integers(0, details, rows)]
    if run and rows > 40:  # a run of one pair: a bucket that is a whole step
        model[8:40], detail[8:40] = model[8], detail[8]
    widths = rng.integers(-2, 9000, rows)
    heights = rng.integers(1, 5000, rows).astype(np.int32)
    args = (widths, heights, model, detail)
    batch = sys.modules["visiontokens.calc._batch_c"]
    wide = outcome(core.count_image_tokens_batch, *args, on_error="mask")
    batch._set_wide_deal(False)
    try:
        narrow = outcome(core.count_image_tokens_batch, *args, on_error="mask")
    finally:
        batch._set_wide_deal(True)
    slow = outcome(reference.count_image_tokens_batch, *args, on_error="mask")
    assert _comparable(wide) == _comparable(narrow) == _comparable(slow)


def test_the_wide_dealing_is_on_where_the_processor_has_it():
    """Where the processor has AVX-512 VBMI2 (GCC or Clang on x86-64), the per-row-model batch
    deals its rows with it; turned off for a test, it comes back."""
    batch = sys.modules["visiontokens.calc._batch_c"]
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.exists() else set()
    has = {"avx512f", "avx512bw", "avx512_vbmi2"} <= flags
    assert batch._set_wide_deal(True) == has or not flags
    assert batch._set_wide_deal(False) is False
    assert batch._set_wide_deal(True) == has or not flags


def _comparable(result):
    if result[0] == "error":
        return result
    value = result[1]
    if isinstance(value, tuple):
        return ("value", value[0].tolist(), value[1].tolist(), value[0].dtype, value[1].dtype)
    return ("value", value.tolist(), value.dtype)


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "gpt-4o", "gpt-5.4", "gpt-6-astra"])
@pytest.mark.parametrize("detail", ["low", "high", "auto"])
def test_batch_of_random_sizes_equals_scalar(model, detail):
    rng = np.random.default_rng(12345)
    # half inside the vectorised tile loop's range (sides <= 8191), half beyond it
    widths = np.concatenate([rng.integers(1, 8200, 1000), rng.integers(1, 70000, 1000)])
    heights = np.concatenate([rng.integers(1, 8200, 1000), rng.integers(1, 70000, 1000)])
    tokens, rejected = core.count_image_tokens_batch(widths, heights, model, detail, on_error="mask")
    for w, h, t, r in zip(widths.tolist(), heights.tolist(), tokens.tolist(), rejected.tolist()):
        expected = outcome(reference.count_image_tokens, w, h, model, detail)
        assert expected == (("error", *expected[1:]) if r else ("value", t))


@given(st.integers(1, 2048), st.integers(0, 10**4), st.integers(0, 10**4), st.data())
def test_tile_batch_agrees_for_any_tile_parameters(short_side, base, per_tile, data):
    """The vectorised tile loop (_tile_lanes.h) for every short side a model may register."""
    widths = data.draw(st.lists(sides, min_size=1, max_size=40))
    heights = data.draw(st.lists(sides, min_size=len(widths), max_size=len(widths)))
    visiontokens.register_model("tiles-under-test", scheme="tile", base=base, per_tile=per_tile,
                                short_side=short_side)
    try:
        tokens, rejected = core.count_image_tokens_batch(widths, heights, "tiles-under-test",
                                                         "high", on_error="mask")
        for w, h, t, r in zip(widths, heights, tokens.tolist(), rejected.tolist()):
            expected = outcome(reference.count_image_tokens, w, h, "tiles-under-test", "high")
            assert expected == (("error", *expected[1:]) if r else ("value", t))
    finally:
        visiontokens.unregister_model("tiles-under-test")


def test_tile_batch_equals_scalar_on_a_dense_sample():
    """A million sizes where the tile rules change most (both sides 1..8191): the vectorised
    loop against the scalar kernel, which the tests above hold to the reference."""
    rng = np.random.default_rng(7)
    widths, heights = rng.integers(1, 8192, 10**6), rng.integers(1, 8192, 10**6)
    tokens = core.count_image_tokens_batch(widths, heights, "gpt-4o", "high")
    model = core.get_model("gpt-4o")
    mismatches = [(w, h) for w, h, t in zip(widths.tolist(), heights.tolist(), tokens.tolist())
                  if t != model.count(w, h, "high")]
    assert mismatches == []
