"""Bad input: clear, typed errors from both implementations (spec 3.4, 3.5)."""

from __future__ import annotations

import numpy as np
import pytest

import visiontokens
from visiontokens import (
    ArgumentTypeError,
    DimensionTypeError,
    InvalidArgumentError,
    InvalidDimensionsError,
    UndocumentedModelError,
    UnknownModelError,
    UnknownRulesetError,
    UnsupportedDetailError,
    VisionTokensError,
)


@pytest.mark.parametrize("bad", [1920.7, 1920.0, True, False, "1920", None, b"1", 1 + 0j, np.float64(3)])
def test_non_integers_are_type_errors_never_truncated(impl, bad):
    with pytest.raises(DimensionTypeError, match="width must be an int") as caught:
        impl.count_image_tokens(bad, 100, "gpt-4o")
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, VisionTokensError)
    with pytest.raises(DimensionTypeError, match="height"):
        impl.get_model("gpt-4o").count(100, bad)


@pytest.mark.parametrize("bad", [0, -1, -(2**70), 2**31, 2**64, 10**30])
def test_out_of_range_sizes(impl, bad):
    with pytest.raises(InvalidDimensionsError, match=f"between 1 and 2147483647 pixels, got {bad}$") as caught:
        impl.count_image_tokens(100, bad, "gpt-4.1-mini")
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, TypeError)


def test_numpy_integers_are_accepted(impl):
    for kind in (np.int8, np.uint16, np.int32, np.int64, np.uint64):
        assert impl.count_image_tokens(kind(100), kind(100), "gpt-4o") == 255


@pytest.mark.parametrize("detail", ["HIGH", "Auto", "", "medium", 1, b"high"])
def test_unknown_detail(impl, detail):
    with pytest.raises(UnsupportedDetailError, match="detail must be one of low, high, original, auto"):
        impl.count_image_tokens(100, 100, "gpt-4o", detail)


def test_detail_none_means_auto(impl):
    assert impl.count_image_tokens(4000, 3000, "gpt-5.5", None) == impl.count_image_tokens(
        4000, 3000, "gpt-5.5", "original")
    assert impl.count_image_tokens(4000, 3000, "gpt-5.4", None) == impl.count_image_tokens(
        4000, 3000, "gpt-5.4", "high")


def test_unknown_model_suggests_close_names(impl):
    with pytest.raises(UnknownModelError) as caught:
        impl.count_image_tokens(100, 100, "gpt-4o-mni")
    assert "gpt-4o-mini" in caught.value.suggestions
    assert "did you mean 'gpt-4o-mini'" in str(caught.value)


def test_no_loose_prefix_matching(impl):
    # spec 3.5: gpt-4o-mini must not become gpt-4o, nor gpt-4o-foo either.
    assert impl.count_image_tokens(1024, 1024, "gpt-4o-mini", "high") == 2833 + 4 * 5667
    for name in ("gpt-4o-foo", "gpt-4o-mini-foo", "gpt-4o-2024", "GPT-4O", " gpt-4o"):
        with pytest.raises(UnknownModelError):
            impl.count_image_tokens(100, 100, name)


@pytest.mark.parametrize("snapshot, family", [
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("o1-2024-12-17", "o1"),
])
def test_dated_snapshots_resolve_to_their_family(impl, snapshot, family):
    assert impl.explain_image_tokens(999, 777, snapshot).model == family
    assert impl.get_model(snapshot).id == family


def test_other_gpt_image_models_are_undocumented(impl):
    with pytest.raises(UndocumentedModelError, match="does not document"):
        impl.count_image_tokens(100, 100, "gpt-image-1-mini")
    assert issubclass(UndocumentedModelError, UnknownModelError)


def test_unknown_ruleset(impl):
    with pytest.raises(UnknownRulesetError, match="2026-09, 2026-04"):
        impl.count_image_tokens(100, 100, "gpt-4o", ruleset="2025-01")
    with pytest.raises(ArgumentTypeError):
        impl.count_image_tokens(100, 100, "gpt-4o", ruleset=2026)


def test_model_of_wrong_type(impl):
    with pytest.raises(ArgumentTypeError, match="model must be a str") as caught:
        impl.count_image_tokens(100, 100, ["gpt-4o"])
    assert isinstance(caught.value, TypeError)


def test_model_only_in_older_ruleset(impl):
    assert impl.count_image_tokens(100, 100, "gpt-5.3-codex", ruleset="2026-04") == 16
    with pytest.raises(UnknownModelError):
        impl.count_image_tokens(100, 100, "gpt-5.3-codex")


def test_input_fidelity_validation(impl):
    with pytest.raises(InvalidArgumentError, match="GPT Image models only"):
        impl.count_image_tokens(100, 100, "gpt-4o", input_fidelity="high")
    with pytest.raises(InvalidArgumentError, match="'low', 'high' or None"):
        impl.count_image_tokens(100, 100, "gpt-image-1", input_fidelity="HIGH")
    with pytest.raises(ArgumentTypeError):
        impl.count_image_tokens(100, 100, "gpt-image-1", input_fidelity=1)
    assert impl.count_image_tokens(100, 100, "gpt-4o", input_fidelity="low") == 255


def test_every_error_is_a_value_or_type_error():
    # ... except a failed fetch, which is the network's doing: an OSError
    for name in visiontokens.__all__:
        obj = getattr(visiontokens, name)
        if isinstance(obj, type) and issubclass(obj, VisionTokensError) and obj is not VisionTokensError:
            if issubclass(obj, visiontokens.FetchError):
                assert issubclass(obj, OSError) and not issubclass(obj, ValueError), name
            else:
                assert issubclass(obj, (ValueError, TypeError)), name
