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
    return expected


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
