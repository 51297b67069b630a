"""OpenAI-shaped requests routed to other providers: a Chat Completions (or Responses) body
whose model is a Claude, Gemini, Mistral or Qwen id is counted by that model's rule, as
LiteLLM, OpenRouter, vLLM and the providers' OpenAI-compatible endpoints serve it.

OpenAI's ``detail`` does not apply to those models: ignored for Claude (as Anthropic's
OpenAI-compatible endpoint does) and ASSUMED ignored for Gemini, Mistral and Qwen (no mapping
is documented), so each image costs what the model's default gives.
"""

from __future__ import annotations

import pytest
from headers import data_url, jpeg_header, png_header

import visiontokens

SCREEN = data_url(png_header(1920, 1080))


def chat(model: str, *parts) -> dict:
    return {"model": model, "messages": [
        {"role": "system", "content": "describe"},
        {"role": "user", "content": [{"type": "text", "text": "what is it?"}, *parts]}]}


def part(url: str = SCREEN, detail: str | None = None) -> dict:
    image = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": image}


@pytest.mark.parametrize(("model", "expected"), [
    ("claude-sonnet-4-5", 1560),  # providers 1.5, standard tier
    ("anthropic/claude-sonnet-4-5", 1560),
    ("claude-opus-4-8", 2691),  # high-resolution tier: 1920x1080 not resized
    ("gemini-2.5-flash", 1548),  # providers 2.1 tiling (ASSUMED clamp, ceil): 3 x 2 tiles
    ("gemini/gemini-2.5-flash", 1548),
    ("pixtral-12b-2409", 2340),  # providers 3.5
    ("mistral-small-2503", 1736),
    ("Qwen/Qwen2.5-VL-7B-Instruct", 2693),  # providers 4.4: 2691 + 2 markers
])
def test_chat_bodies_count_by_the_routed_models_rule(walk, model, expected):
    result = walk.count_request(chat(model, part(), part(detail="high"), part(detail="low")))
    assert result.api == "chat"
    one = visiontokens.count_image_tokens(1920, 1080, model)
    if expected is not None:
        assert one == expected
    # detail ignored: every image costs the model's default
    assert [i.tokens for i in result.images] == [one] * 3
    assert result.image_tokens == 3 * one


def test_detail_still_applies_to_openai_models(walk):
    result = walk.count_request(chat("gpt-4o", part(detail="high"), part(detail="low")))
    assert result.images[0].tokens != result.images[1].tokens == 85


def test_mistral_plain_string_image_url(walk):
    """providers 3.3: Mistral's API sends image_url as a plain string."""
    body = chat("pixtral-12b-2409", {"type": "image_url", "image_url": SCREEN},
                {"type": "image_url", "image_url": {"url": SCREEN, "detail": None}})
    result = walk.count_request(body)
    assert [i.tokens for i in result.images] == [2340, 2340]


def test_responses_bodies_route_too(walk):
    body = {"model": "claude-sonnet-4-5", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": SCREEN, "detail": "high"}]}]}
    assert walk.count_request(body).image_tokens == 1560


def test_model_argument_counts_an_alias_by_its_deployment(walk):
    body = chat("my-claude", part(data_url(jpeg_header(1075, 1520)), detail="low"))
    with pytest.raises(visiontokens.UnknownModelError):
        walk.count_request(body)
    result = walk.count_request(body, model="anthropic/claude-sonnet-4-5")
    assert result.image_tokens == 1551  # providers 1.5: the A4 page, standard tier


def test_unknown_size_bounded_by_the_routed_model(walk):
    body = chat("claude-opus-4-8", part("https://example.com/a.png", detail="low"))
    result = walk.count_request(body, on_unknown="upper_bound")
    assert result.images[0].tokens == 4784 and result.images[0].upper_bound
    body = chat("claude-haiku-4-5", part("https://example.com/a.png"))
    assert walk.count_request(body, on_unknown="upper_bound").image_tokens == 1568


def test_bundled_anthropic_example_counts(walk):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "examples" / "anthropic_messages.json").read_bytes()
    result = walk.count_request(text)
    assert result.api == "anthropic.messages"
    # screenshot.png 1920x1080, photo.jpg 1200x1600, edit-a.png 300x200
    assert [i.tokens for i in result.images] == [
        1560, visiontokens.count_image_tokens(1200, 1600, "claude-sonnet-4-5"),
        visiontokens.count_image_tokens(300, 200, "claude-sonnet-4-5")]
    assert result.images[1].pointer == "/messages/2/content/0/content/0"
