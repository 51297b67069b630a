"""reconcile(count, usage): our estimate beside the bill, for the usage of every API, built
with each SDK's own types (openai, anthropic, google-genai) and as plain dicts."""

from __future__ import annotations

import json

import pytest

from extras import needs
from headers import data_url, png_header

import visiontokens as vt
from visiontokens import ArgumentTypeError, InvalidArgumentError

openai_types = pytest.importorskip("openai.types")

def chat_count(model: str = "gpt-4o", sizes=((1024, 1024),), detail: str = "high"):
    """A RequestCount for a Chat Completions body with images of known sizes."""
    parts = [{"type": "text", "text": "what is in these?"}]
    for w, h in sizes:
        parts.append({"type": "image_url",
                      "image_url": {"url": data_url(png_header(w, h)), "detail": detail}})
    body = {"model": model, "messages": [{"role": "user", "content": parts}]}
    return vt.count_request(body)


def estimate(model: str, sizes, detail: str) -> int:
    return sum(vt.count_image_tokens(w, h, model, detail) for w, h in sizes)


# --- Chat Completions ---------------------------------------------------------------------

def chat_usage(image_tokens: int | None, prompt: int = 900):
    from openai.types import CompletionUsage
    from openai.types.completion_usage import PromptTokensDetails

    details = PromptTokensDetails(image_tokens=image_tokens, cached_tokens=0,
                                  text_tokens=None if image_tokens is None else prompt - image_tokens)
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=12, total_tokens=prompt + 12,
                           prompt_tokens_details=details)


@pytest.mark.parametrize("form", ["sdk", "dict", "json", "response"])
def test_chat_completions_exact(form):
    count = chat_count("gpt-4o", [(1024, 1024), (2048, 4096)])
    billed = estimate("gpt-4o", [(1024, 1024), (2048, 4096)], "high")
    assert count.image_tokens == billed == 765 + 1105
    usage = chat_usage(billed, prompt=billed + 30)
    value = {"sdk": usage, "dict": usage.model_dump(), "json": json.loads(usage.model_dump_json()),
             "response": {"id": "chatcmpl-1", "object": "chat.completion",
                          "usage": usage.model_dump()}}[form]
    got = vt.reconcile(count, value)
    assert got.usage_format == "chat" and got.api == "chat" and got.model == "gpt-4o"
    assert (got.estimated_image_tokens, got.billed_image_tokens) == (billed, billed)
    assert got.difference == 0 and got.exact and got.comparable and got.reason is None
    assert got.basis == "image_tokens"
    assert got.billed_input_tokens == billed + 30 and got.billed_output_tokens == 12
    assert got.estimated_text_tokens is None  # never guessed
    assert got.estimated_output_image_tokens is None and got.output_difference is None


def test_chat_completions_drift():
    count = chat_count("gpt-4.1-mini", [(1800, 2400)])
    got = vt.reconcile(count, chat_usage(count.image_tokens + 1))
    assert got.comparable and not got.exact and got.difference == 1
    got = vt.reconcile(count, chat_usage(count.image_tokens - 40))
    assert got.difference == -40


def test_chat_completions_without_image_figure():
    count = chat_count()
    got = vt.reconcile(count, chat_usage(None))
    assert not got.comparable and not got.exact and got.difference is None
    assert "input total" in got.reason and "text_tokens" in got.reason
    # the caller's own text count compares totals, explicitly
    got = vt.reconcile(count, chat_usage(None, prompt=765 + 40), text_tokens=40)
    assert got.comparable and got.exact and got.basis == "input_tokens"
    assert got.estimated_text_tokens == 40


# --- Images API ---------------------------------------------------------------------------

def images_usage(image_in: int, text_in: int, out: int, image_out: int | None = None):
    from openai.types.images_response import (Usage, UsageInputTokensDetails,
                                              UsageOutputTokensDetails)

    return Usage(input_tokens=image_in + text_in, output_tokens=out, total_tokens=image_in + text_in + out,
                 input_tokens_details=UsageInputTokensDetails(image_tokens=image_in, text_tokens=text_in),
                 output_tokens_details=None if image_out is None else
                 UsageOutputTokensDetails(image_tokens=image_out, text_tokens=out - image_out))


def edits_count():
    body = {"model": "gpt-image-1", "prompt": "a hat", "quality": "high", "size": "1024x1024",
            "images": [{"image_url": data_url(png_header(1024, 1024))}]}
    return vt.count_request(body, api="images.edits")


@pytest.mark.parametrize("form", ["sdk", "response", "dict"])
def test_images_api(form):
    from openai.types import ImagesResponse

    count = edits_count()
    assert count.image_tokens > 0 and count.output_image_tokens == 4160
    usage = images_usage(count.image_tokens, 9, 4160)
    value = {"sdk": usage, "dict": usage.model_dump(),
             "response": ImagesResponse(created=1, usage=usage)}[form]
    got = vt.reconcile(count, value)
    assert got.usage_format == "images" and got.exact and got.difference == 0
    assert got.billed_image_tokens == count.image_tokens
    assert got.estimated_output_image_tokens == 4160 == got.billed_output_image_tokens
    assert got.output_difference == 0


def test_images_api_output_breakdown_and_drift():
    count = edits_count()
    got = vt.reconcile(count, images_usage(count.image_tokens + 3, 9, 4300, image_out=4200))
    assert got.difference == 3 and not got.exact
    assert got.billed_output_image_tokens == 4200 and got.output_difference == 40


# --- Responses and Anthropic: the input total only ----------------------------------------

def test_responses_usage_is_not_comparable_without_text_tokens():
    from openai.types.responses import ResponseUsage
    from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

    body = {"model": "gpt-5.4", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": data_url(png_header(1024, 1024)), "detail": "high"}]}]}
    count = vt.count_request(body)
    assert count.image_tokens == 1229
    usage = ResponseUsage(input_tokens=1229 + 11, output_tokens=50, total_tokens=1290,
                          input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
                          output_tokens_details=OutputTokensDetails(reasoning_tokens=0))
    for value in (usage, usage.model_dump()):
        got = vt.reconcile(count, value)
        assert got.usage_format == "responses" and got.api == "responses"
        assert not got.comparable and not got.exact and got.difference is None
        assert got.billed_image_tokens is None and got.billed_input_tokens == 1240
        assert "only the input total (1240 tokens)" in got.reason
    got = vt.reconcile(count, usage, text_tokens=11)
    assert got.comparable and got.exact and got.difference == 0 and got.basis == "input_tokens"
    got = vt.reconcile(count, usage, text_tokens=10)
    assert got.difference == 1 and not got.exact


@needs("anthropic")
def test_anthropic_usage():
    import anthropic.types as anthropic_types

    count = chat_count("gpt-4o", [(512, 512)])
    usage = anthropic_types.Usage(input_tokens=300, output_tokens=20,
                                  cache_creation_input_tokens=100, cache_read_input_tokens=50)
    for value in (usage, usage.model_dump(), {"input_tokens": 300, "output_tokens": 20}):
        got = vt.reconcile(count, value)
        assert got.usage_format == "anthropic" and not got.comparable
        assert got.billed_image_tokens is None and "text_tokens" in got.reason
    got = vt.reconcile(count, usage)
    assert got.billed_input_tokens == 450  # cache writes and reads are input too
    got = vt.reconcile(count, usage, text_tokens=450 - count.image_tokens)
    assert got.exact


# --- Gemini -------------------------------------------------------------------------------

def gemini_dict(image: int, text: int, camel: bool = True) -> dict:
    if camel:  # the REST API's JSON
        return {"usageMetadata": {
            "promptTokenCount": image + text, "candidatesTokenCount": 7,
            "totalTokenCount": image + text + 7,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": text},
                                    {"modality": "IMAGE", "tokenCount": image}]}}
    return {"usage_metadata": {
        "prompt_token_count": image + text, "candidates_token_count": 7,
        "prompt_tokens_details": [{"modality": "TEXT", "token_count": text},
                                  {"modality": "IMAGE", "token_count": image}]}}


@pytest.mark.parametrize("camel", [True, False])
def test_gemini_dicts(camel):
    count = chat_count("gpt-4o", [(1024, 1024)])
    got = vt.reconcile(count, gemini_dict(765, 20, camel))
    assert got.usage_format == "gemini" and got.exact and got.billed_image_tokens == 765
    assert got.billed_input_tokens == 785 and got.billed_output_tokens == 7
    got = vt.reconcile(count, gemini_dict(770, 20, camel))
    assert got.difference == 5


@needs("google.genai")
def test_gemini_sdk_types():
    import google.genai.types as gt

    count = chat_count("gpt-4o", [(1024, 1024)])
    usage = gt.GenerateContentResponseUsageMetadata(
        prompt_token_count=785, candidates_token_count=3,
        prompt_tokens_details=[gt.ModalityTokenCount(modality=gt.MediaModality.IMAGE, token_count=765),
                               gt.ModalityTokenCount(modality=gt.MediaModality.TEXT, token_count=20)],
        candidates_tokens_details=[gt.ModalityTokenCount(modality=gt.MediaModality.IMAGE,
                                                         token_count=1290)])
    for value in (usage, gt.GenerateContentResponse(usage_metadata=usage)):
        got = vt.reconcile(count, value)
        assert got.usage_format == "gemini" and got.exact
        assert got.billed_output_image_tokens == 1290


def test_gemini_without_image_entry_bills_zero_images():
    count = chat_count("gpt-4o", [(1024, 1024)])
    usage = {"promptTokenCount": 20, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 20}]}
    got = vt.reconcile(count, usage)
    assert got.billed_image_tokens == 0 and got.difference == -765


# --- the estimate's own flags -----------------------------------------------------------

def test_upper_bound_and_assumed_model_carried():
    def body(url):
        return {"model": "gpt-6-sol", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}]}]}

    count = vt.count_request(body(data_url(png_header(1024, 1024))), undocumented="assume")
    got = vt.reconcile(count, chat_usage(count.image_tokens))
    assert got.assumed_from == ("gpt-6-astra",) and not got.upper_bound
    # an https URL, not fetched: its size is unknown, the figure is the most it can cost
    unknown = vt.count_request(body("https://example.com/a.png"), undocumented="assume",
                               on_unknown="upper_bound")
    got = vt.reconcile(unknown, chat_usage(1229))
    assert got.upper_bound and got.comparable
    assert got.as_dict()["upper_bound"] is True
    assert json.dumps(got.as_dict())  # JSON-ready, for logs and telemetry


def test_uncounted_image_is_not_comparable():
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}
    count = vt.count_request(body, on_violation="collect")
    assert count.violations
    got = vt.reconcile(count, chat_usage(765))
    assert not got.comparable and "could not be counted" in got.reason


# --- malformed input: our typed errors ------------------------------------------------------

@pytest.mark.parametrize("usage, error, match", [
    (None, ArgumentTypeError, "usage must be"),
    ("prompt_tokens=5", ArgumentTypeError, "usage must be"),
    (42, ArgumentTypeError, "usage must be"),
    ({}, InvalidArgumentError, "none of the known shapes"),
    ({"foo": 1}, InvalidArgumentError, "none of the known shapes"),
    ({"prompt_tokens": "12"}, ArgumentTypeError, "prompt_tokens must be an integer"),
    ({"prompt_tokens": True}, ArgumentTypeError, "prompt_tokens must be an integer"),
    ({"prompt_tokens": -1}, InvalidArgumentError, ">= 0"),
    ({"prompt_tokens": 5, "prompt_tokens_details": {"image_tokens": 1.5}}, ArgumentTypeError,
     "image_tokens must be an integer"),
    ({"promptTokenCount": 5, "promptTokensDetails": {"IMAGE": 3}}, ArgumentTypeError, "must be a list"),
    ({"promptTokenCount": 5, "promptTokensDetails": [{"tokenCount": 3}]}, InvalidArgumentError,
     "no modality"),
    ({"promptTokenCount": 5, "promptTokensDetails": ["IMAGE"]}, ArgumentTypeError, "must be an object"),
    ({"input_tokens": 5, "input_tokens_details": {"image_tokens": "3"}}, ArgumentTypeError,
     "image_tokens must be an integer"),
])
def test_malformed_usage(usage, error, match):
    with pytest.raises(error, match=match):
        vt.reconcile(chat_count(), usage)


def test_malformed_arguments():
    usage = chat_usage(765)
    with pytest.raises(ArgumentTypeError, match="count must be a RequestCount"):
        vt.reconcile({"image_tokens": 765}, usage)
    with pytest.raises(ArgumentTypeError, match="text_tokens"):
        vt.reconcile(chat_count(), usage, text_tokens="40")
    with pytest.raises(InvalidArgumentError, match="text_tokens"):
        vt.reconcile(chat_count(), usage, text_tokens=-1)


def test_module_and_function_are_one():
    import visiontokens.reconcile as module

    assert vt.Reconciliation is module.Reconciliation
    assert callable(module) and module(chat_count(), chat_usage(765)).exact
