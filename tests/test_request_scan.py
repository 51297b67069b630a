"""The in-place request scan against the dict path: one walker, two inputs, equal answers.

count_request reads a bytes body through the scan (nodes, and long strings left in the body as
BodyString); a dict goes the way it always went. Every body here, as a dict and as its JSON
bytes, bytearray and memoryview, must give equal results, equal errors (class, code, pointer,
message) and equal violations, on both twins. The bodies: every image of the header corpus
(tests/corpus.py) in each image slot, hand-made bodies reaching each branch of the walk and
each of its errors, the Images API's JSON bodies, and hypothesis's bodies with strings long
enough (1 KB and more) to come out of the scan as BodyString wherever a string may stand.
"""

from __future__ import annotations

import base64
import json

import pytest
from corpus import cases
from headers import data_url, gif_header, jpeg_header, png_header, webp_header
from hypothesis import example, given
from json_values import json_values
from hypothesis import strategies as st

from visiontokens import VisionTokensError

LONG = "x" * 1500  # a string the scan hands out as a BodyString (over 1 KB, no escape)
PNG = data_url(png_header(1920, 1080) + bytes(3000))  # long enough to be a BodyString
JPEG = data_url(jpeg_header(1800, 2400) + bytes(2000), "image/jpeg")
SHORT = data_url(png_header(300, 200))  # a str, not a BodyString
ANIMATED = data_url(gif_header(8, 8, frames=2) + bytes(2000), "image/gif")
URLS = [PNG, JPEG, SHORT, ANIMATED, "DATA:image/png;base64," + PNG.split(",", 1)[1],
        "data:image/png;base64,iVBORw0K" + "A" * 2000, "data:text/plain;base64," + "A" * 2000,
        "data:image/png;base64,é" + "A" * 2000, "https://example.com/cat.png",
        "https://example.com/" + LONG, "ftp://example.com/x.png", "ftp://" + LONG,
        base64.b64encode(webp_header(1024, 768, "VP8L") + bytes(3000)).decode(),  # raw base64
        PNG.split(",", 1)[1][:40], LONG]


def outcome(fn, *args, **kwargs):
    """What a call did, comparably: errors by class, code, pointer and message."""
    try:
        result = fn(*args, **kwargs)
    except VisionTokensError as error:
        return ("error", type(error), error.code, error.pointer, str(error))
    def plain(error):
        return None if error is None else (type(error), error.code, error.pointer, str(error))
    images = tuple(i._replace(error=plain(i.error)) for i in result.images)
    return ("value", result._replace(images=images,
                                     violations=tuple(plain(v) for v in result.violations)))


def assert_same_every_way(walk, body, **options):
    expected = outcome(walk.count_request, json.loads(json.dumps(body)), **options)
    raw = json.dumps(body, ensure_ascii=False).encode()
    for form in (raw, bytearray(raw), memoryview(raw)):
        assert outcome(walk.count_request, form, **options) == expected, type(form)
    for chunk in CHUNKS:  # a gateway's BodyBuffer, counted as it is
        assert outcome(walk.count_request, reused_buffer(walk, raw, chunk), **options) \
            == expected, chunk
    return expected


#: Chunk sizes a server may hand a body over in: whole 4 KB blocks, and blocks cut across
#: chunks (3 blocks and a byte).
CHUNKS = (65536, 12289)
#: What a buffer held before: every byte a string's plain run stops at, so that a block left
#: in its chunk and read from the buffer's memory instead could never pass unnoticed.
POISON = b'"\\\x00\xff\n{' * 512


def reused_buffer(walk, raw: bytes, chunk: int):
    """``raw`` put, ``chunk`` bytes at a time, into the walk twin's BodyBuffer after another
    body (POISON) was put in it and cleared, as a gateway reuses one."""
    buffer = walk.BodyBuffer()
    buffer.put((POISON * (len(raw) // len(POISON) + 1))[:len(raw)])
    buffer.clear()
    for at in range(0, len(raw), chunk):
        buffer.put(raw[at:at + chunk])
    return buffer


def chat(*parts, model="gpt-4o", **extra):
    return {"model": model, "messages": [{"role": "user", "content": list(parts)}], **extra}


def responses(*parts, model="gpt-4o", **extra):
    return {"model": model, "input": [{"role": "user", "content": list(parts)}], **extra}


def image_part(url, detail=None):
    image = {"url": url}
    if detail is not None:
        image["detail"] = detail
    return {"type": "image_url", "image_url": image}


COLLECT = dict(on_unknown="upper_bound", on_violation="collect")


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_every_corpus_image_counts_alike_in_place(case, walk):
    url = data_url(case.data)
    assert_same_every_way(walk, chat(image_part(url, "high"), image_part(url)), **COLLECT)
    assert_same_every_way(walk, responses({"type": "input_image", "image_url": url}), **COLLECT)


BODIES = [
    chat(*[image_part(url, detail) for url in URLS for detail in (None, "low")]),
    responses(*[{"type": "input_image", "image_url": url, "detail": "high"} for url in URLS]),
    chat({"type": "image_url", "image_url": PNG}, {"type": "image_url", "image_url": LONG}),
    chat({"type": "text", "text": LONG}, {"type": LONG}, {"type": "file", "file": {}},
         {"type": "input_image", "image_url": PNG}),
    {"model": "gpt-4o", "messages": [{"role": "user", "content": LONG}, {"content": None}]},
    {"model": "gpt-4o", "input": LONG},
    {"model": "gpt-4o", "input": [{"type": LONG}, {"type": None}, {"type": "message", "content": LONG},
                                  {"type": "function_call_output", "output": LONG},
                                  {"type": "function_call_output", "output": [
                                      {"type": "input_image", "image_url": JPEG}]},
                                  {"type": "computer_call_output", "output": {
                                      "type": "input_image", "image_url": PNG}},
                                  {"type": "input_file", "file_id": "f"}]},
    {"model": "gpt-4o", "prompt": {"id": "p", "variables": {
        "a": LONG, "b": {"type": "input_image", "image_url": PNG}, "a/b~c": {"type": "input_file"},
        "b": {"type": "input_image", "file_id": "file-" + LONG}}}},  # noqa: F601 (a repeated name: the last)
    responses({"type": "input_image", "file_id": "file-1", "detail": LONG}),
    responses({"type": "input_image", "image_url": PNG, "file_id": "file-2"}),
    chat(image_part(PNG), model=LONG),
    {"model": "gpt-4o", "messages": [{"content": [image_part(PNG)]}] * 3,
     "messages ": [], "model ": LONG},
    # duplicate keys are not expressible as a dict: tested on bytes below
    {"model": "gpt-4o", "input": [], "tools": [{"type": "image_generation", "size": "1024x1024"}]},
    {"model": "gpt-4o", "input": "x", "tools": [{"type": "image_generation", "model": LONG}]},
    {"model": "gpt-image-1", "prompt": LONG, "size": "1024x1024", "x": [{}, {}]},
    {"model": "gpt-image-1", "prompt": "p", "images": [{"image_url": PNG}, {"file_id": "f"}],
     "mask": {"image_url": SHORT}},
    {"model": "gpt-image-1", "prompt": "p", "size": {"a": 1}},
    {"model": "gpt-image-1", "prompt": "p", "images": [{"image_url": PNG}] * 17},
    {"model": "gpt-image-1", "prompt": "p", "images": LONG},
]
ERRORS = [  # each the walk's error at its pointer, the value's type named as the dict's
    {"model": "gpt-4o", "messages": {"a": 1}},
    {"model": "gpt-4o", "messages": LONG},
    {"model": "gpt-4o", "messages": [LONG]},
    {"model": "gpt-4o", "messages": [{"content": {"a": [1]}}]},
    {"model": "gpt-4o", "messages": [{"content": [[1], LONG]}]},
    chat({"type": "image_url", "image_url": [PNG]}),
    chat({"type": "image_url", "image_url": {"url": {"u": PNG}}}),
    chat({"type": "image_url", "image_url": {"url": PNG, "detail": [1]}}),
    chat({"type": ["image_url"]}),
    chat(image_part(PNG), model={"id": LONG}),
    chat(image_part(PNG), image_part("https://x/" + LONG)),
    {"model": "gpt-4o", "input": {"a": 1}},
    {"model": "gpt-4o", "input": [{"type": [1]}]},
    {"model": "gpt-4o", "input": [{"type": "computer_call_output", "output": LONG}]},
    {"model": "gpt-4o", "input": [{"type": "function_call_output", "output": {"a": 1}}]},
    responses({"type": "input_image"}),
    responses({"type": "input_image", "image_url": [PNG]}),
    {"model": "gpt-4o", "prompt": LONG},
    {"model": "gpt-4o", "prompt": {"variables": [1]}},
    {"model": "gpt-4o", "prompt": {"variables": {"v": [LONG]}}},
    {"model": "gpt-4o", "prompt": {"variables": {"v": {"type": {"t": 1}}}}},
    {"model": "gpt-4o", "input": [], "tools": {"a": 1}},
    {"model": "gpt-4o", "input": [], "tools": [{"type": "image_generation", "size": [1]}]},
    {"model": "gpt-4o"},
    {"model": "gpt-4o", "messages": [], "input": []},
    chat(*[image_part(SHORT)] * 1501),
]


@pytest.mark.parametrize("body", BODIES + ERRORS)
@pytest.mark.parametrize("options", [{}, COLLECT], ids=["raise", "collect"])
def test_bodies_count_alike_as_a_dict_and_in_place(body, options, walk):
    assert_same_every_way(walk, body, **options)


@pytest.mark.parametrize("api", ["chat", "responses", "images.generations", "images.edits"])
@pytest.mark.parametrize("body", [BODIES[0], BODIES[1], BODIES[-5], BODIES[-4]])
def test_a_named_api_counts_alike_as_a_dict_and_in_place(body, api, walk):
    assert_same_every_way(walk, body, api=api, **COLLECT)
    assert_same_every_way(walk, body, content_type="application/json", **COLLECT)


def test_a_repeated_key_is_its_last_value_as_in_json_loads(walk):
    raw = (b'{"model": "nope", "messages": 1, "model": "gpt-4o", "messages": [{"content": ['
           b'{"type": "image_url", "image_url": {"url": "x", "url": "' + PNG.encode() + b'"}}]}]}')
    assert outcome(walk.count_request, raw) == outcome(walk.count_request, json.loads(raw))
    assert outcome(walk.count_request, raw)[0] == "value"


def test_a_dense_body_is_walked_without_building_it(walk):
    """10,000 empty messages: each one is read and dropped (the walk holds no list of them)."""
    body = {"model": "gpt-4o", "messages": [{}] * 10_000 + [{"content": [image_part(PNG)]}]}
    result = assert_same_every_way(walk, body)
    assert result[1].images[0].pointer == "/messages/10000/content/0"


long_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(0, 600))
slot = st.one_of(st.sampled_from(URLS), long_text, st.none(), st.integers(), st.just([LONG]),
                 st.just({"a": LONG}))


@st.composite
def bodies(draw):
    if draw(st.booleans()):
        parts = [{"type": draw(st.sampled_from(["image_url", "text", "file", LONG, "input_image"])),
                  "image_url": draw(st.one_of(slot, st.fixed_dictionaries(
                      {"url": slot}, optional={"detail": st.one_of(st.sampled_from(
                          ["low", "high", "auto", "bad"]), slot)})))}
                 for _ in range(draw(st.integers(0, 4)))]
        body = {"messages": [{"role": "user", "content": draw(st.one_of(st.just(parts), slot))}]}
    else:
        parts = [{"type": draw(st.sampled_from(["input_image", "input_text", "input_file", LONG])),
                  "image_url": draw(slot), "detail": draw(st.one_of(st.none(), slot))}
                 for _ in range(draw(st.integers(0, 4)))]
        body = {"input": [{"type": draw(st.sampled_from(["message", LONG])), "content": parts}]}
    body["model"] = draw(st.one_of(st.sampled_from(["gpt-4o", "gpt-5.4", "nope"]), slot))
    return body


@given(body=bodies(), collect=st.booleans())
@example(body=chat(image_part(PNG)), collect=False)
def test_generated_bodies_count_alike_as_a_dict_and_in_place(body, collect, walk):
    assert_same_every_way(walk, body, **(COLLECT if collect else {}))


def test_a_large_body_counts_alike_off_the_event_loop(walk):
    """count_request_async scans a body of OFF_LOOP_BYTES or more on a thread: same answer."""
    import asyncio

    body = chat(image_part(PNG), image_part("data:image/png;base64," + "A" * walk.OFF_LOOP_BYTES),
                image_part(JPEG, "low"))
    raw = json.dumps(body).encode()
    assert len(raw) >= walk.OFF_LOOP_BYTES
    for form in (raw, bytearray(raw), memoryview(raw)):
        assert (outcome(lambda: asyncio.run(walk.count_request_async(form, **COLLECT)))
                == outcome(walk.count_request, body, **COLLECT))
    bad = raw[:-1]
    assert (outcome(lambda: asyncio.run(walk.count_request_async(bad)))
            == outcome(walk.count_request, bad))


@pytest.fixture
def threads(monkeypatch):
    """The functions count_request_async hands to a thread (asyncio.to_thread, spied on)."""
    import asyncio

    handed: list = []
    to_thread = asyncio.to_thread

    async def spy(function, *args):
        handed.append(function)
        return await to_thread(function, *args)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    return handed


@pytest.mark.parametrize("over", [-1, 0, 1, 40_000])
def test_a_dense_small_body_counts_alike_off_the_event_loop(walk, over, threads):
    """A body under OFF_LOOP_BYTES is scanned on the event loop only while it holds at most
    LOOP_MAX_VALUES values; past that, its scan stops and a thread counts it (1 MB of
    ``{}`` took a quarter of a second to walk, all of it on the loop). Same answer either way,
    and the scan's limit never reaches the thread's count."""
    import asyncio

    assert walk.LOOP_MAX_VALUES == 10_000 and "10,000 JSON" in walk.count_request_async.__doc__
    body = chat(image_part(PNG), padding=[])
    body["padding"] = [0] * (walk.LOOP_MAX_VALUES + over - json_values(json.dumps(body)))
    raw = json.dumps(body).encode()
    assert json_values(raw) == walk.LOOP_MAX_VALUES + over and len(raw) < walk.OFF_LOOP_BYTES
    for form in (raw, bytearray(raw), memoryview(raw)):
        assert (outcome(lambda: asyncio.run(walk.count_request_async(form, **COLLECT)))
                == outcome(walk.count_request, body, **COLLECT))
    assert len(threads) == (3 if over > 0 else 0)
    bad = raw[:-1]  # malformed at its end: told alike, by the thread's scan when dense
    assert (outcome(lambda: asyncio.run(walk.count_request_async(bad)))
            == outcome(walk.count_request, bad))



def in_body_buffer(walk, raw: bytes, chunk: int = 65536):
    """``raw`` put in the walk twin's BodyBuffer, chunk by chunk, as a gateway reads it."""
    buffer = walk.BodyBuffer()
    for at in range(0, len(raw), chunk):
        buffer.put(raw[at:at + chunk])
    return buffer


def test_a_large_body_in_a_body_buffer_counts_where_its_scan_is_short(walk, threads):
    """A gateway's BodyBuffer of 2 MB: the compiled scan steps over its data URL's plain
    blocks, so read_bound is under OFF_LOOP_BYTES and the count stays on the event loop (no
    thread to hand over to and back); the pure twin reads it all, on a thread. 2 MB of
    spaces are read whole by either twin: a thread. The answer is the bytes' every way, and
    once counted, nothing holds the buffer's bytes: it empties for the next body (the
    thread's future kept its result, the body's nodes, until the task waited again)."""
    import asyncio
    import random

    url = data_url(png_header(1920, 1080) + random.Random(7).randbytes(1_500_000), "image/png")
    image = chat(image_part(url), image_part(JPEG, "low"))
    spaced = json.dumps(chat(image_part(PNG))).encode()[:-1] + b" " * 2_000_000 + b"}"
    compiled = walk.IMPLEMENTATION == "cython"
    for raw, on_loop in ((json.dumps(image).encode(), compiled), (spaced, False)):
        assert len(raw) >= walk.OFF_LOOP_BYTES
        buffer = in_body_buffer(walk, raw)
        threads.clear()

        async def count_then_clear():
            with buffer.view() as view:
                counted = await walk.count_request_async(view, **COLLECT)
            buffer.clear()  # before the task waits again: BufferError if the body were held
            return counted

        assert (outcome(lambda: asyncio.run(count_then_clear()))
                == outcome(walk.count_request, raw, **COLLECT))
        assert len(threads) == (0 if on_loop else 1) and len(buffer) == 0


# --- the providers' formats (Anthropic Messages, Gemini generateContent) -------------------------
RAW = base64.b64encode(png_header(1920, 1080) + bytes(3000)).decode()
PROVIDER_BODIES = [
    {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": RAW}},
        {"type": "text", "text": LONG}]}]},
    {"model": "claude-sonnet-4-5", "system": LONG, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}]},
    {"model": "claude-sonnet-4-5", "messages": [{"content": [{"type": "image", "source": [1]}]}]},
    {"contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png",
                                                              "data": RAW}}, {"text": LONG}]}]},
    {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": RAW}}]}],
     "generationConfig": {"mediaResolution": "MEDIA_RESOLUTION_LOW"}},
    {"contents": LONG},
]


@pytest.mark.parametrize("body", PROVIDER_BODIES)
@pytest.mark.parametrize("options", [{}, COLLECT], ids=["raise", "collect"])
def test_provider_bodies_count_alike_as_a_dict_and_in_place(body, options, walk):
    extra = {} if "messages" in body else {"model": "gemini-2.5-flash"}
    assert_same_every_way(walk, body, **extra, **options)


# --- the providers' formats read in place (Anthropic Messages, Gemini generateContent), and
# Chat's raw base64: their base64 is left in the body and its header read there -------------------

def media_of(data: bytes) -> str:
    """The media type a client would declare for an image's bytes (image/png when unknown)."""
    for magic, media in ((b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"),
                         (b"RIFF", "image/webp")):
        if data.startswith(magic):
            return media
    return "image/png"


def claude_image(b64: str, media: str = "image/png", **extra) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": b64},
            **extra}


def claude(*blocks, model="claude-sonnet-4-5", **extra) -> dict:
    return {"model": model, "max_tokens": 1024, "messages": [{"role": "user",
                                                              "content": list(blocks)}], **extra}


def gemini_inline(b64: str, mime: str = "image/png", snake: bool = False, **extra) -> dict:
    if snake:
        return {"inline_data": {"mime_type": mime, "data": b64}, **extra}
    return {"inlineData": {"mimeType": mime, "data": b64}, **extra}


def gemini(*parts, **extra) -> dict:
    return {"contents": [{"role": "user", "parts": list(parts)}], **extra}


def in_every_format(b64: str, media: str) -> list[tuple[dict, dict]]:
    """(body, options) holding ``b64`` in every place each format puts an image's base64."""
    flash = {"model": "gemini-2.5-flash"}
    return [
        (claude(claude_image(b64, media), {"type": "tool_result", "content": [
            claude_image(b64, media), {"type": "document", "source": {
                "type": "content", "content": [claude_image(b64, media)]}}]}), {}),
        (claude(claude_image(b64, media), model="us.anthropic.claude-sonnet-4-5-v1:0"), {}),
        (gemini(gemini_inline(b64, media), gemini_inline(b64, media, snake=True),
                {"functionResponse": {"name": "f", "parts": [gemini_inline(b64, media)]}}), flash),
        (gemini(gemini_inline(b64.replace("+", "-").replace("/", "_"), media)), flash),  # URL-safe
        (chat({"type": "image_url", "image_url": {"url": b64}},  # raw base64 (spec 6.1)
              {"type": "image_url", "image_url": b64}), {}),
    ]


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_every_corpus_image_counts_alike_in_place_in_every_format(case, walk):
    """Every corpus image as raw base64 in each format: as it is (most are under 1 KB of base64,
    a str to the walk), and with 1 KB of zeros after it (a BodyString: read in the body)."""
    for data in (case.data, case.data + bytes(1024)):
        for body, options in in_every_format(base64.b64encode(data).decode(), media_of(data)):
            assert_same_every_way(walk, body, **options, **COLLECT)


RAW_PNG = base64.b64encode(png_header(1920, 1080) + bytes(3000)).decode()
RAW_JPEG = base64.b64encode(jpeg_header(1800, 2400) + bytes(2000)).decode()
RAW_GIF = base64.b64encode(gif_header(8, 8, frames=2) + bytes(2000)).decode()
#: Raw base64 a header read refuses, each for its own reason (the error names a position).
RAW_BAD = [RAW_PNG[:12] + "*" + RAW_PNG[13:], RAW_PNG + "A", "iVBORw0K" + "é" + "A" * 2000,
           "A" * 2000, RAW_PNG[:40] + "====" + RAW_PNG[44:], RAW_PNG[:-4] + "A=A="]
RAW = [RAW_PNG, RAW_JPEG, RAW_GIF, *RAW_BAD]

PROVIDER_IN_PLACE = [
    claude(*[claude_image(raw, media) for raw in RAW
             for media in ("image/png", "IMAGE/JPEG", "image/bmp")]),
    claude(claude_image(RAW_PNG, transformations={"oversized_image": "error"}),
           claude_image(RAW_JPEG, transformations={"oversized_image": "downsize"}),
           model="claude-opus-4-8"),
    claude(claude_image(RAW_PNG), model="claude-3-5-sonnet@20240620"),  # Vertex
    claude(claude_image(RAW_PNG), model=LONG),
    claude({"type": "text", "text": LONG}, {"type": LONG}, {"type": "tool_result", "content": LONG},
           {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                           "data": LONG}},
           {"type": "document", "source": {"type": "text", "data": LONG}},
           {"type": "document", "source": {"type": "content", "content": LONG}},
           {"type": "image", "source": {"type": "url", "url": "https://example.com/" + LONG}},
           {"type": "image", "source": {"type": "file", "file_id": "file_" + LONG}},
           claude_image(RAW_PNG), system=LONG),
    claude(claude_image(RAW_PNG), system=[{"type": "text", "text": LONG}]),
    {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": LONG}],
     "system": "s"},
    claude(*[claude_image(RAW_GIF)] * 21),  # a many-image request: its stricter side limit
    gemini(*[gemini_inline(raw, mime) for raw in RAW for mime in ("image/png", "image/heic",
                                                                  "image/gif")]),
    gemini(gemini_inline(RAW_PNG, mediaResolution={"level": "MEDIA_RESOLUTION_HIGH"}),
           gemini_inline(RAW_JPEG, media_resolution="MEDIA_RESOLUTION_LOW"),
           gemini_inline(RAW_PNG, "application/pdf"), gemini_inline(LONG, "text/plain"),
           {"text": LONG}, {"fileData": {"mimeType": "image/png", "fileUri": "gs://b/" + LONG}},
           {"file_data": {"file_uri": "gs://b/" + LONG}}, {"fileData": {
               "mimeType": "video/mp4", "fileUri": "gs://b/v.mp4"}},
           generationConfig={"mediaResolution": "MEDIA_RESOLUTION_MEDIUM"}),
    {"contents": [gemini_inline(RAW_PNG), {"parts": None}, {"role": LONG}],
     "generation_config": {"media_resolution": LONG}, "model": "gemini-3-pro"},
    {"contents": [{"parts": [gemini_inline(RAW_PNG)]}], "config": {}, "prompt": "p"},
    {"contents": LONG, "model": LONG},
]
PROVIDER_ERRORS = [  # each the walker's error at its pointer, the value's type named as the dict's
    claude(model={"id": LONG}),
    {"model": "claude-sonnet-4-5", "messages": [{"content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": [RAW_PNG]}}]}], "system": "s"},
    claude({"type": "image", "source": LONG}),
    claude({"type": "image", "source": {"type": LONG, "data": RAW_PNG}}),
    claude({"type": "image", "source": {"type": "base64", "media_type": {"m": LONG},
                                        "data": RAW_PNG}}),
    claude({"type": "image", "source": {"type": "url", "url": [LONG]}}),
    claude(claude_image(RAW_PNG, transformations={"oversized_image": LONG})),
    claude(claude_image(RAW_PNG, transformations=LONG)),
    claude({"type": "tool_result", "content": {"a": RAW_PNG}}),
    claude({"type": "document", "source": {"type": "content", "content": {"a": 1}}}),
    claude(claude_image(RAW_PNG), system={"text": LONG}),
    {"model": "claude-sonnet-4-5", "messages": [LONG], "system": "s"},
    {"model": "claude-sonnet-4-5", "messages": {"content": []}, "system": "s"},
    {"messages": [{"content": [claude_image(RAW_PNG)]}], "system": "s"},  # no model
    gemini(gemini_inline([RAW_PNG])),
    gemini({"inlineData": {"mimeType": ["image/png"], "data": RAW_PNG}}),
    gemini({"inlineData": LONG}),
    gemini({"fileData": {"fileUri": {"u": LONG}}}),
    gemini(gemini_inline(RAW_PNG, mediaResolution=[LONG])),
    gemini(gemini_inline(RAW_PNG, mediaResolution={"level": {"l": 1}})),
    gemini({"functionResponse": {"parts": LONG}}),
    gemini({"functionResponse": [1]}),
    {"contents": [LONG]},
    {"contents": {"parts": []}},
    {"contents": [], "generationConfig": LONG},
    {"contents": [], "generationConfig": {"mediaResolution": [LONG]}},
    {"contents": [], "model": [LONG]},
    gemini(*[gemini_inline(RAW_PNG)] * 3601),
]


def counted_alike(body, **options):
    """The options a body's format needs (Gemini's model is the caller's), then the check."""
    return ({"model": "gemini-2.5-flash"} if "contents" in body and "model" not in body
            else {}) | options


@pytest.mark.parametrize("body", PROVIDER_IN_PLACE + PROVIDER_ERRORS)
@pytest.mark.parametrize("options", [{}, COLLECT], ids=["raise", "collect"])
def test_provider_bodies_in_place_count_as_their_dicts(body, options, walk):
    assert_same_every_way(walk, body, **counted_alike(body, **options))
    api = "anthropic.messages" if "messages" in body else "gemini.generate_content"
    assert_same_every_way(walk, body, api=api, **counted_alike(body, **options))


def test_a_provider_body_repeating_a_key_is_read_as_json_loads_reads_it(walk):
    """Repeated keys (no dict can hold them): the last one wins, in the walkers' objects too,
    and a key given twice is still there for ``in``."""
    png = RAW_PNG.encode()
    raws = [
        b'{"model": "claude-sonnet-4-5", "system": "s", "messages": [{"content": [{"type": "text",'
        b' "type": "image", "source": {"type": "url", "type": "base64", "media_type": "image/jpeg",'
        b' "media_type": "image/png", "data": "x", "data": "' + png + b'"}}]}]}',
        b'{"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "' + png
        + b'"}, "inlineData": {"mimeType": "image/png", "data": "' + png + b'"}}]}]}',
        b'{"contents": [{"text": "x", "text": "y"}]}',
    ]
    for raw in raws:
        options = counted_alike(json.loads(raw))
        expected = outcome(walk.count_request, json.loads(raw), **options)
        assert expected[0] == "value"
        for form in (raw, bytearray(raw), memoryview(raw)):
            assert outcome(walk.count_request, form, **options) == expected


def test_chat_raw_base64_errors_name_the_places_of_the_url_it_stands_for(walk):
    """spec 6.1: Chat's bare base64 is read as "data:image/*;base64," + it; an error names
    positions in that URL, whether the base64 came as a str or is read in the body."""
    for raw in RAW_BAD:
        body = chat({"type": "image_url", "image_url": {"url": raw}})
        assert_same_every_way(walk, body, **COLLECT)
    bad = assert_same_every_way(walk, chat({"type": "image_url", "image_url": RAW_BAD[0]}),
                                **COLLECT)[1].images[0].error
    assert "characters 32..35 of the URL" in bad[3]  # 20 + 12 (the group of the 13th character)


raw_slot = st.one_of(st.sampled_from(RAW + [LONG, RAW_PNG.replace("A", "-")]), long_text,
                     st.none(), st.integers(), st.just([RAW_PNG]), st.just({"a": LONG}))
text_slot = st.one_of(st.sampled_from(["image/png", "image/jpeg", "IMAGE/GIF", "image/heic",
                                       "text/plain", LONG]), st.none(), st.just([1]))


@st.composite
def provider_bodies(draw):
    """Anthropic Messages and Gemini generateContent bodies with a raw base64, a long string
    or a value of the wrong type in each slot an image's fields take."""
    def claude_block(depth=0):
        kind = draw(st.sampled_from(["image", "image", "text", "tool_result", "document", LONG]))
        source = {"type": draw(st.sampled_from(["base64", "url", "file", "content", LONG])),
                  "media_type": draw(text_slot), "data": draw(raw_slot),
                  "url": draw(st.sampled_from(["https://example.com/a.png", LONG, "ftp://x"])),
                  "file_id": draw(st.sampled_from(["file_1", LONG]))}
        if depth < 2 and draw(st.booleans()):
            source["content"] = [claude_block(depth + 1) for _ in range(draw(st.integers(0, 2)))]
        block = {"type": kind, "source": draw(st.one_of(st.just(source), raw_slot))}
        if depth < 2 and kind == "tool_result":
            block["content"] = [claude_block(depth + 1) for _ in range(draw(st.integers(0, 2)))]
        if draw(st.integers(0, 4)) == 0:
            block["transformations"] = {"oversized_image": draw(st.sampled_from(
                ["error", "downsize", LONG]))}
        return block

    def gemini_part(nested=False):
        blob = {draw(st.sampled_from(["mimeType", "mime_type"])): draw(text_slot),
                "data": draw(raw_slot)}
        part = {draw(st.sampled_from(["inlineData", "inline_data"])): blob}
        choice = draw(st.integers(0, 5))
        if choice == 0:
            part = {"fileData": {"mimeType": draw(text_slot), "fileUri": draw(st.sampled_from(
                ["gs://b/a.png", LONG, 3]))}}
        elif choice == 1:
            part = {"text": draw(raw_slot)}
        elif choice == 2 and not nested:
            part = {"functionResponse": {"name": "f", "parts": [
                gemini_part(True) for _ in range(draw(st.integers(0, 2)))]}}
        if draw(st.integers(0, 3)) == 0:
            part["mediaResolution"] = draw(st.sampled_from(
                [{"level": "MEDIA_RESOLUTION_LOW"}, "MEDIA_RESOLUTION_HIGH", LONG, [1]]))
        return part

    if draw(st.booleans()):
        return {"model": draw(st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-8",
                                               "anthropic.claude-sonnet-4-5-v1:0", LONG])),
                "system": draw(st.sampled_from(["s", LONG])),
                "messages": [{"role": "user", "content": [
                    claude_block() for _ in range(draw(st.integers(0, 4)))]
                    if draw(st.integers(0, 5)) else draw(raw_slot)}]}
    body = {"contents": [{"role": "user", "parts": [gemini_part()
                                                    for _ in range(draw(st.integers(0, 4)))]}]}
    if draw(st.booleans()):
        body["generationConfig"] = {"mediaResolution": draw(st.sampled_from(
            ["MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_HIGH", LONG, None]))}
    return body


@given(body=provider_bodies(), collect=st.booleans())
@example(body=claude(claude_image(RAW_PNG)), collect=False)
@example(body=gemini(gemini_inline(RAW_JPEG)), collect=True)
def test_generated_provider_bodies_count_alike_as_a_dict_and_in_place(body, collect, walk):
    assert_same_every_way(walk, body, **counted_alike(body, **(COLLECT if collect else {})))


@given(body=bodies(), raw=st.sampled_from(RAW), collect=st.booleans())
def test_generated_chat_bodies_with_raw_base64_count_alike(body, raw, collect, walk):
    if "messages" in body and isinstance(body["messages"][0]["content"], list):
        body["messages"][0]["content"].append({"type": "image_url", "image_url": {"url": raw}})
    assert_same_every_way(walk, body, **(COLLECT if collect else {}))


def test_a_large_provider_body_counts_alike_off_the_event_loop(walk):
    """An Anthropic or Gemini body of OFF_LOOP_BYTES or more is walked on a thread; its base64
    is read afterwards from the body the nodes still hold: the dict's answer."""
    import asyncio

    big = base64.b64encode(png_header(640, 480) + bytes(walk.OFF_LOOP_BYTES)).decode()
    for body in (claude(claude_image(big), claude_image(RAW_JPEG, "image/jpeg")),
                 gemini(gemini_inline(big), gemini_inline(RAW_BAD[0]))):
        options = counted_alike(body, **COLLECT)
        raw = json.dumps(body).encode()
        assert len(raw) >= walk.OFF_LOOP_BYTES
        expected = outcome(walk.count_request, body, **options)
        assert expected[0] == "value" and len(expected[1].images) == 2
        for form in (raw, bytearray(raw), memoryview(raw)):
            assert outcome(lambda: asyncio.run(walk.count_request_async(form, **options))) \
                == expected


# --- a gateway's BodyBuffer, counted as it is ------------------------------------------------------
# The compiled buffer leaves a plain block that follows another in the bytes chunk it came in,
# and copies it in only when something reads it: never the scan; a BodyString's reads, and
# the header parser through its fill hook. Images whose header is read far into their base64
# make the parser reach blocks left out. Each body is counted from the buffer, reused after a
# hostile body, against its bytes: results and errors alike.

def _filler(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def _gif_with_long_frames(frames: int, blocks: int) -> bytes:
    """A GIF whose frames each carry ``blocks`` sub-blocks of 255 bytes: telling whether it
    is animated walks them all."""
    out = b"GIF89a" + bytes([8, 0, 8, 0, 0x80, 0, 0]) + bytes(6)
    for _ in range(frames):
        out += b"\x2c" + bytes([0, 0, 0, 0, 8, 0, 8, 0, 0]) + b"\x02"
        out += (b"\xff" + _filler(255, blocks)) * blocks + b"\x00"
    return out + b"\x3b"


#: Images read far into their base64 (a JPEG's SOF after 90 KB of APP segments, a PNG's
#: acTL after a 60 KB chunk, a GIF's and a WebP's frames across 40-60 KB), and one read only
#: at its start.
FAR_IMAGES = [
    ("image/jpeg", jpeg_header(1800, 2400, segments=[(0xE1, _filler(60000, 1)),
                                                     (0xE2, _filler(30000, 2))])),
    ("image/png", png_header(640, 480, before_idat=[(b"tEXt", _filler(60000, 3))],
                             animated=True)),
    ("image/gif", _gif_with_long_frames(2, 160)),
    ("image/gif", _gif_with_long_frames(1, 160)),
    ("image/webp", webp_header(1024, 768, "VP8X") + _filler(40000, 4)),
    ("image/png", png_header(1920, 1080) + _filler(50000, 5)),
]


def _animated_webp() -> bytes:
    from headers import anmf, riff, vp8l_payload, vp8x_payload, webp_chunk

    big = webp_chunk(b"VP8L", vp8l_payload(64, 64) + _filler(50000, 6))
    return riff(webp_chunk(b"VP8X", vp8x_payload(64, 64, 0x02)), webp_chunk(b"ANIM", bytes(6)),
                anmf(64, 64, image=big), anmf(1, 1))


FAR_IMAGES.append(("image/webp", _animated_webp()))


def _far_body(media_type: str, image: bytes, lead: int, raw: bool) -> dict:
    """A Chat body holding ``image`` (as a data URL, or as Anthropic's raw base64), after a
    text of ``lead`` characters that moves it against the 4 KB blocks."""
    if raw:
        return claude({"type": "text", "text": "x" * lead},
                      claude_image(base64.b64encode(image).decode(), media_type))
    return chat({"type": "text", "text": "x" * lead}, image_part(data_url(image, media_type)),
                image_part(data_url(image, media_type), "low"))


@pytest.mark.parametrize("index", range(len(FAR_IMAGES)))
def test_images_read_far_into_their_base64_count_alike_from_a_body_buffer(index, walk):
    media_type, image = FAR_IMAGES[index]
    for raw in (False, True):
        body = _far_body(media_type, image, 100, raw)
        expected = assert_same_every_way(walk, body, **counted_alike(body, **COLLECT))
        assert expected[0] == "value" and len(expected[1].images) == (1 if raw else 2)
        assert all(i.width or i.error[1] == "animated_image" for i in expected[1].images)


@given(index=st.integers(0, 6), lead=st.integers(0, 9000), raw=st.booleans(),
       chunk=st.sampled_from([1, 4095, 4096, 4097, 12289, 65536, 1 << 20]),
       flip=st.one_of(st.none(), st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=1))))
@example(index=0, lead=0, raw=False, chunk=65536, flip=(0.9, b"*"))  # bad base64 before the SOF
@example(index=2, lead=4000, raw=True, chunk=4097, flip=(0.5, b'"'))  # a quote in a left-out block
def test_generated_bodies_count_alike_from_a_reused_body_buffer(index, lead, raw, chunk, flip, walk):
    """Any image, anywhere against the blocks, in any chunks, one byte maybe changed anywhere
    (a bad base64 character the parser meets far in, a quote or a control that breaks the
    JSON inside a block that would be left out): the buffer's count is the bytes' count."""
    media_type, image = FAR_IMAGES[index]
    body = json.dumps(_far_body(media_type, image, lead, raw)).encode()
    if chunk == 1:
        body, chunk = body[:20000], 1  # (byte by byte: a short body)
    if flip is not None:
        where = int(flip[0] * (len(body) - 1))
        body = body[:where] + flip[1] + body[where + 1:]
    expected = outcome(walk.count_request, body, **COLLECT)
    assert outcome(walk.count_request, reused_buffer(walk, body, chunk), **COLLECT) == expected


def test_the_compiled_buffer_copies_in_only_what_the_count_reads():
    """The point of it: most blocks of the images' base64 are never copied; the header
    parser's far reads copy in some; the buffer's view copies in the rest, and the bytes are
    the body's."""
    from implementations import load_twin

    walk = load_twin("request", "cython")
    media_type, image = FAR_IMAGES[0]  # the JPEG read 120 KB in
    body = json.dumps(chat(image_part(data_url(image, media_type)),
                           image_part(data_url(png_header(64, 64) + _filler(2_000_000, 8))))).encode()
    buffer = reused_buffer(walk, body, 65536)
    blocks = -(-len(body) // 4096)
    left_out = buffer._blocks_not_copied()
    assert left_out > 0.9 * blocks
    counted = walk.count_request(buffer)
    assert [(i.width, i.height) for i in counted.images] == [(1800, 2400), (64, 64)]
    assert 0.9 * blocks < buffer._blocks_not_copied() < left_out  # the SOF's blocks, copied in
    with buffer.view() as view:
        assert bytes(view) == body and buffer._blocks_not_copied() == 0
    pure = load_twin("request", "python").BodyBuffer()
    pure.put(body)
    assert pure._blocks_not_copied() == 0


def test_a_body_buffer_with_an_alias_or_a_form_is_read_whole(walk):
    """What reads a body other than the scan gets every byte: a multipart form's parser, and
    a gateway's alias rule (the body searched for an alias, then parsed whole)."""
    import asyncio

    from visiontokens.gateway.shared import alias_keys, count_body

    async def count(data, **options):
        return walk.count_request(data, **options)

    aliased = json.dumps(chat(image_part(data_url(png_header(640, 480) + _filler(30000, 11))),
                              model="my-" + "A" * 9000)).encode()
    models = {"my-" + "A" * 9000: "gpt-4o"}
    expected = outcome(lambda: asyncio.run(count_body(count, aliased, COLLECT, models,
                                                      alias_keys(models))))
    assert expected[0] == "value" and expected[1].model == "gpt-4o"
    for chunk in CHUNKS:
        buffer = reused_buffer(walk, aliased, chunk)
        assert outcome(lambda: asyncio.run(count_body(count, buffer, COLLECT, models,
                                                      alias_keys(models)))) == expected

    boundary = "b0undary"
    png = png_header(300, 200) + _filler(30000, 9)
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngpt-image-1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n"
            f"{'A' * 20000}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
    options = dict(content_type=f"multipart/form-data; boundary={boundary}", **COLLECT)
    expected = outcome(walk.count_request, form, **options)
    assert expected[0] == "value" and expected[1].images[0].width == 300
    for chunk in CHUNKS:
        assert outcome(walk.count_request, reused_buffer(walk, form, chunk), **options) == expected


#: What the scan reads past a stop byte or a value's first byte: an escape, a UTF-8 sequence,
#: a literal, a string's opening quote (whose end is looked up). Placed to end a block, it
#: reads into the next, the first of a run of plain blocks (all 'A'), which the buffer must
#: have copied in. (What comes before the piece, what after the run.)
ACROSS = [(b'"', b"\\n", b'"'), (b'"', b"\\q", b'"'), (b'"', b"\\u00e9", b'"'),
          (b'"', b"\\u0", b'"'), (b'"', "é".encode(), b'"'), (b'"', b"\xc3", b'"'),
          (b'"', b"\x01", b'"'), (b"", b"true", b""), (b"", b"nul", b""), (b"", b"-1", b""),
          (b"", b'"', b'"')]


@pytest.mark.parametrize("before, piece, after", ACROSS)
def test_what_the_scan_reads_across_into_a_plain_block_is_copied_in(before, piece, after, walk):
    head = b'{"model": "gpt-4o", "note": [' + before
    # (after the note, an image: a note read to a wrong end would lose it)
    tail = b'], "messages": [' + json.dumps({"role": "user", "content": [image_part(SHORT)]}
                                           ).encode() + b"]}"
    for shift in range(len(piece) + 1):  # the piece begins `shift` bytes before a block ends
        pad = 2 * 4096 - len(head) - shift
        body = head + (b"x" if before else b" ") * pad + piece + b"A" * 9000 + after + tail
        expected = outcome(walk.count_request, body, **COLLECT)
        for chunk in CHUNKS:
            assert outcome(walk.count_request, reused_buffer(walk, body, chunk), **COLLECT) \
                == expected, (piece, shift, chunk)


@pytest.mark.parametrize("blocks", [160, 161, 162])
def test_a_data_urls_last_characters_are_copied_in_wherever_it_ends(blocks, walk):
    """A data URL's last two characters (its "=" padding, which sets its decoded size) are
    read wherever the string ends against the blocks: its closing quote first in a block, or
    second, the characters before it in a block that may be left out. The image is a still
    GIF, read to its trailer, its last byte: the size read wrong, and it would not be."""
    image = _gif_with_long_frames(1, blocks)
    assert {len(_gif_with_long_frames(1, n)) % 3 for n in (160, 161, 162)} == {0, 1, 2}
    url = data_url(image, "image/gif")
    unmoved = json.dumps(chat({"type": "text", "text": ""}, image_part(url))).encode()
    end = unmoved.index(url.encode()) + len(url)  # the closing quote's offset, with no lead
    for at in range(-3, 4):  # where the closing quote falls against a block's start
        lead = (at - end) % 4096
        body = json.dumps(chat({"type": "text", "text": "x" * lead}, image_part(url))).encode()
        assert (body.index(url.encode()) + len(url)) % 4096 == at % 4096
        expected = outcome(walk.count_request, body, **COLLECT)
        assert expected[0] == "value" and expected[1].images[0].width == 8
        for chunk in CHUNKS:
            assert outcome(walk.count_request, reused_buffer(walk, body, chunk), **COLLECT) \
                == expected, (at, chunk)
