"""Gemini (shared/providers.md §2) and Amazon Nova 2 Lite (§5): the worked example, the
media-resolution levels, the exactness labels, id forms and the ASSUMED parts by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from implementations import load_impl

import visiontokens

core = load_impl("cython")
reference = load_impl("python")


def test_worked_example_960x540(impl):
    # providers 2.1 step 5: unit 360, 3 x 2 tiles of 258
    cost = impl.explain_image_tokens(960, 540, "gemini-2.5-flash")
    assert (cost.tokens, cost.tiles, cost.grid) == (1548, 6, (3, 2))
    assert (cost.provider, cost.detail, cost.docs_as_of) == ("google", "high", "2026-11")


def test_ASSUMED_gemini_2_tiles_are_labelled_assumed(impl):
    for model in ("gemini-2.5-flash", "gemini-2.0-flash", "gemini-2.5-pro"):
        assert impl.explain_image_tokens(960, 540, model).exactness == "assumed"
    # Gemini 1.5: the clamp is documented, the ceil per side is not (ASSUMED)
    assert impl.explain_image_tokens(960, 540, "gemini-1.5-pro").exactness == "assumed"


def test_ASSUMED_crop_unit_clamp_256_to_768_for_2x(impl):
    # 5000 x 5000: floor(5000 / 1.5) = 3333 -> 768, ceil(5000 / 768)^2 = 49 tiles
    assert impl.count_image_tokens(5000, 5000, "gemini-2.5-flash") == 49 * 258
    # 300 x 1000: floor(300 / 1.5) = 200 -> 256, ceil(300/256) x ceil(1000/256) = 2 x 4
    assert impl.explain_image_tokens(300, 1000, "gemini-2.0-flash").grid == (2, 4)


def test_ASSUMED_ceil_per_side(impl):
    # 1000 x 600: unit 400, ceil(1000/400) x ceil(600/400) = 3 x 2 (floor would give 2 x 1)
    assert impl.explain_image_tokens(1000, 600, "gemini-2.5-flash").grid == (3, 2)


def test_small_images_cost_258(impl):
    for w, h in ((1, 1), (384, 384), (384, 1), (200, 384)):
        cost = impl.explain_image_tokens(w, h, "gemini-2.5-flash")
        assert cost.tokens == 258 and cost.tiles == 1


def test_gemini_1_0_is_a_flat_258(impl):
    for model in ("gemini-pro-vision", "gemini-1.0-pro-vision-001", "models/gemini-pro-vision"):
        cost = impl.explain_image_tokens(4000, 3000, model)
        assert (cost.tokens, cost.exactness) == (258, "exact")


GEMINI_3 = {"low": 280, "medium": 560, "high": 1120, "ultra_high": 2240}


@pytest.mark.parametrize("level, tokens", sorted(GEMINI_3.items()))
def test_gemini_3_levels_are_documented_maximums(impl, level, tokens):
    for detail in (level, f"MEDIA_RESOLUTION_{level.upper()}"):
        cost = impl.explain_image_tokens(1024, 1024, "gemini-3-pro", detail)
        assert (cost.tokens, cost.exactness, cost.detail) == (tokens, "documented_maximum", level)
    assert impl.get_model("gemini-3-pro").max_tokens(level) == tokens


def test_gemini_3_default_is_high(impl):
    for detail in (None, "auto", "MEDIA_RESOLUTION_UNSPECIFIED"):
        assert impl.count_image_tokens(64, 64, "gemini-3-pro", detail) == 1120


def test_gemini_2_5_media_resolution(impl):
    assert impl.count_image_tokens(4000, 3000, "gemini-2.5-flash", "low") == 64
    assert impl.count_image_tokens(4000, 3000, "gemini-2.5-flash", "MEDIA_RESOLUTION_MEDIUM") == 256
    cost = impl.explain_image_tokens(4000, 3000, "gemini-2.5-flash", "MEDIA_RESOLUTION_LOW")
    assert cost.exactness == "exact"
    assert impl.count_image_tokens(960, 540, "gemini-2.5-flash", "high") == 1548
    with pytest.raises(visiontokens.UnsupportedDetailError):  # ultra_high: Gemini 3 only
        impl.count_image_tokens(960, 540, "gemini-2.5-flash", "ultra_high")
    with pytest.raises(visiontokens.UnsupportedDetailError):
        impl.count_image_tokens(960, 540, "gemini-2.5-flash", "original")


def test_tiles_have_no_upper_bound(impl):
    with pytest.raises(visiontokens.NoUpperBoundError) as raised:
        impl.get_model("gemini-2.5-flash").max_tokens()
    assert raised.value.code == "no_upper_bound"
    assert impl.get_model("gemini-2.5-flash").max_tokens("low") == 64


@pytest.mark.parametrize("model, tokens", [
    ("models/gemini-2.5-flash", 1548), ("gemini/gemini-2.5-flash", 1548),
    ("vertex_ai/gemini-2.5-pro", 1548), ("gemini-2.5-flash-preview-09-2025", 1548),
    ("gemini-2.0-flash-001", 1548), ("gemini-2.5-flash-lite-preview-06-17", 1548),
    ("gemini-3-pro-preview", 1120), ("models/gemini-3.5-flash-lite", 1120),
    ("google/gemini-3-flash", 1120), ("gemini-1.5-flash-002", 1548)])
def test_id_forms(impl, model, tokens):
    assert impl.count_image_tokens(960, 540, model) == tokens


def test_unplaceable_gemini_ids_are_undocumented(impl):
    for model in ("gemini-exp-1206", "gemini-4-pro"):
        with pytest.raises(visiontokens.UndocumentedModelError) as raised:
            impl.count_image_tokens(960, 540, model)
        assert raised.value.like == "gemini-3-pro"
        cost = impl.explain_image_tokens(960, 540, model, undocumented="assume")
        assert (cost.tokens, cost.exactness) == (1120, "assumed")


def tiles_reference(w, h):
    """providers 2.1 as written, in floats where the docs divide by 1.5."""
    if w <= 384 and h <= 384:
        return 258
    unit = min(max(math.floor(min(w, h) / 1.5), 256), 768)
    return 258 * math.ceil(w / unit) * math.ceil(h / unit)


@given(st.integers(1, 8000), st.integers(1, 8000))
def test_tiles_agree_with_a_simple_reference(w, h):
    for impl in (core, reference):
        assert impl.count_image_tokens(w, h, "gemini-2.5-flash") == tiles_reference(w, h)


@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1),
       st.sampled_from(["gemini-2.5-flash", "gemini-1.5-pro", "gemini-3-pro"]),
       st.sampled_from([None, "low", "medium", "high", "ultra_high", "MEDIA_RESOLUTION_LOW", "x"]))
def test_twins_agree(w, h, model, detail):
    def run(impl):
        try:
            return impl.explain_image_tokens(w, h, model, detail)
        except visiontokens.VisionTokensError as error:
            return type(error), str(error)
    assert run(core) == run(reference)


def test_batch_with_levels_per_row(impl):
    tokens = impl.count_image_tokens_batch(
        np.array([960, 960, 960, 960]), np.array([540, 540, 540, 540]), "gemini-2.5-flash",
        ["high", "low", "MEDIA_RESOLUTION_MEDIUM", None])
    assert tokens.tolist() == [1548, 64, 256, 1548]


# --- Amazon Nova 2 Lite (providers 5) ------------------------------------------------------------

@pytest.mark.parametrize("model", ["amazon.nova-2-lite-v1:0", "us.amazon.nova-2-lite-v1:0",
                                   "global.amazon.nova-2-lite-v1:0", "bedrock/amazon.nova-2-lite-v1:0"])
def test_nova_2_lite_is_a_documented_flat_230(impl, model):
    for w, h in ((1, 1), (8000, 8000), (1920, 1080)):
        cost = impl.explain_image_tokens(w, h, model)
        assert (cost.tokens, cost.exactness, cost.provider) == (230, "exact", "amazon")
    assert impl.get_model(model).max_tokens() == 230
    with pytest.raises(visiontokens.DetailNotApplicableError):
        impl.count_image_tokens(1, 1, model, "low")


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.integers(1, 1024),
       st.integers(1, 1024))
def test_twins_agree_on_any_crop_unit_range(w, h, unit_min, unit_max):
    """The clamp is min(max(unit, unit_min), unit_max) in both kernels, also for a range the
    shipped data never has (unit_min > unit_max), as a calibrated rule could hold."""
    from dataclasses import replace
    from types import MappingProxyType

    spec = visiontokens.get_model("gemini-2.5-flash").spec
    params = MappingProxyType({level: replace(p, lo=unit_min, hi=unit_max)
                               for level, p in spec.params.items()})
    counts = [impl.Model(replace(spec, params=params)).count(w, h)
              for impl in (core, reference)]
    assert counts[0] == counts[1]
