"""Rulesets as data (spec 1, 4) and user registrations."""

from __future__ import annotations

import json
from importlib import resources

import pytest

import visiontokens
from visiontokens import ArgumentTypeError, InvalidArgumentError, UnknownModelError


def test_rulesets_newest_first_and_default():
    assert visiontokens.rulesets() == ("2026-09", "2026-04")
    assert visiontokens.DEFAULT_RULESET == "2026-09"


def test_tables_match_spec_4_1_multipliers():
    expected = {"gpt-6-astra": "1.2", "gpt-5.6-sol": "1.2", "gpt-5.6-terra": "1.2",
                "gpt-5.6-luna": "1.2", "gpt-5.5": "1.2", "gpt-5.4": "1.2", "gpt-5.4-mini": "1.2",
                "gpt-5.4-nano": "1.2", "gpt-5.2": "1.2", "gpt-4.1-mini": "1.62", "gpt-5-mini": "1.2",
                "gpt-5-nano": "1.5", "gpt-4.1-nano": "2.46", "o4-mini": "1.72"}
    got = {m.id: m.multiplier for m in visiontokens.models() if m.scheme == "patch"}
    assert got == expected


def test_tables_match_spec_4_2_tiles():
    expected = {"gpt-5.1": (70, 140), "gpt-5": (70, 140), "gpt-4o": (85, 170), "gpt-4.1": (85, 170),
                "gpt-4o-mini": (2833, 5667), "o1": (75, 150), "o1-pro": (75, 150), "o3": (75, 150),
                "gpt-4.5": (85, 170), "gpt-5-chat-latest": (70, 140),
                "computer-use-preview": (65, 129), "gpt-image-1": (65, 129)}
    got = {m.id: (m.base, m.per_tile) for m in visiontokens.models() if m.scheme == "tile"}
    assert got == expected
    legacy = {m.id for m in visiontokens.models() if m.status == "legacy"}
    assert legacy == {"gpt-4.5", "gpt-5-chat-latest", "computer-use-preview"}


def test_auto_levels_per_spec():
    autos = {m.id: m.auto for m in visiontokens.models()}
    assert autos["gpt-6-astra"] == autos["gpt-5.5"] == autos["gpt-5.6-luna"] == "original"
    assert autos["gpt-5.4"] == autos["gpt-4.1-mini"] == autos["gpt-4o"] == "high"
    assert visiontokens.models("2026-04")[0].ruleset == "2026-04"
    v4 = {m.id: m for m in visiontokens.models("2026-04")}
    assert v4["gpt-5.5"].auto == "original" and v4["gpt-5.4"].auto == "high"
    assert v4["gpt-5.5"].multiplier == v4["gpt-5.4"].multiplier == "1"


def test_every_model_names_its_source():
    for rs in visiontokens.rulesets():
        for spec in visiontokens.models(rs):
            assert spec.source and spec.status in ("current", "deprecated", "legacy")


def test_data_files_ship_in_the_package():
    for name in visiontokens.rulesets():
        text = resources.files("visiontokens").joinpath("rules", "data", "openai", f"{name}.json").read_text()
        assert json.loads(text)["name"] == name


def test_alias_registration(impl):
    visiontokens.register_model("prod-vision", like="gpt-4.1-mini")
    try:
        cost = impl.explain_image_tokens(1800, 2400, "prod-vision", ruleset="2026-04")
        assert cost.model == "gpt-4.1-mini"
        assert cost.tokens == impl.count_image_tokens(1800, 2400, "gpt-4.1-mini", ruleset="2026-04")
        assert impl.get_model("prod-vision").id == "gpt-4.1-mini"
        assert impl.count_image_tokens(100, 100, "prod-vision-2025-01-01") == impl.count_image_tokens(
            100, 100, "gpt-4.1-mini")
    finally:
        visiontokens.unregister_model("prod-vision")
    with pytest.raises(UnknownModelError):
        impl.count_image_tokens(100, 100, "prod-vision")


def test_new_patch_model(impl):
    visiontokens.register_model("acme-vision", scheme="patch", multiplier="1.5",
                                details={"low": {"cap": 512}, "high": {"cap": 2048, "budget": 2500}},
                                ruleset="2026-09")
    try:
        assert impl.count_image_tokens(2048, 2048, "acme-vision", "high") == 3750
        assert impl.count_image_tokens(1024, 1024, "acme-vision", "low") == 384
        assert impl.get_model("acme-vision").details == ("low", "high", "auto")
        with pytest.raises(UnknownModelError):
            impl.count_image_tokens(1, 1, "acme-vision", ruleset="2026-04")
    finally:
        visiontokens.unregister_model("acme-vision", ruleset="2026-09")


def test_new_tile_model(impl):
    visiontokens.register_model("acme-tiles", scheme="tile", base=10, per_tile=20, short_side=512)
    try:
        assert impl.count_image_tokens(1024, 1024, "acme-tiles") == 10 + 20
        assert impl.count_image_tokens(1024, 1024, "acme-tiles", "low") == 10
    finally:
        visiontokens.unregister_model("acme-tiles")


def test_tile_model_with_its_own_fit_box(impl):
    # spec 3.2: fit into fit x fit first, then the shortest side down to short_side, then
    # 512-px tiles. 4000 x 1000 fits into 2048 as 2048 x 512 (4 x 1 tiles) and into 1024
    # as 1024 x 256 (2 x 1 tiles); the short side stays under 768 both ways.
    visiontokens.register_model("acme-fit", scheme="tile", base=10, per_tile=20, fit=1024)
    visiontokens.register_model("acme-fit-default", scheme="tile", base=10, per_tile=20)
    try:
        assert impl.count_image_tokens(4000, 1000, "acme-fit") == 10 + 2 * 1 * 20
        assert impl.count_image_tokens(4000, 1000, "acme-fit-default") == 10 + 4 * 1 * 20
        # 3000 x 3000 -> 1024 x 1024 -> short side 768 -> 768 x 768: 2 x 2 tiles
        assert impl.count_image_tokens(3000, 3000, "acme-fit") == 10 + 2 * 2 * 20
        assert impl.count_image_tokens(3000, 3000, "acme-fit", "low") == 10
        assert impl.get_model("acme-fit").spec.params["high"].cap == 1024
        assert impl.get_model("acme-fit-default").spec.params["high"].cap == 2048
    finally:
        visiontokens.unregister_model("acme-fit")
        visiontokens.unregister_model("acme-fit-default")


def test_replacing_a_shipped_model_needs_consent_and_comes_back(impl):
    with pytest.raises(InvalidArgumentError, match="already exists"):
        visiontokens.register_model("gpt-4o", scheme="tile", base=1, per_tile=1)
    visiontokens.register_model("gpt-4o", scheme="tile", base=1, per_tile=1, replace_existing=True)
    try:
        assert impl.count_image_tokens(1024, 1024, "gpt-4o") == 5
    finally:
        visiontokens.unregister_model("gpt-4o")
    assert impl.count_image_tokens(1024, 1024, "gpt-4o") == 765


@pytest.mark.parametrize("kwargs, error", [
    (dict(scheme="patch", multiplier="1.23456", details={"high": {"cap": 100}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier="0", details={"high": {"cap": 100}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier="nan", details={"high": {"cap": 100}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier=True, details={"high": {"cap": 100}}), ArgumentTypeError),
    (dict(scheme="patch", multiplier="1", details={"high": {"cap": 65536}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier="1", details={"high": {"cap": 100.0}}), ArgumentTypeError),
    (dict(scheme="patch", multiplier="1", details={"high": {"cap": 100, "budget": 0}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier="1", details={"ultra": {"cap": 100}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier="1", details={"high": {"cap": 100, "extra": 1}}), InvalidArgumentError),
    (dict(scheme="patch", multiplier="1", details={"high": {"cap": 100}}, auto="low"), InvalidArgumentError),
    (dict(scheme="patch", multiplier="1"), InvalidArgumentError),
    (dict(scheme="tile", base=-1, per_tile=1), InvalidArgumentError),
    (dict(scheme="tile", base=1, per_tile="2"), ArgumentTypeError),
    (dict(scheme="tile", base=1, per_tile=2, fit=0), InvalidArgumentError),
    (dict(scheme="tile", base=1, per_tile=2, fit=65536), InvalidArgumentError),
    (dict(scheme="tile", base=1, per_tile=2, fit=1024.0), ArgumentTypeError),
    (dict(scheme="tile", base=1, per_tile=2, fit=True), ArgumentTypeError),
    (dict(scheme="patch", multiplier="1", details={"high": {"cap": 100}}, fit=1024), InvalidArgumentError),
    (dict(scheme="fixed", base=1, fit=1024), InvalidArgumentError),
    (dict(like="gpt-4o", fit=1024), InvalidArgumentError),
    (dict(scheme="hex"), InvalidArgumentError),
    (dict(like="no-such-model"), UnknownModelError),
    (dict(like="gpt-4o", scheme="tile"), InvalidArgumentError),
])
def test_registration_is_validated(kwargs, error):
    with pytest.raises(error):
        visiontokens.register_model("bad-model", **kwargs)
    with pytest.raises(UnknownModelError):
        visiontokens.count_image_tokens(1, 1, "bad-model")


@pytest.mark.parametrize("value, text", [("1.62", "1.62"), (1.62, "1.62"), (2, "2"), ("1.2000", "1.2"),
                                         ("0.0001", "0.0001"), ("1000", "1000")])
def test_multiplier_forms(value, text):
    visiontokens.register_model("m-form", scheme="patch", multiplier=value, details={"high": {"cap": 64}})
    try:
        assert visiontokens.rules.resolve("m-form").multiplier == text
    finally:
        visiontokens.unregister_model("m-form")


def test_registration_applies_to_cached_models(impl):
    assert impl.count_image_tokens(64, 64, "gpt-4o") == 255  # now cached
    visiontokens.register_model("gpt-4o", scheme="tile", base=1, per_tile=0, replace_existing=True)
    try:
        assert impl.count_image_tokens(64, 64, "gpt-4o") == 1
    finally:
        visiontokens.unregister_model("gpt-4o")
    assert impl.count_image_tokens(64, 64, "gpt-4o") == 255
