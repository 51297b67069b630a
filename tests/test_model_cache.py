"""The one cache of resolved models, in namespaces, and the bound as the resolved model's own.

Regression tests for defects of the shared cache: the compiled calculator and the compiled
output twin once shared one dict, keyed before the ruleset was checked, and cast their hits
without a type check (an OutputModel could be called through a Model's vtable); and an
Images API edit re-resolved its model by name for the bound, losing the caller's policy.
"""

from __future__ import annotations

import threading

import pytest

import visiontokens
from visiontokens import rules
from visiontokens.rules import memo, specs
from visiontokens.rules.output import _output_tables

#: Every tag any user of the cache has keyed by, today or before the namespaces.
CACHE_TAGS = ("output-cython", "output", "policy", "bound", "request", "tokens.cython",
              "output.cython", "output.python", "request.cython", "request.python", "cython",
              "python")


@pytest.mark.parametrize("tag", CACHE_TAGS)
def test_a_cache_tag_given_as_ruleset_is_an_unknown_ruleset(impl, output, tag):
    # fill every namespace first, the way the defect was reached
    output.count_output_image_tokens("gpt-image-1", "1024x1024", "high")
    impl.count_image_tokens(512, 512, "gpt-image-1", "high")
    impl.get_model("gpt-image-1", undocumented="assume", enforce_patch_limit=False)
    with pytest.raises(visiontokens.UnknownRulesetError):
        impl.get_model("gpt-image-1", ruleset=tag)
    with pytest.raises(visiontokens.UnknownRulesetError):
        impl.count_image_tokens(512, 512, "gpt-image-1", ruleset=tag)
    with pytest.raises(visiontokens.UnknownRulesetError):
        output.count_output_image_tokens("gpt-image-1", "1024x1024", "high", ruleset=tag)


def test_each_user_of_the_cache_holds_only_its_own_kind(impl, output):
    model = impl.get_model("gpt-image-1")
    made = output.get_output_model("gpt-image-1")
    assert type(impl.get_model("gpt-image-1")) is type(model)
    assert type(output.get_output_model("gpt-image-1")) is type(made)
    if impl.IMPLEMENTATION == "cython":
        cache = memo.namespace("tokens.cython")
        assert cache and all(type(value) is type(model) for value in cache.values())
    if output.IMPLEMENTATION == "cython":
        outputs = memo.namespace("output.cython")
        assert outputs and all(type(value) is type(made) for value in outputs.values())


def test_a_registration_clears_every_namespace(impl):
    impl.count_image_tokens(512, 512, "gpt-4o", "high")
    assert memo.namespace(f"tokens.{impl.IMPLEMENTATION}") or impl.IMPLEMENTATION == "python"
    rules.register_model("cache-test-alias", like="gpt-4o")
    try:
        assert all(not cache for cache in memo._NAMESPACES.values())
    finally:
        rules.unregister_model("cache-test-alias")


def test_max_tokens_is_the_models_own_bound(impl):
    for name, detail in (("gpt-4o", "high"), ("gpt-4.1-mini", "high"), ("gpt-5.4", "original"),
                         ("gpt-4o", "low")):
        model = impl.get_model(name)
        assert model.max_tokens(detail) == visiontokens.max_image_tokens(name, detail)
    assert impl.get_model("gpt-4o").max_tokens("high") == 1445
    with pytest.raises(visiontokens.UnsupportedDetailError):
        impl.get_model("gpt-4o").max_tokens("original")


def test_the_bound_of_an_assumed_model_keeps_the_policy(impl):
    # gpt-6-sol is undocumented: its bound exists only under undocumented="assume"
    with pytest.raises(visiontokens.UndocumentedModelError):
        impl.get_model("gpt-6-sol")
    assumed = impl.get_model("gpt-6-sol", undocumented="assume")
    like = impl.get_model(assumed.spec.assumed_from)
    assert assumed.max_tokens("auto") == like.max_tokens("auto")


def test_an_edit_of_an_undocumented_image_model_keeps_its_upper_bound(walk):
    # regression: the Images API walk re-resolved the model by name for the bound, without
    # the caller's undocumented= policy, and recorded an UndocumentedModelError instead
    body = {"model": "gpt-image-1.5", "prompt": "p",
            "images": [{"image_url": "https://example.com/a.png"}]}
    result = walk.count_request(body, api="images.edits", undocumented="assume",
                                on_unknown="upper_bound")
    (image,) = result.images
    assert image.error is None and image.upper_bound
    assert image.tokens > 0 and result.image_tokens == image.tokens
    documented = walk.count_request({**body, "model": "gpt-image-1"}, api="images.edits",
                                    on_unknown="upper_bound")
    assert image.tokens >= documented.images[0].tokens


def test_fidelity_extras_come_from_the_chosen_level(impl):
    # Regression: the compiled Model took its fidelity extras from the last detail level, the
    # pure one from the chosen level. A spec whose levels differ tells them apart.
    base = impl.get_model("gpt-image-1").spec
    low, high = base.params["low"], base.params["high"]
    from dataclasses import replace
    from types import MappingProxyType

    spec = replace(base, id="fidelity-levels", params=MappingProxyType({
        "low": replace(low, fidelity_square=1000, fidelity_other=2000),
        "high": replace(high, fidelity_square=7, fidelity_other=11)}))
    model = impl.Model(spec)
    assert model.count(512, 512, "low", input_fidelity="high") == low.base + 1000
    assert model.count(512, 512, "low") == low.base
    assert model.count(512, 768, "high", input_fidelity="high") - model.count(512, 768, "high") == 11
    assert model.count(512, 512, "high", input_fidelity="high") - model.count(512, 512, "high") == 7


def test_output_tables_are_built_once_under_the_lock():
    _output_tables.clear()
    built, start = [], threading.Barrier(8)

    def build():
        start.wait()
        built.append(rules.output_table("2026-04"))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(table) for table in built}) == 1


def test_each_ruleset_file_is_read_once(monkeypatch):
    from visiontokens.rules import files, load

    files._files.clear()
    opened = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    rules.resolution._rulesets.clear()
    _output_tables.clear()
    rules.get_ruleset("2026-04")
    rules.output_table("2026-04")
    load.openai_ruleset("2026-04")  # what unregister_model rebuilds from
    assert sum(path.endswith("2026-04.json") for path in opened) == 1
    assert isinstance(rules.get_ruleset("2026-04"), specs.Ruleset)
