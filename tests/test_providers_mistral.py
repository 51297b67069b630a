"""Mistral (shared/providers.md §3): the worked examples, the twins, and mistral-common itself."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from extras import needs
from implementations import load_impl

import visiontokens

core = load_impl("cython")
reference = load_impl("python")

# providers 3.5, every row produced by mistral-common: (model, w, h, resized, grid, tokens)
EXAMPLES = [
    ("pixtral-12b-2409", 1024, 1024, (1024, 1024), (64, 64), 4160),
    ("pixtral-12b-2409", 512, 512, (512, 512), (32, 32), 1056),
    ("pixtral-12b-2409", 1920, 1080, (1024, 576), (64, 36), 2340),
    ("pixtral-12b-2409", 3000, 4000, (768, 1024), (48, 64), 3136),
    ("pixtral-12b-2409", 100, 30, (100, 30), (7, 2), 16),
    ("pixtral-large-2411", 2048, 1024, (1024, 512), (64, 32), 2080),
    ("mistral-small-2503", 1540, 1540, (1540, 1540), (55, 55), 3080),
    ("mistral-small-2503", 1920, 1080, (1540, 866), (55, 31), 1736),
    ("mistral-small-2503", 1024, 1024, (1024, 1024), (37, 37), 1406),
    ("mistral-small-2503", 3000, 4000, (1155, 1540), (42, 55), 2365),
    ("mistral-small-2503", 1, 1, (1, 1), (1, 1), 2),
]


@pytest.mark.parametrize("model, w, h, resized, grid, tokens", EXAMPLES)
def test_worked_examples(impl, model, w, h, resized, grid, tokens):
    cost = impl.explain_image_tokens(w, h, model)
    assert (cost.resized_width, cost.resized_height) == resized
    assert cost.grid == grid and cost.tokens == tokens == impl.count_image_tokens(w, h, model)
    assert (cost.provider, cost.exactness, cost.docs_as_of) == ("mistral", "exact", "2026-11")


@pytest.mark.parametrize("model", ["mistralai/Pixtral-12B-2409", "mistral/pixtral-12b-2409",
                                   "pixtral-12b-latest", "MISTRALAI/PIXTRAL-12B-2409"])
def test_id_forms(impl, model):
    assert impl.count_image_tokens(1920, 1080, model) == 2340


def test_maximum_tokens(impl):
    # providers 3.2: 64 x 65 for Pixtral v1, 55 x 56 for the 1540/14/2 models
    assert impl.get_model("pixtral-12b-2409").max_tokens() == 4160
    assert impl.get_model("pixtral-large-2411").max_tokens() == 4160
    assert impl.get_model("mistral-small-2503").max_tokens() == 3080


def test_ASSUMED_mistral_3_family_configs(impl):
    # providers 3.2: Small 3.2, Magistral 1.2, Devstral Small 2 share the Mistral-3 tower (ASSUMED)
    for model in ("mistral-small-2506", "magistral-small-2509", "magistral-medium-2509",
                  "devstral-small-2"):
        cost = impl.explain_image_tokens(1920, 1080, model)
        assert (cost.tokens, cost.exactness) == (1736, "assumed")


def test_EMPIRICAL_ministral_3_config(impl):
    cost = impl.explain_image_tokens(1920, 1080, "ministral-3-8b")
    assert (cost.tokens, cost.exactness) == (1736, "empirical")


def test_unknown_configs_are_undocumented(impl):
    # providers 3.2: Large 3 and Medium 3.x publish no image config
    with pytest.raises(visiontokens.UndocumentedModelError) as raised:
        impl.count_image_tokens(100, 100, "mistral-large-2512")
    assert raised.value.like == "mistral-small-2503"
    cost = impl.explain_image_tokens(100, 100, "mistral-large-2512", undocumented="assume")
    assert cost.exactness == "assumed" and cost.assumed_from == "mistral-small-2503"


def test_detail_does_not_apply(impl):
    with pytest.raises(visiontokens.DetailNotApplicableError):
        impl.count_image_tokens(100, 100, "pixtral-12b-2409", "high")


MODELS = ["pixtral-12b-2409", "mistral-small-2503"]


@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), st.sampled_from(MODELS))
@example(2**31 - 1, 1, "pixtral-12b-2409")
@example(1025, 1, "mistral-small-2503")
def test_twins_agree(w, h, model):
    assert core.explain_image_tokens(w, h, model) == reference.explain_image_tokens(w, h, model)


# --- mistral-common itself (providers 3.4) ------------------------------------------------------

CONFIGS = {"pixtral-12b-2409": (16, 1024, 1), "mistral-small-2503": (14, 1540, 2)}


@pytest.fixture(scope="module")
def encoders():
    image = pytest.importorskip(
        "mistral_common.tokens.tokenizers.image",
        reason="the vendor comparison needs mistral-common (the integration extra)")
    ids = image.SpecialImageIDs(img=10, img_break=12, img_end=13)
    return {model: image.ImageEncoder(image.ImageConfig(image_patch_size=patch,
                                                        max_image_size=size,
                                                        spatial_merge_size=merge), ids)
            for model, (patch, size, merge) in CONFIGS.items()}


class _Sized:
    """What ImageEncoder._image_to_num_tokens reads of an image: its size only."""

    def __init__(self, w, h):
        self.size = (w, h)


@needs("mistral_common")
@given(st.integers(1, 8000), st.integers(1, 8000), st.sampled_from(MODELS))
@example(1920, 1080, "mistral-small-2503")
@example(8000, 1, "pixtral-12b-2409")
@example(3000, 4000, "mistral-small-2503")
def test_agrees_with_mistral_common(encoders, w, h, model):
    cols, rows = encoders[model]._image_to_num_tokens(_Sized(w, h))
    # the encoder's token list: cols [IMG] and one [IMG_BREAK] per row, the last one [IMG_END]
    vendor_tokens = rows * (cols + 1)
    for impl in (core, reference):
        cost = impl.explain_image_tokens(w, h, model)
        assert cost.grid == (cols, rows) and cost.tokens == vendor_tokens


@needs("mistral_common")
def test_agrees_with_the_full_encoder(encoders, monkeypatch):
    pil = pytest.importorskip("PIL.Image")
    chunk = pytest.importorskip("mistral_common.protocol.instruct.chunk")
    image = pytest.importorskip("mistral_common.tokens.tokenizers.image")
    try:
        import cv2  # noqa: F401  (the pixel transform's)
    except ImportError:  # as providers 3.4 did: the pixels do not change the token list
        monkeypatch.setattr(image, "transform_image", lambda picture, size: None)
    for model in MODELS:
        for w, h in ((1, 1), (100, 30), (33, 17), (300, 1100), (2000, 999)):
            encoding = encoders[model](chunk.ImageChunk(image=pil.new("RGB", (w, h))))
            assert len(encoding.tokens) == core.count_image_tokens(w, h, model)
            assert encoding.tokens.count(12) + encoding.tokens.count(13) == \
                core.explain_image_tokens(w, h, model).grid[1]
