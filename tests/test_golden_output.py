"""Output image tokens (spec 6.2): the spec's numbers, checked against both twins.

Every cell of the gpt-image-1 / gpt-image-1.5 table, every gpt-image-2 check value (the
EMPIRICAL rule), partial images and n, in both rulesets; "auto" (ASSUMED: the costliest
cell) checked against a brute-force search written here, independently of the twins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import visiontokens
from visiontokens import UndocumentedModelError, UnknownModelError

RULESETS = visiontokens.rulesets()
RULESET_DIR = Path(visiontokens.__file__).parent / "rules" / "data" / "openai"

# spec 6.2, the documented table: quality -> size -> output tokens per image
TABLE = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
TABLE_CELLS = [(q, s, t) for q, row in TABLE.items() for s, t in row.items()]

# spec 6.2, gpt-image-2 check values (EMPIRICAL): quality, size, tokens
GPT_IMAGE_2_CHECKS = [
    ("high", "1024x1024", 7024), ("high", "1536x1024", 5488), ("high", "3840x2160", 13342),
    ("high", "2048x2048", 14272), ("high", "1024x640", 3824), ("high", "3072x1024", 3952),
    ("low", "1024x1024", 196), ("low", "976x704", 129),
]
FACTORS = {"low": 16, "medium": 48, "high": 96}  # spec 6.2


@pytest.mark.parametrize("ruleset", RULESETS)
@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5"])
@pytest.mark.parametrize("quality,size,tokens", TABLE_CELLS)
def test_every_table_cell(output, model, quality, size, tokens, ruleset):
    assert output.count_output_image_tokens(model, size, quality, ruleset=ruleset) == tokens
    cost = output.explain_output_image_tokens(model, size, quality, ruleset=ruleset)
    assert (cost.tokens, cost.per_image_tokens, cost.priced_size, cost.priced_quality) == (
        tokens, tokens, size, quality)
    assert not cost.upper_bound and cost.why is None and not cost.empirical
    assert cost.model == model and cost.ruleset == ruleset


@pytest.mark.parametrize("quality,size,tokens", GPT_IMAGE_2_CHECKS)
def test_EMPIRICAL_gpt_image_2_check_values(output, quality, size, tokens):
    """spec 6.2: the community formula (EMPIRICAL) gives every check value of the spec."""
    cost = output.explain_output_image_tokens("gpt-image-2", size, quality)
    assert cost.tokens == tokens and cost.empirical and not cost.upper_bound
    # the same figure when the size is written as the other orientation's mirror image
    w, h = size.split("x")
    assert output.count_output_image_tokens("gpt-image-2", f"{h}x{w}", quality) == tokens


def test_EMPIRICAL_is_flagged_in_the_data():
    for ruleset in RULESETS:
        section = json.loads((RULESET_DIR / f"{ruleset}.json").read_text())["output_models"]
        rules = {tuple(m["ids"]): m for m in section["models"]}
        flexible = rules[("gpt-image-2",)]
        assert flexible["empirical"] is True and "14 readings" in flexible["evidence"]
        assert not rules[("gpt-image-1", "gpt-image-1.5")].get("empirical", False)


@pytest.mark.parametrize("n", [1, 2, 3, 10])
@pytest.mark.parametrize("partial_images", [0, 1, 2, 3])
@pytest.mark.parametrize("quality,size,tokens", TABLE_CELLS[::4] + GPT_IMAGE_2_CHECKS[::3])
def test_partial_images_and_n_ASSUMED_partials_per_image(output, n, partial_images, quality, size, tokens):
    """spec 6.2: each partial image adds 100 (documented); n images multiply. ASSUMED: the
    partial images are per image, so n multiplies them too."""
    model = "gpt-image-2" if (quality, size, tokens) in GPT_IMAGE_2_CHECKS else "gpt-image-1"
    cost = output.explain_output_image_tokens(model, size, quality, n=n,
                                              partial_images=partial_images)
    assert cost.tokens == n * (tokens + 100 * partial_images)
    assert (cost.per_image_tokens, cost.n, cost.partial_images, cost.partial_image_tokens) == (
        tokens, n, partial_images, 100)


# --- "auto": the costliest cell (ASSUMED, spec 6.2) -------------------------------------------

def brute_force_costliest(quality: str) -> tuple[int, str]:
    """Every multiple-of-16 size up to 3840 a side, checked against the spec's limits one by
    one and priced by the spec's integer form: the costliest (first on a tie)."""
    f = FACTORS[quality]
    best = (-1, "")
    for w in range(16, 3841, 16):
        for h in range(16, 3841, 16):
            long, short = max(w, h), min(w, h)
            if long > 3 * short or not 655_360 <= w * h <= 8_294_400:
                continue
            s = (2 * f * short + long) // (2 * long)
            tokens = -(-(f * s * (2_000_000 + w * h)) // 4_000_000)
            if tokens > best[0]:
                best = (tokens, f"{w}x{h}")
    return best


@pytest.fixture(scope="module")
def costliest():
    return {q: brute_force_costliest(q) for q in FACTORS}


def test_ASSUMED_auto_size_is_the_costliest_size(output, costliest):
    for quality, (tokens, size) in costliest.items():
        cost = output.explain_output_image_tokens("gpt-image-2", "auto", quality)
        assert (cost.tokens, cost.priced_size, cost.priced_quality) == (tokens, size, quality)
        assert cost.upper_bound and "size auto" in cost.why and "ASSUMED" in cost.why
        # the bound is attained: the witness size costs exactly the bound
        assert output.count_output_image_tokens("gpt-image-2", size, quality) == tokens
    both = output.explain_output_image_tokens("gpt-image-2")
    top = max(costliest.values())
    assert (both.tokens, both.priced_size, both.priced_quality) == (top[0], top[1], "high")
    assert "size auto" in both.why and "quality auto" in both.why


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5"])
def test_ASSUMED_auto_on_the_table_is_the_largest_cell_of_its_row_or_column(output, model):
    for quality, row in TABLE.items():
        cost = output.explain_output_image_tokens(model, "auto", quality)
        assert cost.tokens == max(row.values()) and cost.upper_bound
        assert TABLE[quality][cost.priced_size] == cost.tokens
    for size in TABLE["low"]:
        cost = output.explain_output_image_tokens(model, size, "auto")
        assert cost.tokens == max(TABLE[q][size] for q in TABLE) and cost.upper_bound
        assert "quality auto" in cost.why and "size auto" not in cost.why
    cost = output.explain_output_image_tokens(model)
    assert (cost.tokens, cost.priced_size, cost.priced_quality) == (6240, "1024x1536", "high")
    assert cost.size == cost.quality == "auto"


def test_ASSUMED_auto_with_a_given_size_on_gpt_image_2(output):
    for _, size, _ in GPT_IMAGE_2_CHECKS:
        cost = output.explain_output_image_tokens("gpt-image-2", size, "auto")
        high = output.count_output_image_tokens("gpt-image-2", size, "high")
        assert cost.tokens == high and cost.priced_quality == "high" and cost.upper_bound


def test_ASSUMED_the_same_output_rules_in_both_rulesets(output):
    """The spec gives one output table; it ships in every ruleset (ASSUMED for 2026-04, and
    flagged so in its data)."""
    older = json.loads((RULESET_DIR / "2026-04.json").read_text())["output_models"]
    assert older["same_as_2026_09_assumed"] is True
    cases = [("gpt-image-1", q, s, t) for q, s, t in TABLE_CELLS] + [
        ("gpt-image-2", q, s, t) for q, s, t in GPT_IMAGE_2_CHECKS]
    for model, quality, size, tokens in cases:
        for ruleset in RULESETS:
            assert output.count_output_image_tokens(model, size, quality, ruleset=ruleset) == tokens


# --- names (spec 3.5) ----------------------------------------------------------------------------

def test_dated_snapshots_resolve_to_their_family(output):
    assert output.count_output_image_tokens("gpt-image-2-2026-04-21", "1024x1024", "high") == 7024
    cost = output.explain_output_image_tokens("gpt-image-1.5-2025-12-16", "1024x1024", "low")
    assert (cost.tokens, cost.model) == (272, "gpt-image-1.5")


@pytest.mark.parametrize("name,like", [
    ("gpt-image-1-mini", "gpt-image-1"), ("gpt-image-2.5-sunburst", "gpt-image-2"),
    ("gpt-image-2.5-flare-2026-09-08", "gpt-image-2"), ("gpt-image-2.6-flare", "gpt-image-2"),
    ("gpt-image-2.5", "gpt-image-2"),
])
def test_undocumented_image_models(output, name, like):
    with pytest.raises(UndocumentedModelError) as caught:
        output.count_output_image_tokens(name, "1024x1024", "low")
    assert repr(like) in str(caught.value) and caught.value.suggestions == (like,)
    assert "unknown" not in str(caught.value)
    assumed = output.explain_output_image_tokens(name, "1024x1024", "low", undocumented="assume")
    documented = output.explain_output_image_tokens(like, "1024x1024", "low")
    assert assumed.tokens == documented.tokens and assumed.assumed_from == like
    assert documented.assumed_from is None


@pytest.mark.parametrize("name", ["gpt-4o", "dall-e-3", "gpt-image-3", "chatgpt-image-latest",
                                  "GPT-IMAGE-1", "gpt-image"])
def test_unknown_names_suggest_known_ones(output, name):
    with pytest.raises(UnknownModelError) as caught:
        output.count_output_image_tokens(name)
    assert not isinstance(caught.value, UndocumentedModelError)
    assert "gpt-image-1" in str(caught.value)


def test_the_public_names():
    assert visiontokens.count_output_image_tokens("gpt-image-1", "1024x1536", "high", n=2,
                                                  partial_images=2) == 2 * (6240 + 200)
    cost = visiontokens.explain_output_image_tokens("gpt-image-2", "1536x1024", "high")
    assert isinstance(cost, visiontokens.OutputImageCost) and cost.tokens == 5488
    with pytest.raises(AttributeError):
        cost.tokens = 1  # immutable
    assert cost.as_dict()["empirical"] is True
