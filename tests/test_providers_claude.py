"""Claude (shared/providers.md §1): the worked examples, an independent reference, the tier of
every id form, detail, bounds, and the batch and column paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from implementations import load_impl

import visiontokens
from visiontokens import UndocumentedModelError, VisionTokensError

core = load_impl("cython")
reference = load_impl("python")

HIGH, STANDARD = "claude-opus-4-8", "claude-sonnet-4-5"
TIERS = {"high": (2576, 4784), "standard": (1568, 1568)}  # providers 1.1 step 1


def outcome(fn, *args, **kwargs):
    try:
        return ("value", fn(*args, **kwargs))
    except VisionTokensError as error:
        return ("error", type(error), str(error))


# --- providers 1.5: the docs' table and the other examples ---------------------------------------

# (w, h, standard resized, standard tokens, high resized, high tokens); None = not resized
TABLE = [
    (200, 200, None, 64, None, 64),
    (1000, 1000, None, 1296, None, 1296),
    (1092, 1092, None, 1521, None, 1521),
    (1920, 1080, (1456, 819), 1560, None, 2691),
    # the tie case: the table prints 1269 x 952, the docs' reference code gives 1270 x 952
    # (952.5 rounds half to even); we follow the code (providers 1.5, open question 6.1)
    (2000, 1500, (1270, 952), 1564, None, 3888),
    (3840, 2160, (1456, 819), 1560, (2576, 1449), 4784),
    (1075, 1520, (924, 1307), 1551, None, 2145),  # the A4 page at 130 DPI (B)
]


@pytest.mark.parametrize("w, h, std_size, std_tokens, high_size, high_tokens", TABLE)
def test_worked_examples(impl, w, h, std_size, std_tokens, high_size, high_tokens):
    for model, size, tokens, tier in ((STANDARD, std_size, std_tokens, "standard"),
                                      (HIGH, high_size, high_tokens, "high")):
        cost = impl.explain_image_tokens(w, h, model)
        assert (cost.resized_width, cost.resized_height) == (size or (w, h))
        assert cost.tokens == tokens == impl.count_image_tokens(w, h, model)
        assert cost.patches == tokens and cost.grid[0] * cost.grid[1] == tokens
        assert (cost.provider, cost.tier, cost.exactness, cost.docs_as_of) == (
            "anthropic", tier, "exact", "2026-11")


def test_a4_page_pads_to_924_by_1316(impl):
    # providers 1.1 step 6: padding to the next 28 does not change the count
    cost = impl.explain_image_tokens(1075, 1520, STANDARD)
    assert cost.grid == (33, 47) and (33 * 28, 47 * 28) == (924, 1316)


def test_tie_rounds_half_to_even(impl):
    # providers 1.1 step 5: 2242 x 1235 -> 1475 x 812.5 -> 812 (the docs' stated example)
    cost = impl.explain_image_tokens(2242, 1235, STANDARD)
    assert (cost.resized_width, cost.resized_height) == (1475, 812)


# --- an independent reference: the docs' code, in floats, as they write it -----------------------

def docs_reference(w, h, max_edge, max_tokens):
    """providers 1.1 as the docs' Python computes it: floats, round(), bisection."""
    def tokens(x, y):
        return math.ceil(x / 28) * math.ceil(y / 28)

    def fits(x, y):
        return (math.ceil(x / 28) * 28 <= max_edge and math.ceil(y / 28) * 28 <= max_edge
                and tokens(x, y) <= max_tokens)

    if fits(w, h):
        return w, h, tokens(w, h)
    if h > w:
        y, x, t = docs_reference(h, w, max_edge, max_tokens)
        return x, y, t
    lo, hi = 1, w
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if fits(mid, max(round(mid / (w / h)), 1)):
            lo = mid
        else:
            hi = mid
    short = max(round(lo / (w / h)), 1)
    return lo, short, tokens(lo, short)


side = st.integers(1, 8000)


@given(side, side, st.sampled_from(sorted(TIERS)))
@example(2000, 1500, "standard")
@example(2242, 1235, "standard")
@example(8000, 1, "high")
@example(1, 8000, "standard")
def test_agrees_with_the_docs_code(w, h, tier):
    model = HIGH if tier == "high" else STANDARD
    expected = docs_reference(w, h, *TIERS[tier])
    for impl in (core, reference):
        cost = impl.explain_image_tokens(w, h, model)
        assert (cost.resized_width, cost.resized_height, cost.tokens) == expected


@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), st.sampled_from([HIGH, STANDARD]))
@example(2**31 - 1, 2**31 - 1, HIGH)
@example(2**31 - 1, 1, STANDARD)
def test_twins_agree_over_the_whole_range(w, h, model):
    assert outcome(core.explain_image_tokens, w, h, model) == outcome(
        reference.explain_image_tokens, w, h, model)
    cost = core.explain_image_tokens(w, h, model)
    edge, most = TIERS[cost.tier]
    assert cost.tokens <= most and max(cost.grid) * 28 <= edge


# --- the tier of every id form (providers 1.4) ---------------------------------------------------

HIGH_IDS = ["claude-opus-4-7", "us.anthropic.claude-opus-4-7", "global.anthropic.claude-opus-4-8",
            "claude-opus-4-7@20260101", "claude-sonnet-5", "claude-opus-5", "claude-opus-5-5",
            "claude-fable-5-2", "claude-mythos-5-1", "anthropic/claude-opus-4-8",
            "bedrock/us.anthropic.claude-opus-4-7-v1:0", "vertex_ai/claude-opus-4-7@20260101",
            "eu.anthropic.claude-sonnet-5-v1:0", "apac.anthropic.claude-opus-4-8-20260301-v1:0",
            "claude-opus-4.7", "claude-opus-6"]
STANDARD_IDS = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5-20251001",
                "anthropic.claude-haiku-4-5-20251001-v1:0", "claude-sonnet-4-5@20250929",
                "claude-opus-4-1@20250805", "claude-3-5-sonnet-20241022",
                "anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-opus@20240229",
                "claude-sonnet-4-5-20250929", "claude-3-7-sonnet-latest",
                "vertex_ai/claude-sonnet-4-5@20250929", "bedrock/anthropic.claude-3-haiku-20240307-v1:0"]


@pytest.mark.parametrize("model", HIGH_IDS)
def test_high_resolution_tier_ids(impl, model):
    cost = impl.explain_image_tokens(3840, 2160, model)
    assert (cost.tier, cost.tokens, cost.exactness) == ("high", 4784, "exact")
    assert impl.get_model(model).max_tokens() == 4784


@pytest.mark.parametrize("model", STANDARD_IDS)
def test_standard_tier_ids(impl, model):
    cost = impl.explain_image_tokens(3840, 2160, model)
    assert (cost.tier, cost.tokens, cost.exactness) == ("standard", 1560, "exact")
    assert impl.get_model(model).max_tokens() == 1568


def test_ASSUMED_haiku_5_5_is_high_resolution(impl):
    # providers 1.4: in the SDK list, not named in the tier table: "4.7 and later" (ASSUMED)
    cost = impl.explain_image_tokens(3840, 2160, "claude-haiku-5-5")
    assert (cost.tier, cost.tokens, cost.exactness) == ("high", 4784, "assumed")


def test_ASSUMED_mythos_preview_is_undocumented_and_standard(impl):
    # providers 1.4: no parsable version -> standard (ASSUMED), only by the caller's choice
    with pytest.raises(UndocumentedModelError) as raised:
        impl.count_image_tokens(3840, 2160, "claude-mythos-preview")
    assert raised.value.like == "claude-opus-4-6" and "Anthropic" in str(raised.value)
    cost = impl.explain_image_tokens(3840, 2160, "claude-mythos-preview", undocumented="assume")
    assert (cost.tier, cost.tokens, cost.exactness, cost.assumed_from) == (
        "standard", 1560, "assumed", "claude-opus-4-6")


def test_not_a_claude_pattern_stays_unknown(impl):
    for name in ("claude", "anthropic.titan", "claudette-1"):
        with pytest.raises(visiontokens.UnknownModelError) as raised:
            impl.count_image_tokens(10, 10, name)
        assert not isinstance(raised.value, UndocumentedModelError)


# --- detail, bounds, batch, columns -------------------------------------------------------------

@pytest.mark.parametrize("detail", ["low", "high", "original", "medium", "HIGH", 3])
def test_detail_does_not_apply(impl, detail):
    with pytest.raises(visiontokens.DetailNotApplicableError) as raised:
        impl.count_image_tokens(100, 100, HIGH, detail)
    assert raised.value.code == "detail_not_applicable" and "does not apply" in str(raised.value)
    assert isinstance(raised.value, visiontokens.UnsupportedDetailError)


def test_auto_and_none_are_accepted(impl):
    assert impl.count_image_tokens(100, 100, HIGH, None) == impl.count_image_tokens(
        100, 100, HIGH, "auto") == 16


@given(side, side)
def test_no_size_costs_more_than_the_bound(w, h):
    for model, most in ((HIGH, 4784), (STANDARD, 1568)):
        assert core.count_image_tokens(w, h, model) <= most


def test_batch_and_columns(impl):
    widths = np.array([1920, 2000, 3840, 200, 0])
    heights = np.array([1080, 1500, 2160, 200, 5])
    tokens, bad = impl.count_image_tokens_batch(widths, heights, STANDARD, on_error="mask")
    assert tokens.tolist() == [1560, 1564, 1560, 64, 0] and bad.tolist() == [0, 0, 0, 0, 1]
    models = [STANDARD, HIGH, "gpt-4o", HIGH, STANDARD]
    got = impl.count_image_tokens_batch(widths[:4], heights[:4], models[:4])
    assert got.tolist() == [1560, 3888, 1105, 64]  # gpt-4o high, 3840 x 2160: 768 x 1365
    with pytest.raises(visiontokens.DetailNotApplicableError):  # one model: not a row's error
        impl.count_image_tokens_batch(widths[:2], heights[:2], HIGH, "high")
    with pytest.raises(visiontokens.DetailNotApplicableError, match="row 1"):
        impl.count_image_tokens_batch(widths[:2], heights[:2], HIGH, ["auto", "high"])


def test_columns_take_provider_models(impl):
    pa = pytest.importorskip("pyarrow", reason="Arrow columns need pyarrow")
    widths = pa.chunked_array([[1920, None], [3840]])
    heights = pa.chunked_array([[1080, 5], [2160]])
    models = pa.chunked_array([["claude-sonnet-4-5", "claude-opus-4-8"], ["Qwen/Qwen2.5-VL-7B-Instruct"]])
    got = impl.count_image_tokens_batch(widths, heights, models)
    assert got.to_pylist() == [1560, None, 10551]
