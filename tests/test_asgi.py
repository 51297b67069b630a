"""ImageTokenMiddleware under a real uvicorn server (issue 10).

client (httpx) -> uvicorn -> ImageTokenMiddleware -> a Starlette app proxying with httpx ->
uvicorn -> a fake OpenAI upstream, all on 127.0.0.1. The upstream records the sha256 of the
bytes it received: they must be the bytes the client sent, from 1 KB to 100 MB, uploaded with a
Content-Length or chunked. The Images API (issue 11): generations and edits, JSON and the
multipart/form-data the official SDK encodes, with real PNG and JPEG images; the figures in the
headers and in request.state are count_request's on the same bytes, output tokens included.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import socket
import time

import httpx
import pytest
from headers import data_url, gif_header, jpeg_header, png_header, webp_header
from servers import FakeOpenAI, serve

pytest.importorskip("starlette", reason="starlette is in the test extra")
pytest.importorskip("uvicorn", reason="uvicorn is in the test extra")
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

import visiontokens  # noqa: E402
from implementations import KINDS, load_twin  # noqa: E402
from visiontokens import InvalidArgumentError  # noqa: E402
from visiontokens.asgi import (  # noqa: E402
    ERROR_STATE_KEY,
    STATE_KEY,
    UPPER_BOUND_SUFFIX,
    ImageTokenMiddleware,
)

HEADER = "x-image-tokens"
OUTPUT_HEADER = "x-output-image-tokens"
OUTPUT_BOUND_HEADER = OUTPUT_HEADER + UPPER_BOUND_SUFFIX
OURS = (HEADER, OUTPUT_HEADER, OUTPUT_BOUND_HEADER)
SPOOFED = {HEADER: "0", OUTPUT_HEADER: "0", OUTPUT_BOUND_HEADER: "false"}  # a client's own


def proxy_app(upstream: str, calls: list) -> Starlette:
    """A gateway app: forwards the body it reads (and the count header) to the upstream and
    answers with what the upstream received, and what the middleware left in request.state."""

    async def forward(request: Request) -> JSONResponse:
        body = await request.body()
        calls.append(request.url.path)
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        for name in OURS:
            if name in request.headers:
                headers[name] = request.headers[name]
        async with httpx.AsyncClient(timeout=120) as client:
            answer = (await client.post(upstream + request.url.path, content=body,
                                        headers=headers)).json()
        count = getattr(request.state, STATE_KEY, None)
        error = getattr(request.state, ERROR_STATE_KEY, None)
        answer["gateway"] = {"image_tokens": count.image_tokens if count else None,
                             "error": type(error).__name__ if error else None}
        if count is not None and count.output_image_tokens:
            answer["gateway"]["output"] = [count.output_image_tokens, count.output_upper_bound]
        return JSONResponse(answer)

    paths = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/images/generations",
             "/v1/images/edits"]
    paths += ["/v1/messages", "/v1beta/{rest:path}", "/v1/projects/{rest:path}"]
    return Starlette(routes=[Route(p, forward, methods=["POST"]) for p in paths])


@pytest.fixture(scope="module")
def upstream():
    fake = FakeOpenAI()
    with serve(fake) as url:
        fake.url = url
        yield fake


@pytest.fixture(scope="module", params=KINDS)
def gateway(upstream, request):
    """The middleware with every option on, over the proxying app, counting with either
    request twin (each on its own lower twins)."""
    calls: list = []
    app = ImageTokenMiddleware(proxy_app(upstream.url, calls), header=HEADER,
                               output_header=OUTPUT_HEADER, reject_violations=True,
                               max_image_tokens=50_000, max_output_image_tokens=30_000,
                               _walk=load_twin("request", request.param))
    with serve(app) as url:
        yield url, calls


def image_urls(total_bytes: int, seed: int = 0) -> list[str]:
    """Four data-URL images whose base64 adds up to about ``total_bytes``."""
    rnd = random.Random(seed)
    heads = [(png_header(1920, 1080), "image/png"), (jpeg_header(1800, 2400, sos=True), "image/jpeg"),
             (webp_header(1024, 768, "VP8L"), "image/webp"), (gif_header(640, 480), "image/gif")]
    each = max(0, total_bytes * 3 // 16 - 64)
    # a GIF is walked to its trailer (spec 5: animation), so its padding must be sub-blocks
    return [data_url(head + (rnd.randbytes(each) if media != "image/gif" else b""), media)
            for head, media in heads]


def chat_body(total_bytes: int, seed: int = 0, model: str = "gpt-4.1-mini") -> bytes:
    parts = [{"type": "text", "text": "Compare these."}] + [
        {"type": "image_url", "image_url": {"url": url}} for url in image_urls(total_bytes, seed)]
    return json.dumps({"model": model, "messages": [{"role": "user", "content": parts}]}).encode()


def responses_body(total_bytes: int, seed: int = 0) -> bytes:
    parts = [{"type": "input_text", "text": "Compare these."}] + [
        {"type": "input_image", "image_url": url} for url in image_urls(total_bytes, seed)]
    return json.dumps({"model": "gpt-5.4", "input": [{"role": "user", "content": parts}]}).encode()


def check_passed_through(answer: dict, body: bytes, counted: bool = True,
                         **how) -> visiontokens.RequestCount | None:
    """The upstream got ``body`` unchanged, with our headers carrying count_request's figures
    on the same bytes (``how``: its content_type and api), or none of them."""
    received = answer["received"]
    assert received["length"] == len(body)
    assert received["sha256"] == hashlib.sha256(body).hexdigest()
    headers = received["headers"]
    if not counted:
        assert not any(name in headers for name in OURS)
        assert answer["gateway"]["image_tokens"] is None
        return None
    expected = visiontokens.count_request(body, on_unknown="upper_bound", **how)
    assert int(headers[HEADER]) == expected.image_tokens == answer["gateway"]["image_tokens"]
    assert int(headers[OUTPUT_HEADER]) == expected.output_image_tokens
    assert headers[OUTPUT_BOUND_HEADER] == ("true" if expected.output_upper_bound else "false")
    assert answer["gateway"].get("output", [0, False]) == [expected.output_image_tokens,
                                                           expected.output_upper_bound]
    return expected


@pytest.mark.parametrize("size", [1_000, 1_000_000, 10_000_000, 100_000_000],
                         ids=["1KB", "1MB", "10MB", "100MB"])
@pytest.mark.parametrize("upload", ["content-length", "chunked"])
def test_bodies_reach_the_upstream_byte_for_byte(gateway, size, upload):
    url, _ = gateway
    body = chat_body(size, seed=size)
    if upload == "chunked":  # a generator: httpx sends Transfer-Encoding: chunked
        step = max(1, len(body) // 37)
        content = (body[i:i + step] for i in range(0, len(body), step))
    else:
        content = body
    response = httpx.post(f"{url}/v1/chat/completions", content=content, timeout=300,
                          headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text[:500]
    check_passed_through(response.json(), body)
    if size == 1_000:
        assert len(body) < 2_000


def test_responses_bodies_and_a_spoofed_header(gateway):
    url, _ = gateway
    body = responses_body(200_000)
    response = httpx.post(f"{url}/v1/responses", content=body, headers=SPOOFED)
    assert response.status_code == 200
    check_passed_through(response.json(), body)  # the client's "0" was replaced by the count


def test_other_paths_and_methods_are_untouched(gateway):
    url, _ = gateway
    body = chat_body(5_000)
    answer = httpx.post(f"{url}/v1/embeddings", content=body, headers={HEADER: "7"}).json()
    assert answer["received"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert answer["received"]["headers"][HEADER] == "7"  # not ours to touch
    assert answer["gateway"] == {"image_tokens": None, "error": None}


@pytest.mark.parametrize("body,error", [
    (b"{not json", "MalformedRequestError"),
    (b'{"model": "gpt-4o"}', "MalformedRequestError"),
    (b'{"model": "some-new-model", "messages": [{"role": "user", "content": [{"type": '
     b'"image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}', "UnknownModelError"),
    (json.dumps({"model": "gpt-6-sol", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": data_url(png_header(64, 64))}]}]}).encode(),
     "UndocumentedModelError"),
])
def test_what_cannot_be_counted_goes_on_untouched(gateway, body, error):
    """The upstream owns these errors: the bytes go through as sent, and state says why."""
    url, _ = gateway
    response = httpx.post(f"{url}/v1/chat/completions", content=body, headers=SPOOFED)
    assert response.status_code == 200
    answer = response.json()
    check_passed_through(answer, body, counted=False)  # the client's "0" is dropped too
    assert answer["gateway"]["error"] == error


def error_of(response: httpx.Response) -> dict:
    payload = response.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"message", "type", "param",
                                                                   "code"}
    assert response.headers["content-type"] == "application/json"
    return payload["error"]


@pytest.mark.parametrize("image,code,param", [
    (data_url(gif_header(8, 8, frames=2), "image/gif"), "invalid_image_format",
     "messages[0].content[1]"),
    (data_url(b"BM" + bytes(60), "image/bmp"), "invalid_image_format", "messages[0].content[1]"),
    (data_url(png_header(6000, 6000)), "image_too_large", "messages[0].content[1]"),
    ("data:image/png;base64,iVBORw0K", "invalid_image", "messages[0].content[1]"),
])
def test_violations_answered_400_before_the_app(gateway, upstream, image, code, param):
    url, calls = gateway
    before_calls, before_up = len(calls), len(upstream.received)
    body = json.dumps({"model": "gpt-6-astra", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": image}}]}]})
    response = httpx.post(f"{url}/v1/chat/completions", content=body)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")
    assert error["message"].startswith("/messages/0/content/1: ")
    assert len(calls) == before_calls and len(upstream.received) == before_up


def test_too_many_images_answered_400(gateway):
    url, _ = gateway
    png = data_url(png_header(8, 8))
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": png, "detail": "low"}}] * 1501}]})
    response = httpx.post(f"{url}/v1/chat/completions", content=body)
    assert response.status_code == 400 and error_of(response)["code"] == "too_many_images"


def test_over_budget_answered_429(gateway, upstream):
    url, calls = gateway
    before = len(upstream.received)
    big = data_url(png_header(2048, 2048))
    body = json.dumps({"model": "gpt-6-astra", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": big}}] * 20}]})  # 20 x 5,030 > 50,000
    response = httpx.post(f"{url}/v1/chat/completions", content=body)
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "rate_limit_exceeded" and "50000" in error["message"]
    assert len(upstream.received) == before


def test_413_and_policies_passed_through(upstream):
    calls: list = []
    app = ImageTokenMiddleware(proxy_app(upstream.url, calls), header=HEADER,
                               max_image_tokens=1_000, over_budget_status=413,
                               undocumented="assume", enforce_patch_limit=False,
                               on_unknown="error")
    with serve(app) as url:
        body = json.dumps({"model": "gpt-6-sol", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": data_url(png_header(7360, 7360))}]}]})
        response = httpx.post(f"{url}/v1/responses", content=body)
        assert response.status_code == 413
        assert error_of(response)["code"] == "request_too_large"
        assert "63480" in error_of(response)["message"]  # counted like gpt-6-astra, no limit
        # on_unknown="error": an unfetched URL is not counted, and goes on untouched
        remote = json.dumps({"model": "gpt-5.4", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "https://example.com/a.png"}]}]}).encode()
        answer = httpx.post(f"{url}/v1/responses", content=remote).json()
        assert answer["gateway"]["error"] == "ImageSizeUnknownError"
        assert answer["received"]["sha256"] == hashlib.sha256(remote).hexdigest()


def test_concurrent_requests_each_get_their_own_bytes(gateway):
    url, _ = gateway
    bodies = [chat_body(300_000 + 50_000 * k, seed=k) if k % 2 else responses_body(200_000, k)
              for k in range(12)]

    async def run():
        async with httpx.AsyncClient(timeout=120) as client:
            return await asyncio.gather(*(
                client.post(f"{url}/v1/{'chat/completions' if k % 2 else 'responses'}",
                            content=body) for k, body in enumerate(bodies)))

    for response, body in zip(asyncio.run(run()), bodies):
        assert response.status_code == 200
        check_passed_through(response.json(), body)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list = []

    def emit(self, record) -> None:
        self.records.append(record)


def test_a_client_leaving_mid_body(gateway, upstream):
    """The client sends part of a 1 MB body and hangs up: the app is never called, the
    server logs no error, and it goes on serving."""
    url, calls = gateway
    errors = _Errors()
    logging.getLogger("uvicorn.error").addHandler(errors)
    try:
        before_calls, before_up = len(calls), len(upstream.received)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
                         + chat_body(1_000_000)[:300_000])
            time.sleep(0.2)
        time.sleep(0.3)
        assert len(calls) == before_calls and len(upstream.received) == before_up
        body = chat_body(2_000)
        check_passed_through(httpx.post(f"{url}/v1/chat/completions", content=body).json(), body)
        assert errors.records == []
    finally:
        logging.getLogger("uvicorn.error").removeHandler(errors)


def test_state_without_a_server():
    """In-process: the RequestCount in scope["state"], the replayed body, and the options
    checked at construction."""
    seen = {}

    async def app(scope, receive, send):
        seen["state"] = scope["state"]
        seen["messages"] = [await receive()]
        while seen["messages"][-1].get("more_body"):
            seen["messages"].append(await receive())
        seen["after"] = await receive()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    body = chat_body(10_000)
    messages = [{"type": "http.request", "body": body[:100], "more_body": True},
                {"type": "http.request", "body": body[100:], "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    asyncio.run(ImageTokenMiddleware(app)(scope, receive, send))
    # the app gets the body's chunks as they came (no joined copy), then the real receive
    assert seen["messages"] == [{"type": "http.request", "body": body[:100], "more_body": True},
                                {"type": "http.request", "body": body[100:], "more_body": False}]
    assert seen["after"] == {"type": "http.disconnect"}
    assert seen["state"][STATE_KEY] == visiontokens.count_request(body, on_unknown="upper_bound")
    assert sent[0]["status"] == 204
    for bad in ({"paths": "/v1/responses"}, {"header": ""}, {"max_image_tokens": -1},
                {"over_budget_status": 500}, {"on_unknown": "guess"}, {"undocumented": "x"},
                {"ruleset": "1999"}, {"max_body_size": None}):
        with pytest.raises(visiontokens.VisionTokensError):
            ImageTokenMiddleware(app, **bad)
    with pytest.raises(InvalidArgumentError):
        ImageTokenMiddleware(app, fetch="yes")
    for bad in ({"output_header": " "}, {"max_output_image_tokens": 1.5},
                {"header": "x-t", "output_header": "X-T"},
                {"header": "x-t-upper-bound", "output_header": "x-t"}):
        with pytest.raises(InvalidArgumentError):
            ImageTokenMiddleware(app, **bad)


def test_bodies_over_max_body_size_pass_uncounted(upstream):
    calls: list = []
    app = ImageTokenMiddleware(proxy_app(upstream.url, calls), header=HEADER,
                               max_body_size=100_000)
    with serve(app) as url:
        body = chat_body(1_000_000)
        step = 16_384
        chunks = (body[i:i + step] for i in range(0, len(body), step))
        answer = httpx.post(f"{url}/v1/chat/completions", content=chunks, timeout=60).json()
        check_passed_through(answer, body, counted=False)
        assert answer["gateway"]["error"] == "RequestLimitError"


# --- the Images API (issue 11) -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pictures():
    from headers import pillow_image

    return {"png": pillow_image("PNG", (1200, 800)), "jpeg": pillow_image("JPEG", (1800, 2400)),
            "mask": pillow_image("PNG", (1200, 800), mode="RGBA"),
            "gif": pillow_image("GIF", (64, 64), frames=3)}


def through_sdk(url: str, call) -> tuple[dict, httpx.Request]:
    """``call(client)`` made by the official SDK pointed at the gateway (a raw response, or
    an httpx one): (what the gateway answered, the request the SDK sent: its own JSON or
    multipart encoding, as bytes)."""
    openai = pytest.importorskip("openai")
    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [lambda r: sent.append(r) or r.read()]},
                      timeout=60) as http:
        client = openai.OpenAI(api_key="sk-test", base_url=f"{url}/v1", http_client=http,
                               max_retries=0)
        raw = call(client)
    (request,) = sent
    return getattr(raw, "http_response", raw).json(), request


def how(request: httpx.Request, api: str) -> dict:
    """count_request's arguments for the SDK's request, as the middleware gives them."""
    content_type = request.headers["content-type"]
    return {"api": api,
            "content_type": content_type if content_type.startswith("multipart/") else None}


@pytest.mark.parametrize("model,size,quality,n,partial_images", [
    ("gpt-image-1", "1024x1536", "high", 2, None),
    ("gpt-image-2", "1536x1024", "auto", 1, 2),  # quality auto: an upper bound (spec 6.2)
    ("gpt-image-1.5", "auto", "low", 3, None),
])
def test_image_generations_through_the_sdk(gateway, model, size, quality, n, partial_images):
    url, _ = gateway
    extra = {} if partial_images is None else {"partial_images": partial_images, "stream": False}
    answer, request = through_sdk(url, lambda client: client.with_raw_response.images.generate(
        model=model, prompt="a lighthouse at dusk", size=size, quality=quality, n=n, **extra))
    assert request.url.path == "/v1/images/generations"
    expected = check_passed_through(answer, request.content,
                                    **how(request, "images.generations"))
    assert expected is not None and expected.api == "images.generations"
    assert expected.output_image_tokens == visiontokens.count_output_image_tokens(
        model, size, quality, n=n, partial_images=partial_images or 0)
    assert expected.output_upper_bound is (quality == "auto" or size == "auto")
    assert answer["received"]["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize("fidelity", [None, "high"])
def test_multipart_edits_through_the_sdk(gateway, pictures, fidelity):
    url, _ = gateway
    extra = {} if fidelity is None else {"input_fidelity": fidelity}
    answer, request = through_sdk(url, lambda client: client.with_raw_response.images.edit(
        model="gpt-image-1", prompt="add a hat", image=[
            ("a.png", pictures["png"], "image/png"), ("b.jpg", pictures["jpeg"], "image/jpeg")],
        mask=("mask.png", pictures["mask"], "image/png"), size="1024x1024", quality="medium",
        n=2, **extra))
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert answer["received"]["headers"]["content-type"] == content_type  # as the client sent it
    expected = check_passed_through(answer, request.content, **how(request, "images.edits"))
    assert expected is not None and expected.api == "images.edits"
    assert expected.image_tokens == sum(
        visiontokens.count_image_tokens(w, h, "gpt-image-1", input_fidelity=fidelity)
        for w, h in ((1200, 800), (1800, 2400)))
    assert (expected.output_image_tokens, expected.output_upper_bound) == (2 * 1056, False)


def test_json_edits(gateway, pictures):
    """An edit as JSON (``images: [{image_url}]``), posted by the SDK as the API documents it."""
    pytest.importorskip("openai")
    url, _ = gateway
    body = {"model": "gpt-image-1", "prompt": "x", "input_fidelity": "high",
            "images": [{"image_url": data_url(pictures["jpeg"], "image/jpeg")},
                       {"image_url": data_url(pictures["png"])}],
            "mask": {"image_url": data_url(pictures["mask"])}, "quality": "low",
            "size": "1536x1024"}
    answer, request = through_sdk(url, lambda client: client.post(
        "/images/edits", cast_to=httpx.Response, body=body))
    assert request.headers["content-type"] == "application/json"
    expected = check_passed_through(answer, request.content, **how(request, "images.edits"))
    assert expected is not None
    assert expected.image_tokens == visiontokens.count_image_tokens(
        1800, 2400, "gpt-image-1", input_fidelity="high") + visiontokens.count_image_tokens(
        1200, 800, "gpt-image-1", input_fidelity="high")
    assert (expected.output_image_tokens, expected.output_upper_bound) == (400, False)


def test_images_refusals(gateway, upstream, pictures):
    """An animated upload and 17 images: 400 as the API would answer; a generation over the
    output budget (30,000): 429. None reaches the app or the upstream."""
    from forms import multipart

    url, calls = gateway
    before_calls, before_up = len(calls), len(upstream.received)
    form, content_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x"),
                                    ("image[]", pictures["png"], "a.png"),
                                    ("image[]", pictures["gif"], "b.gif")])
    response = httpx.post(f"{url}/v1/images/edits", content=form,
                          headers={"content-type": content_type})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"]) == ("invalid_image_format", "image[1]")
    form, content_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x")]
                                   + [("image[]", pictures["png"], "a.png")] * 17)
    response = httpx.post(f"{url}/v1/images/edits", content=form,
                          headers={"content-type": content_type})
    assert response.status_code == 400 and error_of(response)["code"] == "too_many_images"
    body = json.dumps({"model": "gpt-image-2", "prompt": "x", "size": "3840x2160",
                       "quality": "high", "n": 3}).encode()  # 3 x 13,342 > 30,000
    response = httpx.post(f"{url}/v1/images/generations", content=body)
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "rate_limit_exceeded"
    assert error["message"].startswith("the request's generated images cost 40026 output tokens")
    assert len(calls) == before_calls and len(upstream.received) == before_up


def test_images_bodies_that_cannot_be_counted_go_on_untouched(gateway, pictures):
    """The endpoint tells the body's kind: an edit body posted to generations is counted as
    the generation it is sent as; a form posted to generations, and a JSON generation posted
    to edits, go on uncounted (the upstream owns those errors), spoofed headers dropped."""
    from forms import multipart

    url, _ = gateway
    edit = json.dumps({"model": "gpt-image-1", "prompt": "x", "quality": "low",
                       "images": [{"image_url": data_url(pictures["png"])}]}).encode()
    answer = httpx.post(f"{url}/v1/images/generations", content=edit, headers=SPOOFED).json()
    counted = check_passed_through(answer, edit, api="images.generations")
    assert counted is not None and counted.image_tokens == 0 and counted.images == ()
    # a size the model does not take: the upstream's 400 to give, not ours; output 0
    odd = json.dumps({"model": "gpt-image-2", "prompt": "x", "size": "1000x1000"}).encode()
    answer = httpx.post(f"{url}/v1/images/generations", content=odd, headers=SPOOFED).json()
    counted = check_passed_through(answer, odd, api="images.generations",
                                   on_violation="collect")
    assert counted is not None and counted.output_image_tokens == 0
    assert [type(v).__name__ for v in counted.violations] == ["UnsupportedSizeError"]
    form, content_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x"),
                                    ("image", pictures["png"], "a.png")])
    generation = json.dumps({"model": "gpt-image-1", "prompt": "x"}).encode()
    for path, body, headers, error in [
            ("generations", form, {"content-type": content_type}, "InvalidArgumentError"),
            ("edits", generation, {}, "MalformedRequestError"),
            ("edits", form[:-40], {"content-type": content_type}, "MalformedRequestError"),
            ("generations", json.dumps({"model": "dall-e-3", "prompt": "x"}).encode(), {},
             "UnknownModelError")]:
        answer = httpx.post(f"{url}/v1/images/{path}", content=body,
                            headers={**SPOOFED, **headers}).json()
        check_passed_through(answer, body, counted=False)
        assert answer["gateway"]["error"] == error


def test_imports_stay_light():
    """Neither `import visiontokens` nor the middleware loads a parser, a web framework or
    LiteLLM: jiter loads on the first body given as bytes or text."""
    import subprocess
    import sys

    heavy = ["jiter", "litellm", "starlette", "uvicorn", "httpx", "numpy", "pydantic", "openai",
             "fastapi", "opentelemetry", "visiontokens.otel"]
    code = ("import sys, visiontokens, visiontokens.asgi; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- issue 22: paths by suffix and pattern, models=, on_uncountable, the log --------------------

def _image_body(model: str | None, marker: str = "a secret prompt") -> bytes:
    data = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": marker},
        {"type": "image_url", "image_url": {"url": data_url(png_header(1500, 900)), "detail": "high"}}]}]}
    if model is not None:
        data = {"model": model, **data}
    return json.dumps(data).encode()


def _counted_as(model: str, body: bytes) -> int:
    """count_request's figure for ``body`` with its model set to ``model``."""
    data = json.loads(body)
    data["model"] = model
    return visiontokens.count_request(data, on_unknown="upper_bound").image_tokens


@pytest.fixture(scope="module")
def direct(upstream):
    """The middleware straight over the fake upstream (any path reaches it), with aliases."""
    app = ImageTokenMiddleware(upstream, header=HEADER,
                               models={"my-azure-gpt4o-deployment": "gpt-4o",
                                       "vision-prod": "gpt-4.1-mini"})
    with serve(app) as url:
        yield url


@pytest.mark.parametrize("path,counted", [
    ("/v1/chat/completions", True),
    ("/v1/chat/completions/", True),
    ("/openai/v1/chat/completions", True),
    ("/openai/v1/chat/completions/", True),
    ("/my/base/v1/chat/completions", True),
    ("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", True),
    ("/openai/deployments/gpt-4o/chat/completions/?api-version=2024-10-21", True),
    ("/xv1/chat/completions", False),
    ("/v1/chat/completions/extra", False),
    ("/v1/chat/completions//", False),
    ("/openai/deployments/chat/completions", False),
    ("/openai/deployments/a/b/chat/completions", False),
])
def test_paths_match_by_suffix_and_pattern(direct, upstream, path, counted):
    body = _image_body("gpt-4o")
    response = httpx.post(direct + path, content=body)
    assert response.status_code == 200
    received = upstream.received[-1]
    assert received["sha256"] == hashlib.sha256(body).hexdigest()
    if counted:
        assert int(received["headers"][HEADER]) == _counted_as("gpt-4o", body) == 1105
    else:
        assert HEADER not in received["headers"]


@pytest.mark.parametrize("path,model,counted_as", [
    ("/v1/chat/completions", "my-azure-gpt4o-deployment", "gpt-4o"),
    ("/v1/chat/completions", "vision-prod", "gpt-4.1-mini"),
    ("/v1/chat/completions", "openai/gpt-4.1-mini", "gpt-4.1-mini"),  # provider/model
    # Azure: a mapped deployment names the model, whatever the body says
    ("/openai/deployments/my-azure-gpt4o-deployment/chat/completions?api-version=2024-10-21",
     None, "gpt-4o"),
    ("/openai/deployments/my-azure-gpt4o-deployment/chat/completions?api-version=2024-10-21",
     "gpt-4.1-mini", "gpt-4o"),
    # an unmapped deployment: the body's model, else the deployment's name as a model id
    ("/openai/deployments/some-deployment/chat/completions", "gpt-4.1-mini", "gpt-4.1-mini"),
    ("/openai/deployments/gpt-4.1-mini/chat/completions", None, "gpt-4.1-mini"),
])
def test_models_aliases_and_deployments(direct, upstream, path, model, counted_as):
    body = _image_body(model)
    assert httpx.post(direct + path, content=body).status_code == 200
    received = upstream.received[-1]
    assert received["sha256"] == hashlib.sha256(body).hexdigest()  # the body is not rewritten
    assert int(received["headers"][HEADER]) == _counted_as(counted_as, body)
    assert _counted_as("gpt-4o", body) != _counted_as("gpt-4.1-mini", body)  # tells them apart


def test_models_is_the_hooks_rule():
    from visiontokens.gateway.shared import model_candidates

    models = {"vision-prod": "gpt-4.1-mini", "gpt-4o": "gpt-4.1"}
    assert model_candidates(models, "vision-prod") == ["gpt-4.1-mini"]
    assert model_candidates(models, "gpt-4o") == ["gpt-4.1"]  # the map wins over a model id
    assert model_candidates(models, "azure/gpt-5.4") == ["azure/gpt-5.4", "gpt-5.4"]
    assert model_candidates(models, "gpt-5.4") == ["gpt-5.4"]
    with pytest.raises(InvalidArgumentError):
        ImageTokenMiddleware(None, models={"a": 1})
    with pytest.raises(InvalidArgumentError):
        ImageTokenMiddleware(None, on_uncountable="drop")
    with pytest.raises(InvalidArgumentError):
        ImageTokenMiddleware(None, paths=["v1/chat/completions"])


@pytest.mark.parametrize("policy", ["pass", "refuse"])
def test_uncountable_requests_are_logged_and_refused_when_asked(upstream, caplog, policy):
    app = ImageTokenMiddleware(upstream, header=HEADER, on_uncountable=policy,
                               max_body_size=200_000)
    undocumented = json.dumps({"model": "gpt-6-sol", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": data_url(png_header(64, 64))}]}]}).encode()
    cases = [
        ("/openai/v1/chat/completions", _image_body("my-azure-gpt4o-deployment"), 400,
         "unknown_model", "model"),
        ("/v1/responses/", undocumented, 400, "undocumented_model", "model"),
        ("/v1/chat/completions", b"{not json", 400, "malformed_request", None),
        ("/v1/chat/completions", chat_body(400_000), 413, "payload_too_large", None),
    ]
    caplog.set_level(logging.WARNING, logger="visiontokens")
    with serve(app) as url:
        for path, body, status, code, _ in cases:
            before = len(upstream.received)
            caplog.clear()
            # chunked: the body comes in many messages, the size checked as they come
            content = (body[i:i + 50_000] for i in range(0, len(body), 50_000))
            response = httpx.post(url + path, content=content)
            if policy == "pass":
                assert response.status_code == 200
                assert upstream.received[-1]["sha256"] == hashlib.sha256(body).hexdigest()
                assert HEADER not in upstream.received[-1]["headers"]
            else:
                assert response.status_code == status, response.text
                error = error_of(response)
                assert error["code"] == code and error["type"] == "invalid_request_error"
                assert len(upstream.received) == before  # the app was not called
            records = [r for r in caplog.records if r.name == "visiontokens"]
            assert len(records) == 1 and records[0].levelno == logging.WARNING
            text = records[0].getMessage()
            assert text.startswith(f"request to {path.split('?')[0]} not counted ({code}): ")
            assert text.endswith("[refused]" if policy == "refuse" else "[passed on]")
            assert "secret prompt" not in text and "base64" not in text
            assert len(text) < 400


def test_refusals_on_anthropic_paths_take_anthropic_shape(upstream):
    app = ImageTokenMiddleware(upstream, paths=["/v1/messages"], on_uncountable="refuse")
    with serve(app) as url:
        response = httpx.post(url + "/anthropic/v1/messages", content=b"[1, 2]")
    assert response.status_code == 400
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert set(payload["error"]) == {"type", "message"} and payload["error"]["message"]


def test_gemini_paths_refuse_in_googles_shape_and_take_aliases(upstream):
    import base64

    app = ImageTokenMiddleware(upstream, header=HEADER, on_uncountable="refuse",
                               models={"my-gemini": "gemini-2.5-flash"})
    body = json.dumps({"contents": [{"role": "user", "parts": [{"inline_data": {
        "mime_type": "image/png", "data": base64.b64encode(png_header(960, 540)).decode()}}]}]})
    with serve(app) as url:
        refused = httpx.post(url + "/v1beta/models/gemini-2.5-flash:generateContent",
                             content=b"[1, 2]")
        aliased = httpx.post(url + "/v1beta/models/my-gemini:generateContent", content=body)
        unknown = httpx.post(url + "/v1beta/models/not-a-model:generateContent", content=body)
    assert refused.status_code == 400
    payload = refused.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message", "status"}
    assert (payload["error"]["code"], payload["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert aliased.status_code == 200
    assert upstream.received[-1]["headers"][HEADER] == "1548"  # as gemini-2.5-flash
    assert unknown.status_code == 400 and "not-a-model" in unknown.json()["error"]["message"]


# --- Anthropic Messages and Gemini generateContent paths ---------------------------------------

def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_anthropic_messages_path(gateway, upstream):
    url, calls = gateway
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [
        {"role": "user", "content": [{"type": "image", "source": {
            "type": "base64", "media_type": "image/png", "data": _b64(png_header(1920, 1080))}}]}]})
    response = httpx.post(f"{url}/v1/messages", content=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["gateway"]["image_tokens"] == 1560  # providers 1.5
    assert answer["received"]["headers"][HEADER] == "1560"
    before = len(upstream.received)
    too_large = body.replace(_b64(png_header(1920, 1080)), _b64(png_header(8001, 100)))
    refused = httpx.post(f"{url}/v1/messages", content=too_large)
    assert refused.status_code == 400
    # Anthropic's shape, which has no code nor param: the location is in the message
    violation = visiontokens.count_request(too_large, on_violation="collect").violations[0]
    assert refused.json() == {"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": str(violation)}}
    assert "/messages/0/content/0" in str(violation)
    assert len(upstream.received) == before


@pytest.mark.parametrize(("path", "resolution", "expected"), [
    ("/v1beta/models/gemini-2.5-flash:generateContent", None, 1548),
    ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", "MEDIA_RESOLUTION_LOW", 64),
    ("/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-3-pro"
     ":generateContent", "MEDIA_RESOLUTION_LOW", 280),
])
def test_generate_content_paths_take_the_model_from_the_path(gateway, path, resolution, expected):
    url, _ = gateway
    body = {"contents": [{"role": "user", "parts": [
        {"inline_data": {"mime_type": "image/png", "data": _b64(png_header(960, 540))}}]}]}
    if resolution is not None:
        body["generationConfig"] = {"mediaResolution": resolution}
    response = httpx.post(url + path, content=json.dumps(body))
    assert response.status_code == 200, response.text
    assert response.json()["gateway"]["image_tokens"] == expected
    assert response.json()["received"]["headers"][HEADER] == str(expected)


def test_generate_content_paths_are_in_the_defaults():
    from visiontokens.gateway.shared import DEFAULT_PATHS, counted_path

    paths = frozenset(DEFAULT_PATHS)
    assert counted_path("/v1/messages", paths)
    assert counted_path("/v1beta/models/gemini-2.5-flash:generateContent", paths)
    assert not counted_path("/v1beta/models/gemini-2.5-flash:countTokens", paths)
    assert not counted_path("/v1beta/models/gemini-2.5-flash:generateContent",
                            frozenset(["/v1/chat/completions"]))


def test_chunked_bodies_share_a_buffer_without_mixing():
    """In-process: bodies of several chunks are counted in a buffer the middleware keeps from
    one request to the next. A long body, then shorter ones (a JSON body, one whose model is
    an alias, a multipart edit) through the same middleware: each is counted as its own
    bytes (nothing of the longer body left in the buffer counts), and each reaches the app
    chunk by chunk, unchanged."""
    from forms import multipart

    seen = []

    async def app(scope, receive, send):
        got = b""
        while True:
            message = await receive()
            got += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append((scope["state"].get(STATE_KEY), got))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    middleware = ImageTokenMiddleware(app, models={"my-deployment": "gpt-4o"})
    form, form_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x"),
                                 ("image[]", png_header(1024, 1024), "a.png")])
    aliased = json.dumps({"model": "my-deployment", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_url(png_header(512, 512))}}]}]}).encode()
    cases = [("/v1/chat/completions", chat_body(300_000, seed=1), None, {}),
             ("/v1/chat/completions", chat_body(120_000, seed=2), None, {}),
             ("/v1/chat/completions", aliased, None,
              {"body": aliased.replace(b"my-deployment", b"gpt-4o")}),
             ("/v1/images/edits", form, form_type,
              {"content_type": form_type, "api": "images.edits"})]
    for path, body, content_type, how in cases:
        step = max(1, len(body) // 7)
        messages = [{"type": "http.request", "body": body[i:i + step],
                     "more_body": i + step < len(body)} for i in range(0, len(body), step)]
        assert len(messages) > 1

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            pass

        headers = [] if content_type is None else [(b"content-type", content_type.encode())]
        scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
        asyncio.run(middleware(scope, receive, send))
        result, got = seen[-1]
        assert got == body
        expected = visiontokens.count_request(how.pop("body", body), on_unknown="upper_bound",
                                              on_violation="collect", **how)
        assert result is not None and result.image_tokens == expected.image_tokens > 0
        assert result.images == expected.images


@pytest.mark.parametrize("kind", KINDS)
def test_kept_buffers_come_back_empty_and_bounded(kind):
    """The middleware's buffers (its request twin's BodyBuffer): one given back comes back
    empty for the next body; one still read, or one that held over KEEP_BYTES, is dropped,
    and at most KEEP are kept."""
    from visiontokens.asgi import _BodyBuffers

    make = load_twin("request", kind).BodyBuffer
    buffers = _BodyBuffers(make)
    first = buffers.take()
    first.put(b'{"model": "gpt-4o"}')
    buffers.give_back(first)
    again = buffers.take()
    assert again is first and len(again) == 0
    again.put(b"[1]")
    with again.view() as view:
        buffers.give_back(again)  # still read: dropped, its bytes untouched
        assert view.tobytes() == b"[1]"
    assert buffers.take() is not again
    large = make()
    large.put(bytes(_BodyBuffers.KEEP_BYTES + 1))
    buffers.give_back(large)
    assert buffers.take() is not large
    kept = [make() for _ in range(_BodyBuffers.KEEP + 1)]
    for buffer in kept:
        buffers.give_back(buffer)
    taken = [buffers.take() for _ in range(_BodyBuffers.KEEP + 1)]
    assert sum(any(t is k for k in kept) for t in taken) == _BodyBuffers.KEEP
