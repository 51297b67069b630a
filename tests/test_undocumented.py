"""Model names newer than the tables (spec 3.5) and the 30,000-patch switch (spec 8.6).

Every calculator entry point takes ``undocumented`` and ``enforce_patch_limit``, in both twins;
the differential tests at the end hold the compiled twin to the pure one on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from implementations import load_impl
from strategies import any_detail, details, sides

import visiontokens
from visiontokens import (
    ArgumentTypeError,
    ImageRejectedError,
    InvalidArgumentError,
    UndocumentedModelError,
    UnknownModelError,
)

GPT6 = {"gpt-6-sol": "measured-auto-only", "gpt-6-luna": "measured-auto-only",
        "gpt-6.1-sol": "measured-auto-only", "gpt-6.1-terra": "none", "gpt-6.2-sol": "none"}
IMAGE_MODELS = ["gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2.5-pro",
                "gpt-image-2.6-mini"]
TABLE = Path(visiontokens.__file__).parent / "rules" / "data" / "openai" / "2026-09.json"


def test_gpt_5_6_is_an_alias_of_sol(impl):
    # spec 3.5: "gpt-5.6 is gpt-5.6-sol (OpenAI's model page)"
    assert impl.get_model("gpt-5.6").id == "gpt-5.6-sol"
    for w, h, detail in [(1024, 1024, "high"), (4096, 3000, "auto"), (800, 600, "low")]:
        assert (impl.count_image_tokens(w, h, "gpt-5.6", detail)
                == impl.count_image_tokens(w, h, "gpt-5.6-sol", detail))
    assert impl.explain_image_tokens(64, 64, "gpt-5.6").model == "gpt-5.6-sol"


@pytest.mark.parametrize("name", list(GPT6) + [f"{m}-2026-12-01" for m in GPT6] + IMAGE_MODELS)
def test_undocumented_names_the_closest_documented_model(name, impl):
    with pytest.raises(UndocumentedModelError) as caught:
        impl.count_image_tokens(1024, 1024, name)
    error = caught.value
    like = "gpt-image-1" if "image" in name else "gpt-6-astra"
    assert error.like == like and error.suggestions == (like,)
    assert "unknown model" not in str(error) and repr(like) in str(error)
    assert "undocumented='assume'" in str(error)
    assert isinstance(error, UnknownModelError)  # still an unknown-model error for old callers


def test_the_data_records_like_and_evidence_per_model():
    """spec 3.5: "like gpt-6-astra", evidence measured-auto-only for the first three and none
    for the last two; the table says so, and so does every error and every figure."""
    table = json.loads(TABLE.read_text())
    recorded = {name: (entry["like"], entry["evidence"])
                for entry in table["undocumented"] for name in entry.get("ids", ())}
    for name, evidence in GPT6.items():
        assert recorded[name] == ("gpt-6-astra", evidence)
        with pytest.raises(UndocumentedModelError) as caught:
            visiontokens.get_model(name)
        assert caught.value.evidence == evidence
        assert f"evidence: {evidence}" in str(caught.value)
    assert table["aliases"]["gpt-5.6"]["model"] == "gpt-5.6-sol"


@pytest.mark.parametrize("name", list(GPT6))
def test_assume_counts_like_gpt_6_astra_and_says_so(name, impl):
    """ASSUMED by the caller (spec 3.5): counted with gpt-6-astra's rule, marked as assumed."""
    for w, h, detail in [(4096, 512, "high"), (1920, 1080, "auto"), (3000, 3000, "original"),
                         (700, 300, "low")]:
        cost = impl.explain_image_tokens(w, h, name, detail, undocumented="assume")
        astra = impl.explain_image_tokens(w, h, "gpt-6-astra", detail)
        assert cost.tokens == astra.tokens and cost.patches == astra.patches
        assert (cost.model, cost.assumed_from, cost.evidence) == (name, "gpt-6-astra", GPT6[name])
        assert impl.count_image_tokens(w, h, name, detail, undocumented="assume") == cost.tokens
        assert impl.get_model(name, undocumented="assume").count(w, h, detail) == cost.tokens
    assert astra.assumed_from is None and astra.evidence is None
    # the measured part of the evidence: auto is like astra's original, 30,000-patch 400 included
    with pytest.raises(ImageRejectedError, match=repr(name)):
        impl.count_image_tokens(6000, 6000, name, undocumented="assume")


def test_assume_for_image_models_and_unknown_names(impl):
    cost = impl.explain_image_tokens(1024, 1024, "gpt-image-1.5", undocumented="assume")
    assert cost.tokens == impl.count_image_tokens(1024, 1024, "gpt-image-1")
    assert (cost.assumed_from, cost.evidence) == ("gpt-image-1", "none")
    # assume is about known undocumented names only: an unknown name stays unknown
    with pytest.raises(UnknownModelError) as caught:
        impl.count_image_tokens(10, 10, "gpt-6-nova", undocumented="assume")
    assert not isinstance(caught.value, UndocumentedModelError)
    # a ruleset without the documented model cannot count like it
    with pytest.raises(UndocumentedModelError, match="has no 'gpt-6-astra'"):
        impl.count_image_tokens(10, 10, "gpt-6-sol", ruleset="2026-04", undocumented="assume")


def test_policy_arguments_are_checked(impl):
    with pytest.raises(InvalidArgumentError, match="undocumented must be"):
        impl.count_image_tokens(10, 10, "gpt-4o", undocumented="guess")
    with pytest.raises(ArgumentTypeError, match="enforce_patch_limit must be"):
        impl.count_image_tokens(10, 10, "gpt-4o", enforce_patch_limit=0)
    with pytest.raises(InvalidArgumentError, match="undocumented must be"):
        impl.count_image_tokens_batch([1], [1], "gpt-4o", undocumented=None)


def test_the_patch_limit_can_be_turned_off(impl):
    """spec 8.6: one gateway route accepted 53,016 patches on gpt-6.1-sol."""
    with pytest.raises(ImageRejectedError) as caught:
        impl.count_image_tokens(7360, 7360, "gpt-6-astra", "original")
    assert caught.value.patches == 230 * 230
    cost = impl.explain_image_tokens(7360, 7360, "gpt-6-astra", "original",
                                     enforce_patch_limit=False)
    assert cost.patches == 52900 and cost.tokens == 63480  # ceil(52900 x 1.2)
    assert impl.count_image_tokens(7360, 7360, "gpt-6.1-sol", "auto", undocumented="assume",
                                   enforce_patch_limit=False) == 63480
    # the switch changes nothing else: within the limit every figure is the same
    assert (impl.count_image_tokens(4096, 4096, "gpt-6-astra", enforce_patch_limit=False)
            == impl.count_image_tokens(4096, 4096, "gpt-6-astra"))
    tokens = impl.count_image_tokens_batch(np.array([7360, 100]), np.array([7360, 100]),
                                           "gpt-6-astra", "original", enforce_patch_limit=False)
    assert tokens.tolist() == [63480, impl.count_image_tokens(100, 100, "gpt-6-astra", "original")]
    assert visiontokens.max_image_tokens("gpt-6-astra", "original", enforce_patch_limit=False) > \
        visiontokens.max_image_tokens("gpt-6-astra", "original")


def test_batch_takes_the_policies(impl):
    widths, heights = np.array([1024, 6000, 300]), np.array([768, 6000, 200])
    with pytest.raises(UndocumentedModelError):
        impl.count_image_tokens_batch(widths, heights, "gpt-6-luna")
    tokens, rejected = impl.count_image_tokens_batch(widths, heights, "gpt-6-luna",
                                                     undocumented="assume", on_error="mask")
    expected = impl.count_image_tokens_batch(widths, heights, "gpt-6-astra", on_error="mask")
    assert tokens.tolist() == expected[0].tolist() and rejected.tolist() == [False, True, False]
    per_row = impl.count_image_tokens_batch(widths, heights, ["gpt-6-sol", "gpt-4o", "gpt-5.6"],
                                            undocumented="assume", enforce_patch_limit=False)
    assert per_row.tolist() == [impl.count_image_tokens(1024, 768, "gpt-6-astra"),
                                impl.count_image_tokens(6000, 6000, "gpt-4o"),
                                impl.count_image_tokens(300, 200, "gpt-5.6-sol")]
    unlimited = impl.count_image_tokens_batch(widths, heights, ["gpt-6-sol", "gpt-6-astra", "gpt-4o"],
                                              undocumented="assume", enforce_patch_limit=False)
    assert unlimited[1] == impl.count_image_tokens(6000, 6000, "gpt-6-astra",
                                                   enforce_patch_limit=False) == 42413


# --- the twins agree on the new keywords (results and errors) -----------------------------------

names = st.sampled_from(list(GPT6) + IMAGE_MODELS + ["gpt-5.6", "gpt-6-astra", "gpt-4o",
                                                      "gpt-6-sol-2026-09-22", "gpt-6-nova"])
policies = st.sampled_from(["error", "assume", "ASSUME", None])
limits = st.sampled_from([True, False, 1, None])


def outcome(fn, *args, **kwargs):
    try:
        value = fn(*args, **kwargs)
    except visiontokens.VisionTokensError as error:
        return ("error", type(error), str(error))
    return ("value", value.tolist() if isinstance(value, np.ndarray) else value)


@given(sides, sides, names, any_detail, policies, limits,
       st.sampled_from([None, "2026-04", "2026-09"]))
def test_twins_agree_on_policies(w, h, name, detail, policy, limit, ruleset):
    core, reference = load_impl("cython"), load_impl("python")  # skips in a pure install
    options = dict(ruleset=ruleset, undocumented=policy, enforce_patch_limit=limit)
    for fn in ("count_image_tokens", "explain_image_tokens"):
        assert outcome(getattr(core, fn), w, h, name, detail, **options) == outcome(
            getattr(reference, fn), w, h, name, detail, **options)


@given(st.lists(sides, min_size=1, max_size=12), st.data(), policies, limits,
       st.sampled_from(["raise", "mask"]))
def test_batch_twins_agree_on_policies(widths, data, policy, limit, on_error):
    core, reference = load_impl("cython"), load_impl("python")  # skips in a pure install
    heights = data.draw(st.lists(sides, min_size=len(widths), max_size=len(widths)))
    model = data.draw(st.one_of(names, st.lists(names, min_size=len(widths),
                                                max_size=len(widths))))
    detail = data.draw(details)
    options = dict(undocumented=policy, enforce_patch_limit=limit, on_error=on_error)
    fast = outcome(core.count_image_tokens_batch, widths, heights, model, detail, **options)
    slow = outcome(reference.count_image_tokens_batch, widths, heights, model, detail, **options)
    if on_error == "mask" and fast[0] == "value":
        fast = ("value", [a.tolist() for a in fast[1]])
        slow = ("value", [a.tolist() for a in slow[1]])
    assert fast == slow
