"""count_request on Images API bodies and the Responses image_generation tool (spec 6.2).

The bodies are what the official ``openai`` SDK sends: the real client posts to a tiny HTTP
server on 127.0.0.1 started here, which records the bytes and the content type; the counts
are then checked image by image against the calculator and the output twin. Images are real
PNG, JPEG and WebP files made with Pillow.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from forms import multipart
from headers import data_url, pillow_image
from hypothesis import given
from hypothesis import strategies as st
from memory import traced_peak

import visiontokens
from visiontokens import (
    ImageSizeUnknownError,
    InvalidArgumentError,
    InvalidImageError,
    MalformedRequestError,
    TooManyImagesError,
    UndocumentedModelError,
    UnknownModelError,
    UnsupportedQualityError,
    UnsupportedSizeError,
    VisionTokensError,
    count_image_tokens,
    count_output_image_tokens,
)
from visiontokens.cli.main import main

openai = pytest.importorskip("openai")  # in the test extra; a clear skip if it is missing

RESPONSE = {  # enough for the SDK to parse what it gets back
    "/v1/images/generations": {"created": 0, "data": []},
    "/v1/images/edits": {"created": 0, "data": []},
    "/v1/responses": {"id": "resp_0", "object": "response", "created_at": 0,
                      "status": "completed", "model": "gpt-5.4", "output": [],
                      "parallel_tool_calls": True, "tool_choice": "auto", "tools": []},
}


class _Recorder(BaseHTTPRequestHandler):
    """Records each request's path, content type and body bytes; answers with canned JSON."""

    def do_POST(self):  # noqa: N802 (the http.server name)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.requests.append((self.path, self.headers.get("Content-Type"), body))
        answer = json.dumps(RESPONSE[self.path]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def client(server):
    # closed at the end: a pooled connection left to the collector warns in a later test
    with openai.OpenAI(api_key="sk-test", base_url=f"http://127.0.0.1:{server.server_port}/v1",
                       max_retries=0) as sdk:
        yield sdk


def sent(server, call):
    """What the SDK put on the wire for one call: (path, content type, body bytes)."""
    server.requests.clear()
    call()
    assert len(server.requests) == 1
    return server.requests[0]


@pytest.fixture(scope="module")
def images():
    return {
        "png 300x200": (pillow_image("PNG", (300, 200)), (300, 200), "png"),
        "jpeg 1800x2400": (pillow_image("JPEG", (1800, 2400)), (1800, 2400), "jpeg"),
        "webp 1024x1024": (pillow_image("WEBP", (1024, 1024)), (1024, 1024), "webp"),
        "png 64x64": (pillow_image("PNG", (64, 64)), (64, 64), "png"),
    }


# --- /v1/images/generations ---------------------------------------------------------------------

@pytest.mark.parametrize("model,size,quality,n,partial_images", [
    ("gpt-image-2", "1536x1024", "high", 2, None),
    ("gpt-image-2", "976x704", "low", None, 3),
    ("gpt-image-2", None, None, None, None),
    ("gpt-image-1", "1024x1536", "medium", 4, 1),
    ("gpt-image-1.5", None, "high", 1, None),
    ("gpt-image-1-2025-04-15", "1024x1024", None, 10, 0),
])
def test_generations_as_the_sdk_sends_them(server, client, walk, model, size, quality, n,
                                           partial_images):
    arguments = {k: v for k, v in dict(size=size, quality=quality, n=n,
                                       partial_images=partial_images).items() if v is not None}
    path, content_type, body = sent(server, lambda: client.images.generate(
        model=model, prompt="a lighthouse at dusk", **arguments))
    assert path == "/v1/images/generations" and content_type == "application/json"
    result = walk.count_request(body)
    expected = visiontokens.explain_output_image_tokens(
        model, size or "auto", quality or "auto", n=n or 1, partial_images=partial_images or 0)
    assert result.api == "images.generations" and result.images == () and result.image_tokens == 0
    assert result.output_image_tokens == expected.tokens > 0
    assert result.output_upper_bound == expected.upper_bound == (size is None or quality is None)
    assert walk.count_request(json.loads(body)) == result  # the dict gives the same
    assert walk.count_request(body, api="images.generations") == result


def test_generation_errors_point_at_the_field(walk):
    body = {"model": "gpt-image-2", "prompt": "x"}
    cases = [({"size": "1000x1000"}, UnsupportedSizeError, "/size"),
             ({"size": "4000x2000"}, UnsupportedSizeError, "/size"),
             ({"quality": "ultra"}, UnsupportedQualityError, "/quality"),
             ({"n": 11}, InvalidArgumentError, "/n"),
             ({"partial_images": 4}, InvalidArgumentError, "/partial_images")]
    for extra, error, pointer in cases:
        with pytest.raises(error) as caught:
            walk.count_request({**body, **extra})
        assert str(caught.value).startswith(f"{pointer}: ")
        collected = walk.count_request({**body, **extra}, on_violation="collect")
        assert collected.output_image_tokens == 0 and len(collected.violations) == 1
        assert isinstance(collected.violations[0], error)
    for extra, pointer in [({"size": 1024}, "/size"), ({"n": "2"}, "/n"), ({"n": True}, "/n"),
                           ({"model": 3}, "/model"), ({"quality": ["high"]}, "/quality")]:
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request({**body, **extra})
        assert caught.value.pointer == pointer


def test_models_without_a_token_price(walk):
    with pytest.raises(MalformedRequestError, match="needs a 'model'"):
        walk.count_request({"prompt": "a cat"})
    with pytest.raises(UnknownModelError, match="unknown image generation model 'dall-e-3'"):
        walk.count_request({"model": "dall-e-3", "prompt": "a cat"})
    with pytest.raises(UndocumentedModelError, match="closest documented model is 'gpt-image-2'"):
        walk.count_request({"model": "gpt-image-2.5-sunburst", "prompt": "a cat"})


# --- /v1/images/edits, multipart as the SDK encodes it ---------------------------------------------

@pytest.mark.parametrize("fidelity", [None, "low", "high"])
@pytest.mark.parametrize("names", [["png 300x200"], ["jpeg 1800x2400", "webp 1024x1024", "png 64x64"]])
def test_multipart_edits_as_the_sdk_sends_them(server, client, walk, images, names, fidelity):
    files = [(f"{name.replace(' ', '_')}.{images[name][2]}", images[name][0],
              f"image/{images[name][2]}") for name in names]
    extra = {} if fidelity is None else {"input_fidelity": fidelity}
    path, content_type, body = sent(server, lambda: client.images.edit(
        model="gpt-image-1", prompt="add a hat", image=files if len(files) > 1 else files[0],
        mask=("mask.png", images["png 300x200"][0], "image/png"), n=2, size="1024x1024",
        quality="low", **extra))
    assert path == "/v1/images/edits" and content_type.startswith("multipart/form-data; boundary=")
    result = walk.count_request(body, content_type=content_type)
    assert result.api == "images.edits" and result.model == "gpt-image-1"
    uploads = [image for image in result.images if image.pointer.startswith("/image/")]
    assert len(uploads) == len(names)
    for image, name in zip(uploads, names):
        (w, h), fmt = images[name][1], images[name][2]
        assert (image.width, image.height, image.format, image.source) == (w, h, fmt, "upload")
        assert image.tokens == count_image_tokens(w, h, "gpt-image-1", input_fidelity=fidelity)
        assert image.rule == f"gpt-image-1 input, input_fidelity {fidelity or 'low'}"
        assert image.resolved_detail == "high" and not image.upper_bound
    mask = result.images[-1]
    assert (mask.pointer, mask.tokens) == ("/mask", 0) and "ASSUMED" in mask.rule  # not billed
    assert result.image_tokens == sum(image.tokens for image in uploads)
    assert result.output_image_tokens == 2 * 272 and not result.output_upper_bound
    assert walk.count_request(body, content_type=content_type, api="images.edits") == result
    assert asyncio.run(walk.count_request_async(body, content_type=content_type)) == result


@pytest.mark.parametrize("model", ["gpt-image-1.5", "gpt-image-2", "gpt-image-1-mini"])
def test_edits_to_other_image_models_follow_the_undocumented_rule(server, client, walk, images, model):
    path, content_type, body = sent(server, lambda: client.images.edit(
        model=model, prompt="x", image=("a.png", images["png 64x64"][0], "image/png")))
    with pytest.raises(UndocumentedModelError) as caught:  # spec 3.3, 3.5: no input rule
        walk.count_request(body, content_type=content_type)
    assert caught.value.suggestions == ("gpt-image-1",) or "gpt-image-1" in str(caught.value)
    assert str(caught.value).startswith("/model: ") and "unknown" not in str(caught.value)


def test_an_edit_image_is_read_only_as_far_as_its_header(walk, images):
    """A 24 MB upload costs a few kilobytes of memory: the compiled parser reads a view of the
    part in place (the pure parser copies it: it is the fallback, not the fast path)."""
    if walk._header.IMPLEMENTATION != "cython":  # (each walk runs on the parser of its kind)
        pytest.skip("the pure header parser copies what it reads")
    big = images["png 300x200"][0] + bytes(24 << 20)  # trailing bytes after the PNG
    body, content_type = multipart([("model", b"gpt-image-1"), ("image", big, "big.png")])
    walk.count_request(body, content_type=content_type)  # warm: the model resolved, code loaded
    result, peak = traced_peak(lambda: walk.count_request(body, content_type=content_type))
    assert result.images[0].width == 300 and peak < 256 << 10


# --- /v1/images/edits as JSON --------------------------------------------------------------------

def test_json_edits_as_the_sdk_posts_them(server, client, walk, images, tmp_path):
    from openai.types import ImageInputReferenceParam

    references: list[ImageInputReferenceParam] = [
        {"image_url": data_url(images["jpeg 1800x2400"][0], "image/jpeg")},
        {"file_id": "file-abc"},
        {"image_url": "https://example.com/a.png"},
    ]
    mask: ImageInputReferenceParam = {"file_id": "file-mask"}
    path, content_type, body = sent(server, lambda: client.post(
        "/images/edits", cast_to=openai.types.ImagesResponse,
        body={"model": "gpt-image-1", "prompt": "x", "images": references, "mask": mask,
              "input_fidelity": "high", "quality": "high", "size": "1536x1024"}))
    assert content_type == "application/json"
    with pytest.raises(ImageSizeUnknownError):  # a file id and a URL: sizes unknown by default
        walk.count_request(body)
    (tmp_path / "f.png").write_bytes(images["png 300x200"][0])
    result = walk.count_request(body, resolve_file=lambda _: str(tmp_path / "f.png"),
                                on_unknown="upper_bound")
    first, second, third, mask_entry = result.images
    assert first.tokens == count_image_tokens(1800, 2400, "gpt-image-1", input_fidelity="high")
    assert second.tokens == count_image_tokens(300, 200, "gpt-image-1", input_fidelity="high")
    assert third.upper_bound and third.url == "https://example.com/a.png"
    # the bound: the costliest tile figure with the larger fidelity extra (non-square, 6240)
    assert third.tokens == visiontokens.max_image_tokens("gpt-image-1") + 6240
    assert (mask_entry.pointer, mask_entry.file_id, mask_entry.tokens) == ("/mask", "file-mask", 0)
    assert result.output_image_tokens == 6208 and not result.output_upper_bound
    assert result.upper_bound  # one input image at its bound


def test_json_edit_shapes_refused(walk):
    base = {"model": "gpt-image-1", "prompt": "x"}
    for body, pointer in [({**base, "images": []}, "/images"), ({**base, "images": "a"}, "/images"),
                          ({**base, "images": [{}]}, "/images/0"),
                          ({**base, "images": [{"image_url": 3}]}, "/images/0/image_url"),
                          ({**base, "images": [{"file_id": "f"}], "mask": "m"}, "/mask"),
                          ({**base, "images": [{"file_id": "f"}], "input_fidelity": "max"},
                           "/input_fidelity")]:
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request(body, on_unknown="upper_bound")
        assert caught.value.pointer == pointer
    with pytest.raises(MalformedRequestError, match="needs 'images'"):
        walk.count_request(base, api="images.edits")


def test_sixteen_images_at_most_refused_before_any_is_read(walk):
    png = data_url(pillow_image("PNG", (32, 32)))
    body = {"model": "gpt-image-1", "prompt": "x", "images": [{"image_url": png}] * 17}
    seen = []
    for options in ({}, {"on_violation": "collect"}, {"resolve_file": seen.append}):
        with pytest.raises(TooManyImagesError, match="up to 16 input images, this one has 17"):
            walk.count_request(body, **options)
    body["images"] = [{"file_id": f"file-{k}"} for k in range(100_000)]
    with pytest.raises(TooManyImagesError):
        walk.count_request(body, resolve_file=seen.append)
    assert seen == []  # nothing resolved (nor fetched)
    body["images"] = [{"image_url": png}] * 16
    assert walk.count_request(body).image_tokens == 16 * 194
    form, content_type = multipart([("model", b"gpt-image-1")] + [
        ("image[]", pillow_image("PNG", (32, 32)), "a.png")] * 17)
    with pytest.raises(TooManyImagesError):
        walk.count_request(form, content_type=content_type, on_violation="collect")


# --- the Responses image_generation tool ----------------------------------------------------------

def test_responses_with_the_image_generation_tool(server, client, walk, images):
    from openai.types.responses import ToolParam

    tool: ToolParam = {"type": "image_generation", "model": "gpt-image-1", "quality": "high",
                       "size": "1024x1536", "partial_images": 2}
    path, content_type, body = sent(server, lambda: client.responses.create(
        model="gpt-5.4", tools=[{"type": "web_search"}, tool],
        input=[{"role": "user", "content": [
            {"type": "input_text", "text": "Draw this in watercolour"},
            {"type": "input_image", "image_url": data_url(images["png 300x200"][0])}]}]))
    assert path == "/v1/responses"
    result = walk.count_request(body)
    assert result.api == "responses" and result.image_tokens == count_image_tokens(300, 200, "gpt-5.4")
    assert result.images[0].rule is None  # a vision model's input, not an image model's
    # separate from the input tokens, and always a bound: the model may not call the tool
    assert result.output_image_tokens == 6240 + 2 * 100 and result.output_upper_bound
    flexible = dict(tool, model="gpt-image-2", size="auto", quality="low", partial_images=0)
    body = {**json.loads(body), "tools": [flexible]}
    assert walk.count_request(body).output_image_tokens == count_output_image_tokens(
        "gpt-image-2", "auto", "low")


def test_the_tool_as_an_sdk_object(walk):
    from openai.types.responses.tool import ImageGeneration

    tool = ImageGeneration(type="image_generation", model="gpt-image-1", quality="low",
                           size="1024x1024")
    body = {"model": "gpt-5.4", "input": "x", "tools": (tool,)}
    assert walk.count_request(body).output_image_tokens == 272


def test_the_tool_default_model_is_undocumented(walk):
    """The SDK documents the tool's default model as gpt-image-2.6-sunburst, an undocumented
    model (spec 3.5): an error by default that says where the model came from."""
    body = {"model": "gpt-5.4", "input": "draw a cat", "tools": [{"type": "image_generation"}]}
    with pytest.raises(UndocumentedModelError) as caught:
        walk.count_request(body)
    assert "/tools/0/model: (omitted, so the tool's default)" in str(caught.value)
    assert caught.value.pointer == "/tools/0/model"
    assert "gpt-image-2.6-sunburst" in str(caught.value)


def test_bad_tool_settings(walk):
    tools = [{"type": "image_generation", "model": "gpt-image-1", "size": "2048x2048"}]
    body = {"model": "gpt-5.4", "input": "draw", "tools": tools}
    with pytest.raises(UnsupportedSizeError, match="^/tools/0/size: "):
        walk.count_request(body)
    collected = walk.count_request(body, on_violation="collect")
    assert collected.output_image_tokens == 0 and len(collected.violations) == 1
    with pytest.raises(MalformedRequestError):
        walk.count_request({**body, "tools": [{"type": "image_generation", "partial_images": "1"}]})
    with pytest.raises(MalformedRequestError):
        walk.count_request({**body, "tools": "image_generation"})


def test_chat_and_responses_generate_nothing(walk):
    png = data_url(pillow_image("PNG", (64, 64)))
    for body in [{"model": "gpt-4o", "messages": [{"role": "user", "content": [
                     {"type": "image_url", "image_url": {"url": png}}]}]},
                 {"model": "gpt-4o", "input": "hi", "tools": [{"type": "function", "name": "f"}]}]:
        result = walk.count_request(body)
        assert (result.output_image_tokens, result.output_upper_bound) == (0, False)
        assert all(image.rule is None for image in result.images)


# --- which endpoint ---------------------------------------------------------------------------------

def test_api_names_the_endpoint(walk):
    chat = {"model": "gpt-4o", "messages": []}
    assert walk.count_request(chat, api="chat").api == "chat"
    with pytest.raises(MalformedRequestError):
        walk.count_request(chat, api="responses")
    with pytest.raises(MalformedRequestError):
        walk.count_request({"model": "gpt-4o", "input": "x"}, api="chat")
    with pytest.raises(InvalidArgumentError):
        walk.count_request(chat, api="images.variations")
    body, content_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x")])
    with pytest.raises(InvalidArgumentError):
        walk.count_request(body, content_type=content_type, api="chat")
    with pytest.raises(MalformedRequestError):
        walk.count_request(chat, content_type="text/plain")
    assert walk.count_request(json.dumps(chat), content_type="application/json; charset=utf-8").api == "chat"


# --- multipart bodies that are not well formed: typed errors, bounded work ----------------------------

def test_multipart_forms_refused(walk):
    png = pillow_image("PNG", (64, 64))
    good, content_type = multipart([("model", b"gpt-image-1"), ("image[]", png, "a.png")])
    assert walk.count_request(good, content_type=content_type).image_tokens == 194
    cases = [
        (good, "multipart/form-data"),  # no boundary
        (good, "multipart/form-data; boundary=other"),  # not this body's boundary
        (good, "multipart/form-data; boundary=" + "b" * 71),
        (good[:-20], content_type),  # cut inside the last part
        (good.replace(b"Content-Disposition", b"Content-Dispositoin"), content_type),
        (good.replace(b"\r\n\r\n", b"\r\n", 1), content_type),
        (multipart([("model", b"gpt-image-1"), ("n", b"two")])[0], content_type),
        (multipart([("model", b"gpt-image-1"), ("model", b"gpt-image-2")])[0], content_type),
        (multipart([("model", b"\xff\xfe")])[0], content_type),
        (multipart([("model", b"g" * 2000)])[0], content_type),
        (multipart([("model", b"gpt-image-1")] + [("x", b"")] * 300)[0], content_type),
        (multipart([("model", b"gpt-image-1"), ("prompt", b"no image")])[0], content_type),
        (b"--b0und4ry\r\n" + b"X-Long: " + b"a" * 10000 + b"\r\n\r\nv\r\n--b0und4ry--", content_type),
        ("a str body", content_type),
        ({"model": "gpt-image-1"}, content_type),
    ]
    for body, kind in cases:
        with pytest.raises(MalformedRequestError):
            walk.count_request(body, content_type=kind)


def test_bad_image_parts_are_violations(walk):
    body, content_type = multipart([("model", b"gpt-image-1"), ("image[]", b"not an image", "a.png"),
                                    ("image[]", pillow_image("GIF", (32, 32), frames=3), "b.gif")])
    with pytest.raises(InvalidImageError, match="^/image/0: "):
        walk.count_request(body, content_type=content_type)
    result = walk.count_request(body, content_type=content_type, on_violation="collect")
    assert [type(v).__name__ for v in result.violations] == ["UnsupportedImageFormatError",
                                                             "AnimatedImageError"]
    assert result.image_tokens == 0 and result.output_image_tokens == 6240


SMALL_FORM = multipart([("model", b"gpt-image-1"), ("size", b"1024x1024"), ("n", b"2"),
                        ("image", pillow_image("PNG", (40, 30)), "a.png")])


@given(cut=st.integers(0, len(SMALL_FORM[0])), flips=st.lists(
    st.tuples(st.integers(0, len(SMALL_FORM[0]) - 1), st.integers(0, 255)), max_size=4))
def test_any_prefix_or_mutation_gives_a_count_or_our_error(walk, cut, flips):
    body = bytearray(SMALL_FORM[0][:cut])
    for at, value in flips:
        if at < len(body):
            body[at] = value
    try:
        result = walk.count_request(bytes(body), content_type=SMALL_FORM[1],
                                    on_violation="collect")
    except VisionTokensError:
        return
    assert result.api == "images.edits"


def test_parts_between_boundaries_are_found_in_linear_time(walk):
    """200 parts of 100 KB each: every byte is searched once, and the count is exact."""
    png = pillow_image("PNG", (50, 50))
    fields = [("model", b"gpt-image-1")] + [("prompt", b"p" * 100_000)] * 199
    fields.append(("image", png, "a.png"))
    body, content_type = multipart(fields)
    assert walk.count_request(body, content_type=content_type).image_tokens == 194


# --- the command line ---------------------------------------------------------------------------------

def test_cli_generate(capsys):
    assert main(["generate", "--model", "gpt-image-2", "--size", "1536x1024", "--quality",
                 "high", "--n", "2", "--partial-images", "2"]) == 0
    out = capsys.readouterr().out
    assert "EMPIRICAL" in out and "5488" in out and f"{2 * (5488 + 200)}" in out
    assert main(["generate", "-m", "gpt-image-1", "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert (cost["tokens"], cost["upper_bound"], cost["priced_size"]) == (6240, True, "1024x1536")
    assert main(["generate", "-m", "gpt-image-2", "-s", "100x100"]) == 1
    assert "multiples of 16" in capsys.readouterr().err
    assert main(["generate", "-m", "gpt-image-2.5-flare", "-s", "1024x1024", "-q", "low"]) == 1
    assert main(["generate", "-m", "gpt-image-2.5-flare", "-s", "1024x1024", "-q", "low",
                 "--undocumented", "assume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["assumed_from"] == "gpt-image-2"


def test_cli_request_reads_multipart_files(capsys, tmp_path):
    png = pillow_image("PNG", (300, 200))
    body, content_type = multipart([("model", b"gpt-image-1"), ("quality", b"high"),
                                    ("image[]", png, "a.png"), ("mask", png, "m.png")])
    path = tmp_path / "edit.form"
    path.write_bytes(body)
    assert main(["request", str(path), "--content-type", content_type]) == 0
    out = capsys.readouterr().out
    assert "images.edits request, model gpt-image-1" in out and "not billed (ASSUMED" in out
    assert "output image tokens" in out and "6240 (an upper bound)" in out
    assert main(["request", str(path), "--content-type", content_type, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["output_image_tokens"] == 6240 and result["output_upper_bound"] is True
    assert result["images"][0]["rule"].startswith("gpt-image-1 input")
    assert result["images"][0]["tokens"] == count_image_tokens(300, 200, "gpt-image-1")
    path.write_text(json.dumps({"model": "gpt-image-2", "prompt": "x", "size": "1024x1024",
                                "quality": "high"}))
    assert main(["request", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output_image_tokens"] == 7024
    assert main(["request", str(path), "--api", "images.edits"]) == 1
    assert "needs 'images'" in capsys.readouterr().err


# --- ASSUMED, pinned (spec 6.2) ---------------------------------------------------------------------

def test_ASSUMED_a_mask_is_not_billed(walk):
    png = pillow_image("PNG", (300, 200))
    without, content_type = multipart([("model", b"gpt-image-1"), ("image", png, "a.png")])
    with_mask, _ = multipart([("model", b"gpt-image-1"), ("image", png, "a.png"),
                              ("mask", png, "m.png")])
    plain = walk.count_request(without, content_type=content_type)
    masked = walk.count_request(with_mask, content_type=content_type)
    assert masked.image_tokens == plain.image_tokens == count_image_tokens(300, 200, "gpt-image-1")
    assert masked.images[-1].pointer == "/mask" and masked.images[-1].tokens == 0
    assert "ASSUMED" in masked.images[-1].rule and len(plain.images) == 1


def test_ASSUMED_the_tool_makes_one_image_per_call(walk):
    tool = {"type": "image_generation", "model": "gpt-image-2", "size": "1536x1024",
            "quality": "medium", "partial_images": 3}
    result = walk.count_request({"model": "gpt-5.4", "input": "x", "tools": [tool]})
    assert result.output_image_tokens == count_output_image_tokens(
        "gpt-image-2", "1536x1024", "medium", n=1, partial_images=3)
    assert result.output_upper_bound  # the model may not call it at all


@given(content_type=st.one_of(
    st.text(max_size=60),
    st.builds(lambda tail: "multipart/form-data; " + tail, st.text(max_size=60)),
    st.builds(lambda b: f'multipart/form-data; charset=x; boundary="{b}"', st.text(max_size=80))))
def test_any_content_type_gives_a_count_or_our_error(walk, content_type):
    try:
        walk.count_request(SMALL_FORM[0], content_type=content_type, on_violation="collect")
    except VisionTokensError:
        pass


def test_ASSUMED_an_edit_image_of_unknown_size_is_charged_its_most(walk):
    """The largest tile figure of gpt-image-1, plus the larger fidelity extra (6240, a
    non-square image) with input_fidelity="high", plus nothing with "low"."""
    body = {"model": "gpt-image-1", "prompt": "x", "images": [{"file_id": "file-1"}]}
    low = walk.count_request(body, on_unknown="upper_bound").images[0]
    high = walk.count_request({**body, "input_fidelity": "high"}, on_unknown="upper_bound").images[0]
    most = visiontokens.max_image_tokens("gpt-image-1")
    assert (low.tokens, high.tokens) == (most, most + 6240) and low.upper_bound and high.upper_bound
    assert most == max(count_image_tokens(w, h, "gpt-image-1")
                       for w in (512, 1024, 2048) for h in (512, 1024, 2048, 4096))
