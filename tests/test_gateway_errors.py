"""Refusals in the shape of the provider a request is for, read by that provider's own SDK.

``anthropic`` and ``google-genai`` are pointed at a real server on 127.0.0.1: ``visiontokens
serve`` (its ``/v1/check`` takes the provider path after it, as a gateway's hook calls it) and
the ASGI middleware over a fake upstream. A request over the image-token budget and one the
provider would refuse must make each SDK raise its own typed error, with our message, the
status the provider answers with, and, for the middleware, never reach the upstream.
"""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from extras import integration_module
from headers import gif_header, png_header
from servers import FakeOpenAI, running, serve

pytestmark = integration_module("anthropic", "google.genai", "uvicorn")

import anthropic  # noqa: E402
from google import genai  # noqa: E402
from google.genai import errors as genai_errors  # noqa: E402
from google.genai import types as genai_types  # noqa: E402

import visiontokens  # noqa: E402
from visiontokens.asgi import ImageTokenMiddleware  # noqa: E402
from visiontokens.gateway.config import ServeConfig  # noqa: E402

BUDGET = 2_000  # one of the images below fits, two do not
CLAUDE, GEMINI = "claude-sonnet-4-5", "gemini-2.5-flash"


@contextlib.contextmanager
def face(kind: str, status: int):
    """(the base URL an SDK is given, the fake upstream or None)."""
    if kind == "serve":
        with running(ServeConfig(max_image_tokens=BUDGET, over_budget_status=status,
                                 concurrency=1)) as (url, _):
            yield f"{url}/v1/check", None
        return
    upstream = FakeOpenAI()
    app = ImageTokenMiddleware(upstream, reject_violations=True, max_image_tokens=BUDGET,
                               over_budget_status=status)
    with serve(app) as url:
        yield url, upstream


@pytest.fixture(scope="module", params=[("serve", 429), ("serve", 413),
                                        ("middleware", 429), ("middleware", 413)],
                ids=lambda p: f"{p[0]}-{p[1]}")
def gateway(request):
    kind, status = request.param
    with face(kind, status) as (url, upstream):
        yield url, status, upstream


def never_reached(upstream: FakeOpenAI | None) -> None:
    assert upstream is None or upstream.received == []


# --- Anthropic ------------------------------------------------------------------------------

def claude_body(*images: bytes) -> dict:
    return {"model": CLAUDE, "max_tokens": 8, "messages": [{"role": "user", "content": [
        *({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                       "data": base64.b64encode(image).decode()}}
          for image in images), {"type": "text", "text": "Compare."}]}]}


def test_anthropic_sdk_raises_its_own_errors(gateway, request):
    url, status, upstream = gateway
    # closed at the end: a pooled connection left to the collector warns in a later test
    client = anthropic.Anthropic(api_key="test", base_url=url, max_retries=0)
    request.addfinalizer(client.close)
    picture = png_header(1920, 1080)
    over = claude_body(picture, picture)
    tokens = visiontokens.count_request(over).image_tokens
    assert tokens > BUDGET >= visiontokens.count_request(claude_body(picture)).image_tokens

    expected = anthropic.RateLimitError if status == 429 else anthropic.ContentTooLargeError
    with pytest.raises(expected) as raised:
        client.messages.create(**over)
    error = raised.value
    assert error.status_code == status
    assert set(error.body) == {"type", "error"} and error.body["type"] == "error"
    assert error.body["error"]["type"] == ("rate_limit_error" if status == 429
                                           else "request_too_large")
    message = error.body["error"]["message"]
    assert f"cost {tokens} input tokens" in message and f"limit of {BUDGET} " in message
    assert message in str(error)

    refused = claude_body(png_header(8001, 100))  # over Anthropic's 8000 px (providers 1.3)
    violation = visiontokens.count_request(refused, on_violation="collect").violations[0]
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(**refused)
    assert raised.value.status_code == 400
    assert raised.value.body == {"type": "error", "error": {
        "type": "invalid_request_error", "message": str(violation)}}
    assert str(violation) in str(raised.value)
    never_reached(upstream)


# --- Gemini ---------------------------------------------------------------------------------

def gemini_parts(*images: tuple[bytes, str]) -> list:
    return [*(genai_types.Part.from_bytes(data=data, mime_type=kind) for data, kind in images),
            "Compare."]


def gemini_body(*images: tuple[bytes, str]) -> bytes:
    """The JSON the SDK sends for ``gemini_parts`` (the REST spelling, which reads the same)."""
    return json.dumps({"contents": [{"role": "user", "parts": [
        {"inline_data": {"mime_type": kind, "data": base64.b64encode(data).decode()}}
        for data, kind in images]}]}).encode()


def test_gemini_sdk_raises_its_own_errors(gateway, request):
    url, status, upstream = gateway
    client = genai.Client(api_key="test", http_options=genai_types.HttpOptions(base_url=url))
    request.addfinalizer(client.close)
    picture = (png_header(960, 540), "image/png")
    tokens = visiontokens.count_request(gemini_body(picture, picture), model=GEMINI).image_tokens
    assert tokens > BUDGET >= visiontokens.count_request(gemini_body(picture),
                                                         model=GEMINI).image_tokens

    with pytest.raises(genai_errors.ClientError) as raised:
        client.models.generate_content(model=GEMINI, contents=gemini_parts(picture, picture))
    error = raised.value
    # Google answers a quota with 429 RESOURCE_EXHAUSTED, and has no 413: a request too
    # large is its 400 INVALID_ARGUMENT
    google = (429, "RESOURCE_EXHAUSTED") if status == 429 else (400, "INVALID_ARGUMENT")
    assert (error.code, error.status) == google
    assert error.response.status_code == google[0]
    assert set(error.details) == {"error"} and set(error.details["error"]) == {
        "code", "message", "status"}
    assert f"cost {tokens} input tokens" in error.message
    assert f"limit of {BUDGET} " in error.message

    animated = (gif_header(64, 64), "image/gif")  # not a format Gemini takes (providers 2.3)
    violation = visiontokens.count_request(gemini_body(animated), model=GEMINI,
                                           on_violation="collect").violations[0]
    with pytest.raises(genai_errors.ClientError) as raised:
        client.models.generate_content(model=GEMINI, contents=gemini_parts(animated))
    assert (raised.value.code, raised.value.status) == (400, "INVALID_ARGUMENT")
    assert raised.value.message == str(violation)
    never_reached(upstream)
