"""Anthropic Messages bodies (providers 1.7) in count_request: where images are, how a body is
told to be one, and the documented limits (providers 1.3) as violations with codes.

Counts are checked against the calculator image by image and against the worked examples of
providers 1.5; the limits by name (DOCUMENTED and ASSUMED constants of requests/anthropic.py).
"""

from __future__ import annotations

import base64
import json

import pytest
from extras import needs
from headers import data_url, gif_header, jpeg_header, png_header
from hypothesis import given, settings
from hypothesis import strategies as st

import visiontokens
from visiontokens import MalformedRequestError, VisionTokensError
from visiontokens.requests import anthropic

SONNET = "claude-sonnet-4-5"  # standard tier (providers 1.4)
OPUS = "claude-opus-4-8"  # high-resolution tier


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image(data: bytes | None = None, media_type: str = "image/png", **extra) -> dict:
    data = png_header(1920, 1080) if data is None else data
    return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                        "data": b64(data)}, **extra}


def body(*blocks, model: str = SONNET, **extra) -> dict:
    return {"model": model, "max_tokens": 1024,
            "messages": [{"role": "user", "content": list(blocks)}], **extra}


def tokens(w, h, model=SONNET):
    return visiontokens.count_image_tokens(w, h, model)


# --- where images are (providers 1.7) ------------------------------------------------------------

def test_every_place_an_image_sits(walk):
    """Base64, URL and file sources; in a tool result; in a document's content source (also
    inside a tool result). Pointers are JSON pointers to the image block."""
    request = body(
        {"type": "text", "text": "hi"},
        image(png_header(1920, 1080)),
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
            image(jpeg_header(1000, 1000), "image/jpeg"),
            {"type": "document", "source": {"type": "content", "content": [
                {"type": "text", "text": "page"}, image(png_header(200, 200))]}}]},
        {"type": "document", "source": {"type": "content", "content": [
            image(png_header(1092, 1092))]}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "file", "file_id": "file_011"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": "JVBERi0="}},
    )
    result = walk.count_request(request, on_unknown="upper_bound",
                                resolve_file=lambda file_id: (3840, 2160))
    assert result.api == "anthropic.messages"
    assert [i.pointer for i in result.images] == [
        "/messages/0/content/1",
        "/messages/0/content/2/content/0",
        "/messages/0/content/2/content/1/source/content/1",
        "/messages/0/content/3/source/content/0",
        "/messages/0/content/4",
        "/messages/0/content/5",
    ]
    assert [i.source for i in result.images] == ["data", "data", "data", "data", "url", "file"]
    # providers 1.5 worked examples, standard tier
    assert [i.tokens for i in result.images] == [1560, 1296, 64, 1521, 1568, 1560]
    assert result.images[4].upper_bound and result.images[4].url == "https://example.com/a.png"
    assert result.images[5].file_id == "file_011"
    assert [(s.pointer, s.type) for s in result.skipped] == [("/messages/0/content/6", "document")]
    assert result.image_tokens == sum(i.tokens for i in result.images)


def test_high_resolution_tier_and_its_bound(walk):
    request = body(image(png_header(3840, 2160)),
                   {"type": "image", "source": {"type": "url", "url": "https://example.com/x"}},
                   model=OPUS)
    result = walk.count_request(request, on_unknown="upper_bound")
    assert [i.tokens for i in result.images] == [4784, 4784]  # providers 1.5; the tier's most
    assert [i.upper_bound for i in result.images] == [False, True]


def test_json_bytes_text_and_dict_count_alike(walk):
    request = body(image(png_header(2000, 1500)), image(jpeg_header(1075, 1520), "image/jpeg"))
    counts = {walk.count_request(form).image_tokens
              for form in (request, json.dumps(request), json.dumps(request).encode())}
    assert counts == {1564 + 1551}  # providers 1.5: the 2000x1500 tie, the A4 page


def test_detail_does_not_exist_for_claude(walk):
    result = walk.count_request(body(image()))
    assert result.images[0].detail is None and result.images[0].tokens == tokens(1920, 1080)


def test_assistant_turns_and_string_content(walk):
    request = {"model": SONNET, "max_tokens": 5, "system": [{"type": "text", "text": "s"}],
               "messages": [{"role": "user", "content": "text only"},
                            {"role": "assistant", "content": [image(png_header(200, 200))]}]}
    result = walk.count_request(request)
    assert [i.pointer for i in result.images] == ["/messages/1/content/0"]


# --- telling a Messages body from a Chat Completions body ----------------------------------------

def test_openai_bodies_stay_chat(walk):
    chat = {"model": "gpt-4o", "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(png_header(512, 512))}}]}]}
    assert walk.count_request(chat).api == "chat"
    assert not walk.messages_body(chat)
    # a user turn with only an image_url part, no system message
    chat["messages"].pop(0)
    assert walk.count_request(chat).api == "chat"


def test_messages_bodies_are_told_by_system_or_their_blocks(walk):
    assert walk.count_request(body(image())).api == "anthropic.messages"
    text_only = {"model": SONNET, "max_tokens": 5, "system": "be brief",
                 "messages": [{"role": "user", "content": "hello"}]}
    result = walk.count_request(text_only)
    assert (result.api, result.image_tokens, result.model) == ("anthropic.messages", 0, SONNET)
    tool = {"model": SONNET, "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}]}
    assert walk.count_request(tool).api == "anthropic.messages"


def test_a_chat_body_with_a_stray_image_block_notes_it(walk):
    mixed = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_url(png_header(512, 512))}}, image()]}]}
    result = walk.count_request(mixed)
    assert result.api == "chat" and len(result.images) == 1
    assert [(s.pointer, s.type) for s in result.skipped] == [("/messages/0/content/1", "image")]
    # told explicitly, the same body is a Messages body (whose image_url part is no image)
    assert walk.count_request(mixed, api="anthropic.messages").images[0].pointer == "/messages/0/content/1"


# --- the limits (providers 1.3) ------------------------------------------------------------------

def codes(result):
    return [(v.code, v.pointer) for v in result.violations]


def test_limit_constants_by_name():
    assert anthropic.MAX_SIDE == 8000  # DOCUMENTED
    assert anthropic.MANY_IMAGES == 20  # DOCUMENTED
    assert anthropic.MANY_IMAGES_MAX_SIDE == 2000  # ASSUMED: the docs' guidance, enforced
    assert (anthropic.MAX_IMAGES_200K, anthropic.MAX_IMAGES_OTHER) == (100, 600)  # DOCUMENTED
    assert anthropic.MB == 2**20  # ASSUMED reading of "MB"
    assert (anthropic.MAX_BASE64_DIRECT, anthropic.MAX_BASE64_CLOUD) == (10 * 2**20, 5 * 2**20)
    assert (anthropic.MAX_REQUEST_DIRECT, anthropic.MAX_REQUEST_VERTEX) == (32 * 2**20, 30 * 2**20)


def test_8000_px_per_side(walk):
    result = walk.count_request(body(image(png_header(8001, 100)), image(png_header(8000, 100))),
                                on_violation="collect")
    assert codes(result) == [("image_dimensions_too_large", "/messages/0/content/0")]
    assert result.images[0].error is result.violations[0] and result.images[0].tokens is None
    assert result.images[1].tokens is not None
    with pytest.raises(visiontokens.ImageRejectedError) as raised:
        walk.count_request(body(image(png_header(100, 8001))))
    assert raised.value.code == "image_dimensions_too_large"


def test_the_stricter_side_limit_of_many_image_requests(walk):
    """More than 20 image blocks, tool results included: every side <= 2000 (ASSUMED number)."""
    big = image(png_header(2001, 100))
    small = [image(png_header(100, 100)) for _ in range(19)]
    twenty = body(big, *small)
    assert walk.count_request(twenty, on_violation="collect").violations == ()
    nested = {"type": "tool_result", "tool_use_id": "t", "content": [image(png_header(10, 10))]}
    many = body(big, *small, nested)
    result = walk.count_request(many, on_violation="collect")
    assert codes(result) == [("image_dimensions_too_large", "/messages/0/content/0")]
    assert "many-image" in result.violations[0].message


@pytest.mark.parametrize(("model", "most"), [
    ("claude-3-5-sonnet-20241022", 100), ("claude-haiku-4-5", 100), ("claude-opus-4-1", 100),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", 100),
    ("claude-sonnet-4-5", 600), ("claude-opus-4-8", 600), ("claude-sonnet-4-5@20250929", 600),
])
def test_images_per_request_by_model(model, most):
    assert anthropic.max_images(model) == most  # which model has 200k only: ASSUMED


def test_too_many_images(walk):
    blocks = [image(png_header(28, 28)) for _ in range(101)]
    result = walk.count_request(body(*blocks, model="claude-3-5-sonnet-20241022"),
                                on_violation="collect")
    assert codes(result) == [("too_many_images", "")]
    assert walk.count_request(body(*blocks), on_violation="collect").violations == ()
    with pytest.raises(visiontokens.TooManyImagesError):
        walk.count_request(body(*blocks, model="claude-haiku-4-5"))


def test_base64_size_per_image_by_platform(walk):
    """10 MB direct, 5 MB on Bedrock and Vertex, measured as the base64 length."""
    padding = b"\0" * (6 * 2**20)  # a PNG's header, then bytes the header reader never reads
    large = image(png_header(100, 100) + padding)
    assert walk.count_request(body(large), on_violation="collect").violations == ()
    for model in ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929",
                  "bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0"):
        result = walk.count_request(body(large, model=model), on_violation="collect")
        assert codes(result) == [("image_too_large", "/messages/0/content/0")], model
    huge = image(png_header(100, 100) + b"\0" * (8 * 2**20))
    result = walk.count_request(body(huge), on_violation="collect")
    assert codes(result) == [("image_too_large", "/messages/0/content/0")]


def test_request_size(walk):
    blocks = [image(png_header(100, 100) + b"\0" * (7 * 2**20)) for _ in range(5)]
    request = body(*blocks)  # 5 x ~9.3 MB of base64: over 32 MB, each image under 10 MB
    result = walk.count_request(request, on_violation="collect")
    assert codes(result) == [("request_too_large", "")]
    text = json.dumps(body(image(png_header(10, 10)), x="y" * (33 * 2**20)))
    assert codes(walk.count_request(text, on_violation="collect")) == [("request_too_large", "")]


def test_oversized_image_error(walk):
    """providers 1.2: oversized_image "error" refuses an image the model would resize."""
    strict = {"transformations": {"oversized_image": "error"}}
    request = body(image(png_header(1920, 1080), **strict), image(png_header(1000, 1000), **strict),
                   image(png_header(1920, 1080)))
    result = walk.count_request(request, on_violation="collect")
    assert codes(result) == [("oversized_image", "/messages/0/content/0")]
    # on the high-resolution tier 1920x1080 is not resized (providers 1.5)
    assert walk.count_request({**request, "model": OPUS}, on_violation="collect").violations == ()


def test_formats_and_sources_on_clouds(walk):
    request = body(image(gif_header(10, 10), "image/gif"), image(png_header(10, 10), "image/bmp"),
                   {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}})
    result = walk.count_request(request, on_violation="collect", on_unknown="upper_bound")
    assert codes(result) == [("unsupported_image_format", "/messages/0/content/1")]
    result = walk.count_request({**request, "model": "anthropic.claude-sonnet-4-5-20250929-v1:0"},
                                on_violation="collect", on_unknown="upper_bound")
    assert codes(result) == [("unsupported_image_format", "/messages/0/content/1"),
                             ("unsupported_image_source", "/messages/0/content/2")]


def test_platform_from_the_id():
    assert anthropic.platform("claude-sonnet-4-5") == "anthropic"
    assert anthropic.platform("anthropic/claude-sonnet-4-5") == "anthropic"
    assert anthropic.platform("global.anthropic.claude-opus-4-8") == "bedrock"
    assert anthropic.platform("anthropic.claude-haiku-4-5-20251001-v1:0") == "bedrock"
    assert anthropic.platform("claude-opus-4-1@20250805") == "vertex"
    assert anthropic.platform("vertex_ai/claude-opus-4-1") == "vertex"


# --- hostile bodies ------------------------------------------------------------------------------

@pytest.mark.parametrize(("request_", "pointer"), [
    ({"messages": {}}, "/messages"),
    ({"messages": [3]}, "/messages/0"),
    ({"messages": [{"content": 3}]}, "/messages/0/content"),
    ({"messages": [{"content": [3]}]}, "/messages/0/content/0"),
    ({"messages": [{"content": [{"type": []}]}]}, "/messages/0/content/0/type"),
    ({"messages": [{"content": [{"type": "image"}]}]}, "/messages/0/content/0/source"),
    ({"messages": [{"content": [{"type": "image", "source": []}]}]}, "/messages/0/content/0/source"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": {}}}]}]},
     "/messages/0/content/0/source/type"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": "text"}}]}]},
     "/messages/0/content/0/source/type"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": "base64", "media_type": 1,
                                                             "data": ""}}]}]},
     "/messages/0/content/0/source/media_type"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": "base64",
                                                             "media_type": "image/png", "data": 5}}]}]},
     "/messages/0/content/0/source/data"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": "url", "url": None}}]}]},
     "/messages/0/content/0/source/url"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": "file"}}]}]},
     "/messages/0/content/0/source/file_id"),
    ({"messages": [{"content": [{"type": "image", "source": {"type": "url", "url": "https://e"},
                                 "transformations": {"oversized_image": "crop"}}]}]},
     "/messages/0/content/0/transformations/oversized_image"),
    ({"messages": [{"content": [{"type": "tool_result", "content": {}}]}]},
     "/messages/0/content/0/content"),
    ({"messages": [{"content": [{"type": "document", "source": "x"}]}]},
     "/messages/0/content/0/source"),
    ({"messages": [{"content": [{"type": "document", "source": {"type": "content", "content": 7}}]}]},
     "/messages/0/content/0/source/content"),
    ({"model": 3, "messages": []}, "/model"),
])
def test_hostile_shapes_are_typed_errors_with_pointers(walk, request_, pointer):
    with pytest.raises(MalformedRequestError) as raised:
        walk.count_request({"model": SONNET, **request_}, api="anthropic.messages")
    assert raised.value.pointer == pointer
    assert raised.value.code == "malformed_request"


def test_huge_counts_of_blocks_stop_with_our_error(walk):
    blocks = [image(png_header(10, 10))] * 3601
    with pytest.raises(visiontokens.TooManyImagesError):
        walk.count_request(body(*blocks))
    text = [{"type": "text", "text": "x"}] * 200_000  # many blocks, no image: linear, no error
    assert walk.count_request(body(*text)).image_tokens == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "source", "content", "data", "media_type", "url", "file_id",
                         "transformations", "oversized_image", "messages", "model"]),
        inner, max_size=4),
    max_leaves=20)
block_types = st.sampled_from(["image", "tool_result", "document", "text", "base64", "url",
                               "file", "content"])


@st.composite
def messages_bodies(draw):
    def block():
        kind = draw(block_types)
        source = draw(st.dictionaries(st.sampled_from(["type", "media_type", "data", "url",
                                                       "file_id", "content"]),
                                      json_values | block_types, max_size=4))
        return draw(st.sampled_from([
            {"type": kind, "source": source},
            {"type": kind, "content": draw(json_values)},
            draw(json_values)]))
    messages = [{"role": "user", "content": [block() for _ in range(draw(st.integers(0, 3)))]}
                for _ in range(draw(st.integers(0, 2)))]
    return {"model": draw(st.sampled_from([SONNET, OPUS, None, 3])), "max_tokens": 1,
            "messages": draw(st.sampled_from([messages, draw(json_values)]))}


@settings(max_examples=150, deadline=None)
@given(messages_bodies())
def test_arbitrary_json_under_the_messages_shape(walk, request_):
    """Any JSON under these shapes gives a count or our typed error, never a bare exception."""
    try:
        result = walk.count_request(request_, api="anthropic.messages", on_violation="collect",
                                    on_unknown="upper_bound")
    except VisionTokensError:
        return
    assert result.image_tokens >= 0


# --- the anthropic SDK's own request types and what its client sends ---------------------------

@needs("anthropic")
def test_the_sdks_params_and_the_bytes_its_client_sends(walk):
    import anthropic as anthropic_sdk
    import httpx2 as httpx  # (the anthropic SDK's own HTTP client)
    from anthropic.types import (
        Base64ImageSourceParam,
        ImageBlockParam,
        TextBlockParam,
        ToolResultBlockParam,
        URLImageSourceParam,
    )

    messages = [
        dict(role="user", content=[
            TextBlockParam(type="text", text="what is it?"),
            ImageBlockParam(type="image", source=Base64ImageSourceParam(
                type="base64", media_type="image/png", data=b64(png_header(2000, 1500))))]),
        dict(role="assistant", content=[
            {"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]),
        dict(role="user", content=[ToolResultBlockParam(
            type="tool_result", tool_use_id="toolu_1", content=[
                ImageBlockParam(type="image", source=URLImageSourceParam(
                    type="url", url="https://example.com/shot.png"))])]),
    ]
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, json={
            "id": "msg_1", "type": "message", "role": "assistant", "model": SONNET,
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}})

    client = anthropic_sdk.Anthropic(api_key="test", max_retries=0,
                                     http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    client.messages.create(model=SONNET, max_tokens=16, messages=messages)
    params = {"model": SONNET, "max_tokens": 16, "messages": messages}
    counts = [walk.count_request(form, on_unknown="upper_bound") for form in (params, sent[0])]
    assert counts[0] == counts[1]
    assert [i.pointer for i in counts[0].images] == ["/messages/0/content/1",
                                                      "/messages/2/content/0/content/0"]
    assert [i.tokens for i in counts[0].images] == [1564, 1568]  # the tie case; the tier's most
    # the SDK's response objects resent as the next assistant turn (pydantic models)
    reply = client.messages.create(model=SONNET, max_tokens=16, messages=messages)
    more = {**params, "messages": [*messages, {"role": "assistant", "content": reply.content}]}
    assert walk.count_request(more, on_unknown="upper_bound").image_tokens == counts[0].image_tokens
    client.close()


@pytest.mark.parametrize("request_", [
    {"messages": [{"role": []}]}, {"messages": [{"role": {}, "content": [{"type": {}}]}]},
    {"messages": [{"content": [{"type": ["image"]}, []]}]}, {"messages": "x"},
])
def test_detection_never_fails_on_odd_values(walk, request_):
    assert walk.messages_body(request_) is False
