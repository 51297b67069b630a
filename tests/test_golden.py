"""The golden vectors the guide states (spec 7), for both rulesets and implementations."""

from __future__ import annotations

from fractions import Fraction
import math

import pytest

import visiontokens

BOTH = ("2026-09", "2026-04")

# (ruleset, model, detail, w, h, resized, units, tokens)
STATED = [
    *[(rs, "gpt-4o", "high", 1024, 1024, (768, 768), 4, 765) for rs in BOTH],
    *[(rs, "gpt-4o", "high", 2048, 4096, (768, 1536), 6, 1105) for rs in BOTH],
    ("2026-09", "gpt-5.4", "high", 1024, 1024, (1024, 1024), 1024, 1229),
    ("2026-09", "gpt-5.4", "high", 2048, 2048, (1600, 1600), 2500, 3000),
    ("2026-09", "gpt-6-astra", "high", 4096, 512, (4096, 512), 2048, 2458),
]


@pytest.mark.parametrize("ruleset, model, detail, w, h, resized, units, tokens", STATED)
def test_stated_vectors(impl, ruleset, model, detail, w, h, resized, units, tokens):
    cost = impl.explain_image_tokens(w, h, model, detail, ruleset=ruleset)
    assert cost.tokens == tokens
    assert (cost.resized_width, cost.resized_height) == resized
    assert (cost.patches if cost.scheme == "patch" else cost.tiles) == units
    assert impl.count_image_tokens(w, h, model, detail, ruleset=ruleset) == tokens


@pytest.mark.parametrize("ruleset", BOTH)
def test_low_detail_tile_costs_the_base_whatever_the_size(impl, ruleset):
    assert impl.count_image_tokens(4096, 8192, "gpt-4o", "low", ruleset=ruleset) == 85


BUDGET_1536 = [m.id for m in visiontokens.models("2026-04") if m.scheme == "patch"
               and m.params["high"].budget == 1536]


@pytest.mark.parametrize("model", BUDGET_1536)
@pytest.mark.parametrize("w, h, resized, patches", [
    (1024, 1024, (1024, 1024), 1024),
    (1800, 2400, (1056, 1408), 1452),
])
def test_budget_1536_vectors_2026_04(impl, model, w, h, resized, patches):
    cost = impl.explain_image_tokens(w, h, model, "high", ruleset="2026-04")
    assert (cost.resized_width, cost.resized_height, cost.patches) == (*resized, patches)
    m = Fraction(cost.multiplier)
    assert cost.tokens == math.ceil(patches * m)


def test_budget_1536_group_is_the_whole_group():
    assert sorted(BUDGET_1536) == sorted([
        "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5-mini", "gpt-5-nano", "gpt-4.1-mini", "gpt-4.1-nano",
        "o4-mini", "gpt-5.2", "gpt-5.3-codex", "gpt-5-codex-mini", "gpt-5.1-codex-mini",
        "gpt-5.2-codex", "gpt-5.2-chat-latest"])


def test_shrink_factors_of_the_1800x2400_example():
    # The guide's intermediates: shrink_factor ~ 0.603, adjusted_shrink_factor ~ 0.586.
    budget, w, h = 1536, 1800, 2400
    shrink = math.sqrt(32 * 32 * budget / (w * h))
    adjusted = shrink * min(math.floor(w * shrink / 32) / (w * shrink / 32),
                            math.floor(h * shrink / 32) / (h * shrink / 32))
    # The guide prints three decimals (0.58667 as "0.586"): agree to within that precision.
    assert abs(shrink - 0.603) < 0.001 and abs(adjusted - 0.586) < 0.001
    cost = visiontokens.explain_image_tokens(w, h, "gpt-4.1-mini", ruleset="2026-04")
    assert cost.resized_width == math.floor(w * adjusted)
    assert cost.resized_height == math.floor(h * adjusted)


def test_float_multiplication_would_be_wrong_here(impl):
    # spec 3.1 step 5: 150 patches x 1.62 is 243 exactly; ceil(150 * 1.62) in doubles is 244.
    assert math.ceil(150 * 1.62) == 244
    w, h = 32 * 15, 32 * 10
    assert impl.count_image_tokens(w, h, "gpt-4.1-mini", "high") == 243
    # and 5 x 1.2 is 6, not 7 (6.000000000000001 in doubles)
    assert impl.count_image_tokens(32 * 5, 32, "gpt-5.4", "high") == 6
