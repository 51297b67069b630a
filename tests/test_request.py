"""count_request: real Chat and Responses bodies, image by image (spec 5, 6)."""

from __future__ import annotations

import asyncio
import json

import pytest
from headers import data_url, gif_header, pillow_image, png_header

import visiontokens
from visiontokens import (
    AnimatedImageError,
    ImageRejectedError,
    ImageSizeUnknownError,
    InvalidArgumentError,
    MalformedRequestError,
    PayloadTooLargeError,
    TooManyImagesError,
    UnsupportedDetailError,
    UnsupportedImageFormatError,
    max_image_tokens,
)

ICC = bytes(range(256)) * 160  # 40 KB


@pytest.fixture(scope="module")
def images():
    return {
        "small png": pillow_image("PNG", (64, 48)),
        "jpeg 1800x2400 icc": pillow_image("JPEG", (1800, 2400), icc_profile=ICC),
        "png 1920x1080": pillow_image("PNG", (1920, 1080), compress_level=0),
        "webp 1024x768": pillow_image("WEBP", (1024, 768)),
    }


SIZES = {"small png": (64, 48), "jpeg 1800x2400 icc": (1800, 2400), "png 1920x1080": (1920, 1080),
         "webp 1024x768": (1024, 768)}


def chat_body(images, model="gpt-4.1-mini", detail=None):
    parts = [{"type": "text", "text": "What is in these images?"}]
    for data in images.values():
        image = {"url": data_url(data)}
        if detail:
            image["detail"] = detail
        parts.append({"type": "image_url", "image_url": image})
    return {"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": parts}]}


def responses_body(images, model="gpt-4.1-mini", detail=None):
    parts = [{"type": "input_text", "text": "What is in these images?"}]
    for data in images.values():
        part = {"type": "input_image", "image_url": data_url(data)}
        if detail:
            part["detail"] = detail
        parts.append(part)
    return {"model": model, "input": [{"role": "user", "content": parts}]}


@pytest.mark.parametrize("shape", [chat_body, responses_body])
@pytest.mark.parametrize("model,detail", [("gpt-4.1-mini", None), ("gpt-4o", "high"),
                                          ("gpt-4o", "low"), ("gpt-5.4", "original")])
def test_bodies_image_by_image(images, shape, model, detail, walk):
    body = shape(images, model, detail)
    result = walk.count_request(body)
    assert result.api == ("chat" if shape is chat_body else "responses")
    assert result.model == model and not result.upper_bound and result.violations == ()
    assert len(result.images) == 4
    for image, name in zip(result.images, images):
        w, h = SIZES[name]
        expected = visiontokens.explain_image_tokens(w, h, model, detail or "auto")
        assert (image.width, image.height, image.tokens) == (w, h, expected.tokens)
        assert image.resolved_detail == expected.detail and image.detail == detail
        assert image.source == "data" and image.url is None
    assert result.image_tokens == sum(i.tokens for i in result.images)
    # JSON text and bytes give the same answer
    assert walk.count_request(json.dumps(body)) == result == walk.count_request(json.dumps(body).encode())
    assert asyncio.run(walk.count_request_async(body)) == result


def test_pointers_name_each_image(images, walk):
    body = chat_body(images)
    pointers = [i.pointer for i in walk.count_request(body).images]
    assert pointers == [f"/messages/1/content/{j}" for j in range(1, 5)]


def test_bare_string_image_url_and_tool_outputs(walk):
    png = data_url(png_header(512, 512))
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": png}]}]}
    assert walk.count_request(chat).image_tokens == visiontokens.count_image_tokens(512, 512, "gpt-4o")
    responses = {"model": "gpt-4o", "input": [
        {"type": "message", "role": "user", "content": "text only"},
        {"type": "function_call", "call_id": "c1", "name": "look", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_text", "text": "here"}, {"type": "input_image", "image_url": png}]},
        {"type": "function_call_output", "call_id": "c2", "output": "a string output"},
        {"type": "computer_call_output", "call_id": "c3",
         "output": {"type": "computer_screenshot", "image_url": png}},
    ]}
    result = walk.count_request(responses)
    assert [i.pointer for i in result.images] == ["/input/2/output/1", "/input/4/output"]
    assert result.image_tokens == 2 * visiontokens.count_image_tokens(512, 512, "gpt-4o")


def test_text_only_requests_need_no_known_model(walk):
    assert walk.count_request({"model": "some-text-model", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]}).image_tokens == 0
    assert walk.count_request({"model": "x", "input": "hello"}).images == ()


def test_file_ids_and_resolvers(tmp_path, walk):
    path = tmp_path / "scan.png"
    path.write_bytes(png_header(2048, 4096))
    resolved = {"file-bytes": png_header(1024, 1024), "file-path": str(path),
                "file-size": (768, 768), "file-none": None}
    body = {"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": key, "detail": "high"} for key in resolved]}]}
    result = walk.count_request(body, resolve_file=resolved.get, on_unknown="upper_bound")
    tokens = [i.tokens for i in result.images]
    assert tokens == [765, 1105, 765, 1445]
    assert [i.upper_bound for i in result.images] == [False, False, False, True]
    assert all(i.source == "file" for i in result.images)

    async def resolve(file_id):
        await asyncio.sleep(0)
        return resolved[file_id]

    again = asyncio.run(walk.count_request_async(body, resolve_file=resolve, on_unknown="upper_bound"))
    assert again == result
    with pytest.raises(InvalidArgumentError, match="count_request_async"):
        walk.count_request(body, resolve_file=resolve)


def test_unknown_sizes_error_or_upper_bound(walk):
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}}]}]}
    with pytest.raises(ImageSizeUnknownError, match="/messages/0/content/0.*not fetched") as caught:
        walk.count_request(body)
    assert caught.value.pointer == "/messages/0/content/0"
    bound = walk.count_request(body, on_unknown="upper_bound")
    assert bound.upper_bound and bound.image_tokens == 6636 == max_image_tokens("gpt-4.1-mini", "high")
    assert bound.images[0].url == "https://example.com/cat.png" and bound.images[0].note
    body["model"] = "gpt-4o"
    assert walk.count_request(body, on_unknown="upper_bound").image_tokens == 1445


def test_violations_raise_or_collect(walk):
    moving = data_url(gif_header(8, 8, frames=2), "image/gif")
    bmp = data_url(b"BM" + bytes(60), "image/bmp")
    huge = data_url(png_header(65535, 65535))
    body = {"model": "gpt-6-astra", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": moving}},
        {"type": "image_url", "image_url": {"url": bmp}},
        {"type": "image_url", "image_url": {"url": huge, "detail": "original"}},
        {"type": "image_url", "image_url": {"url": huge, "detail": "medium"}},
        {"type": "image_url", "image_url": {"url": data_url(png_header(100, 100))}},
    ]}]}
    with pytest.raises(AnimatedImageError, match="^/messages/0/content/0: "):
        walk.count_request(body)
    result = walk.count_request(body, on_violation="collect")
    kinds = [type(e) for e in result.violations]
    assert kinds == [AnimatedImageError, UnsupportedImageFormatError, ImageRejectedError,
                     UnsupportedDetailError]
    assert [i.tokens is None for i in result.images] == [True, True, True, True, False]
    assert result.image_tokens == result.images[4].tokens > 0
    assert str(result.violations[1]).startswith("/messages/0/content/1: BMP images")


def test_request_limits(monkeypatch, walk):
    png = data_url(png_header(10, 10))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": png}] * 1501}]}
    with pytest.raises(TooManyImagesError, match="more than 1500"):
        walk.count_request(body)
    body["messages"][0]["content"] = body["messages"][0]["content"][:1500]
    assert len(walk.count_request(body).images) == 1500
    monkeypatch.setattr(walk, "MAX_PAYLOAD", 1000)
    with pytest.raises(PayloadTooLargeError):
        walk.count_request(body)
    assert isinstance(walk.count_request(body, on_violation="collect").violations[-1], PayloadTooLargeError)


@pytest.mark.parametrize("body,pointer", [
    ([], ""),
    ("{not json", ""),
    ("[" * 100_000 + "]" * 100_000, ""),
    ({"model": "gpt-4o"}, ""),
    ({"model": "gpt-4o", "messages": [], "input": []}, ""),
    ({"model": "gpt-4o", "messages": {"role": "user"}}, "/messages"),
    ({"model": "gpt-4o", "messages": ["hi"]}, "/messages/0"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": 5}]}, "/messages/0/content"),
    ({"model": "gpt-4o", "messages": [{"content": [7]}]}, "/messages/0/content/0"),
    ({"model": "gpt-4o", "messages": [{"content": [{"type": "image_url"}]}]}, "/messages/0/content/0/image_url"),
    ({"model": "gpt-4o", "messages": [{"content": [{"type": "image_url", "image_url": {"url": 3}}]}]},
     "/messages/0/content/0/image_url/url"),
    ({"model": "gpt-4o", "messages": [{"content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64,AAAA", "detail": 1}}]}]}, "/messages/0/content/0/image_url/detail"),
    ({"model": 4, "messages": [{"content": [{"type": "image_url", "image_url": "data:,"}]}]}, "/model"),
    ({"model": "gpt-4o", "input": 3}, "/input"),
    ({"model": "gpt-4o", "input": [{"type": "input_image"}]}, None),
    ({"model": "gpt-4o", "input": [{"content": [{"type": "input_image"}]}]}, "/input/0/content/0"),
    ({"model": "gpt-4o", "input": [{"type": "computer_call_output", "output": "x"}]}, "/input/0/output"),
])
def test_malformed_bodies(body, pointer, walk):
    if pointer is None:  # not an error: an item type we do not know holds no image here
        assert walk.count_request(body).images == ()
        return
    with pytest.raises(MalformedRequestError) as caught:
        walk.count_request(body)
    assert caught.value.pointer == pointer


def test_non_http_urls_are_refused(walk):
    body = {"model": "gpt-4o", "messages": [{"content": [
        {"type": "image_url", "image_url": "file:///etc/passwd"}]}]}
    with pytest.raises(MalformedRequestError, match="not 'file'"):
        walk.count_request(body, fetch=True)


def test_huge_arrays_are_linear_work(walk):
    parts = [{"type": "text", "text": "x"}] * 200_000
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": parts}]}
    assert walk.count_request(body).image_tokens == 0


def test_bad_options(walk):
    body = {"model": "gpt-4o", "input": "hi"}
    for kwargs in ({"on_unknown": "guess"}, {"on_violation": "ignore"}, {"fetch": "yes"}):
        with pytest.raises(InvalidArgumentError):
            walk.count_request(body, **kwargs)


def test_upper_bounds_are_attained_and_never_exceeded():
    """max_image_tokens is exact: a witness size costs it, and no size costs more."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from visiontokens.calc import bounds as _upper_bound

    cases = [(spec, level) for rs in visiontokens.rulesets() for spec in visiontokens.models(rs)
             for level in spec.params]
    # Gemini 1.5 / 2.x tiles: no largest size is documented, so no bound (providers 2.1)
    unbounded = [(spec, level) for spec, level in cases if spec.params[level].scheme == "gemini_tiles"]
    for spec, level in unbounded:
        with pytest.raises(visiontokens.NoUpperBoundError):
            max_image_tokens(spec.id, level, ruleset=spec.ruleset)
    cases = [case for case in cases if case not in unbounded]
    for spec, level in cases:
        bound = max_image_tokens(spec.id, level, ruleset=spec.ruleset)
        w, h = _upper_bound.worst_case_size(spec.params[level])
        assert visiontokens.count_image_tokens(w, h, spec.id, level, ruleset=spec.ruleset) == bound

    @settings(max_examples=300)
    @given(st.sampled_from(cases), st.integers(1, 70000), st.integers(1, 70000))
    def never_more(case, w, h):
        spec, level = case
        try:
            tokens = visiontokens.count_image_tokens(w, h, spec.id, level, ruleset=spec.ruleset)
        except (ImageRejectedError, visiontokens.AspectRatioError):
            return
        assert tokens <= max_image_tokens(spec.id, level, ruleset=spec.ruleset)

    never_more()


def _json_values():
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.text(max_size=20),
                        st.sampled_from(["image_url", "input_image", "message", "gpt-4o",
                                         "function_call_output", "computer_call_output",
                                         "data:image/png;base64,iVBORw0KGgo=", "high", "file-1"]))
    keys = st.sampled_from(["model", "messages", "input", "content", "type", "image_url", "url",
                            "detail", "file_id", "output", "role"])
    return st.recursive(scalars, lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
        max_leaves=30)


def test_any_json_body_gives_a_count_or_our_error(walk):
    """Whatever the shape, the walk ends in a result or a VisionTokensError: never a crash."""
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.dictionaries(st.sampled_from(["model", "messages", "input"]), _json_values(),
                           max_size=3))
    def check(body):
        for on_unknown in ("error", "upper_bound"):
            try:
                result = walk.count_request(body, on_unknown=on_unknown, on_violation="collect")
            except visiontokens.VisionTokensError:
                continue
            assert result.image_tokens == sum(i.tokens or 0 for i in result.images)

    check()
