"""Each ASSUMED item of the spec (section 8 and the tables), pinned by a test that names it.

If OpenAI's guide settles one of these differently, the test that fails names the spec item.
"""

from __future__ import annotations

import pytest

import visiontokens


def test_assumed_8_1_size_cap_rounds_half_up(impl):
    # gpt-5.5 low: cap 512, no budget. 1024 x 513 -> 512 x 256.5 -> 257 (half up), not 256.
    cost = impl.explain_image_tokens(1024, 513, "gpt-5.5", "low")
    assert (cost.resized_width, cost.resized_height) == (512, 257)
    # 1024 x 509 -> 254.5 -> 255 (half up); 1024 x 508 -> 254 exactly.
    cost = impl.explain_image_tokens(1024, 509, "gpt-5.5", "low")
    assert cost.resized_height == 255
    cost = impl.explain_image_tokens(1024, 508, "gpt-5.5", "low")
    assert cost.resized_height == 254


def test_assumed_8_1_tile_fit_rounds_half_up_too(impl):
    # 4096 x 2049 -> 2048 x 1024.5 -> 1025 at the 2048 fit, then 768 short side.
    cost = impl.explain_image_tokens(4096, 2049, "gpt-4o", "high")
    assert cost.resized_height == 768 and cost.resized_width == (2048 * 768) // 1025


def test_assumed_8_2_multiplier_rounds_up_in_2026_04(impl):
    # 1 patch x 1.62 = 1.62 -> 2 tokens, not 1.
    assert impl.count_image_tokens(32, 32, "gpt-4.1-mini", "high", ruleset="2026-04") == 2
    assert impl.count_image_tokens(32, 32, "gpt-4.1-nano", "high", ruleset="2026-04") == 3


def test_assumed_8_3_original_is_an_error_where_unsupported(impl):
    with pytest.raises(visiontokens.UnsupportedDetailError, match="gpt-4.1-mini.*low, high, auto"):
        impl.count_image_tokens(100, 100, "gpt-4.1-mini", "original")
    with pytest.raises(visiontokens.UnsupportedDetailError, match="gpt-4o"):
        impl.count_image_tokens(100, 100, "gpt-4o", "original")


def test_assumed_8_4_square_means_width_equals_height_as_given(impl):
    base = impl.count_image_tokens(1024, 1024, "gpt-image-1", "high")
    assert impl.count_image_tokens(1024, 1024, "gpt-image-1", "high", input_fidelity="high") == base + 4160
    # 1024 x 1025 resizes to a square-ish 512 x 512 but is not square as given: 6240.
    other = impl.count_image_tokens(1024, 1025, "gpt-image-1", "high")
    assert impl.count_image_tokens(1024, 1025, "gpt-image-1", "high", input_fidelity="high") == other + 6240


def test_assumed_fidelity_extra_applies_at_low_detail_too(impl):
    assert impl.count_image_tokens(64, 64, "gpt-image-1", "low", input_fidelity="high") == 65 + 4160


def test_assumed_low_equals_high_for_deprecated_budget_1536_models(impl):
    for spec in visiontokens.models("2026-09"):
        if spec.status == "deprecated":
            assert spec.low_same_as_high_assumed
            assert spec.params["low"] == spec.params["high"].__class__(
                **{**spec.params["high"].__dict__, "level": "low"})
            assert impl.count_image_tokens(3000, 2000, spec.id, "low") == impl.count_image_tokens(
                3000, 2000, spec.id, "high")


def test_assumed_low_equals_high_for_budget_1536_group_2026_04(impl):
    flagged = [s for s in visiontokens.models("2026-04") if s.low_same_as_high_assumed]
    assert len(flagged) == 13
    for spec in flagged:
        assert impl.count_image_tokens(1800, 2400, spec.id, "low", ruleset="2026-04") == \
            impl.count_image_tokens(1800, 2400, spec.id, "high", ruleset="2026-04")


def test_assumed_shrink_keeps_at_least_one_pixel_a_side(impl):
    # Unreachable for documented models: a registered one with a tiny budget reaches it.
    visiontokens.register_model("tiny-budget", scheme="patch", multiplier="1",
                                details={"high": {"cap": 65535, "budget": 100}})
    try:
        cost = impl.explain_image_tokens(1, 65535, "tiny-budget", "high")
        assert (cost.resized_width, cost.resized_height, cost.patches) == (1, 1, 1)
    finally:
        visiontokens.unregister_model("tiny-budget")


def test_rejection_only_in_2026_09(impl):
    # spec 3.1 step 4: over 30,000 patches the API rejects the image (2026-09 only).
    with pytest.raises(visiontokens.ImageRejectedError) as caught:
        impl.count_image_tokens(8000, 8000, "gpt-6-astra", "original")
    assert caught.value.patches == 250 * 250 and caught.value.limit == 30000
    assert isinstance(caught.value, ValueError)
    # exactly 30,000 is fine; 30,001... : 32*200 x 32*150 = 30,000 patches
    assert impl.count_image_tokens(6400, 4800, "gpt-6-astra", "original") == 36000
    with pytest.raises(visiontokens.ImageRejectedError):
        impl.count_image_tokens(6401, 4800, "gpt-6-astra", "original")
    # gpt-5.5 original has a budget of 10,000 in both rulesets, so never reaches 30k
    assert impl.count_image_tokens(6000, 6000, "gpt-5.5", "original", ruleset="2026-04") == 10000
