"""Long names (issue 12, item 3): a 40 MB ``model`` string cost 4.5 s and 1.6 GB, in difflib's
suggestions over the whole name and in a message quoting it whole. What is compared and what
is quoted are now capped; the work is measured here as memory and message size, not time."""

from __future__ import annotations

import tracemalloc

import pytest

from visiontokens import (
    UndocumentedModelError,
    UnknownModelError,
    UnknownRulesetError,
    UnsupportedDetailError,
)
from visiontokens._errors import QUOTE_LIMIT, closest, quoted

BIG = 40_000_000


def peak_while(action) -> tuple[BaseException, int]:
    """The error ``action`` raises, and the most memory it allocated on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(Exception) as caught:
            action()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def names():
    return {"plain": "gpt-" + "x" * BIG, "dated": "x" * BIG + "-2024-08-06",
            "image": "gpt-image-" + "9" * BIG}


@pytest.mark.parametrize("kind", ["plain", "dated"])
def test_a_40_mb_model_name_costs_little(impl, names, kind):
    name = names[kind]
    for action in (lambda: impl.count_image_tokens(1024, 1024, name, "high"),
                   lambda: impl.explain_image_tokens(1024, 1024, name),
                   lambda: impl.get_model(name)):
        error, peak = peak_while(action)
        assert type(error) is UnknownModelError and error.suggestions == ()
        assert len(str(error)) < 2 * QUOTE_LIMIT + 60 and f"({len(name)} characters)" in str(error)
        assert peak < 4 << 20, peak  # no copy of the name, no difflib tables over it


def test_an_undocumented_image_model_with_a_long_name(impl, names):
    error, peak = peak_while(lambda: impl.count_image_tokens(64, 64, names["image"]))
    # the name is quoted in its first 80 characters; the rest of the message names the
    # closest documented model and the assume policy (spec 3.5): one line, never 40 MB
    assert isinstance(error, UndocumentedModelError)
    assert str(error).startswith(f"{names['image'][:80]!r}... ({len(names['image'])} characters)")
    assert len(str(error)) < 400 and peak < 4 << 20


def test_a_40_mb_name_or_detail_in_a_request(walk, names):
    big_model = {"model": names["plain"], "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}
    error, peak = peak_while(lambda: walk.count_request(big_model, on_unknown="upper_bound"))
    assert type(error) is UnknownModelError and len(str(error)) < 300 and peak < 4 << 20
    big_detail = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png",
                                            "detail": "h" * BIG}}]}]}
    error, peak = peak_while(lambda: walk.count_request(big_detail, on_unknown="upper_bound"))
    assert isinstance(error, UnsupportedDetailError) and len(str(error)) < 300
    assert peak < 4 << 20


def test_a_long_ruleset_name(impl):
    error, _ = peak_while(lambda: impl.count_image_tokens(1, 1, "gpt-4o", ruleset="r" * BIG))
    assert isinstance(error, UnknownRulesetError) and len(str(error)) < 300


def test_close_names_are_still_suggested(impl):
    with pytest.raises(UnknownModelError) as caught:
        impl.count_image_tokens(64, 64, "gpt-4o-mni")
    assert "gpt-4o-mini" in caught.value.suggestions and "did you mean" in str(caught.value)
    # the length bound rules out only names no suggestion could match (ratio < 0.6)
    assert closest("g" * 31, ["g" * 10]) == [] and closest("gpt-4.1-minii", ["gpt-4.1-mini"])


def test_quoted_is_bounded():
    assert quoted("gpt-4o") == "'gpt-4o'"
    long = quoted("a" * 1000)
    assert long.startswith("'" + "a" * QUOTE_LIMIT + "'...") and long.endswith("(1000 characters)")
    assert quoted(b"\x00" * 500).endswith("(500 bytes)")
    assert len(quoted(list(range(10**6)))) < 200
    assert len(quoted({"k": "v" * 10**6})) < 200

    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

    assert quoted(Hostile()).startswith("<Hostile")  # no RuntimeError from a message
    assert quoted(10**10000) == "<int>"  # past int's str limit: no ValueError from a message
