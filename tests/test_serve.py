"""``visiontokens serve`` under a real uvicorn server on 127.0.0.1 (issue 20).

The app runs in a uvicorn thread with its lifespan (so its counting processes start and stop as
in production); the SIGTERM, logging and CLI tests start ``python -m visiontokens serve`` as a
subprocess. Every figure is compared with count_request on the same bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, strategies as st
from extras import needs
from headers import data_url, gif_header, jpeg_header, png_header
from json_values import json_values
from servers import FakeOpenAI, running, serve

pytest.importorskip("uvicorn", reason="uvicorn is in the serve and test extras")

import visiontokens  # noqa: E402
from visiontokens.asgi import ImageTokenMiddleware  # noqa: E402
from visiontokens.gateway.config import ServeConfig, parse_args  # noqa: E402
from visiontokens.gateway.workers import error_data  # noqa: E402

SRC = Path(visiontokens.__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BUDGET, OUTPUT_BUDGET = 10_000, 5_000


@pytest.fixture(autouse=True)
def _nothing_registered():
    """--model-alias is the models= map the counting code takes, never a registration: no
    test leaves an alias in the rulesets."""
    def aliases():
        return {name: dict(visiontokens.rules.get_ruleset(name).aliases)
                for name in visiontokens.rulesets()}

    before = aliases()
    yield
    assert aliases() == before


@pytest.fixture(scope="module", params=["inline", "processes"])
def service(request):
    """Sparse bodies counted on the event loop, or every body by the counting processes."""
    config = ServeConfig(max_image_tokens=BUDGET, max_output_image_tokens=OUTPUT_BUDGET,
                         max_body_size=2_000_000, body_timeout=1.0, concurrency=2,
                         inline_max_bytes=2_000_000 if request.param == "inline" else 0)
    with running(config) as (url, app):
        yield url


def chat(*urls: str, model: str = "gpt-4.1-mini", detail: str | None = None) -> bytes:
    parts: list[dict] = [{"type": "text", "text": "Compare."}]
    for url in urls:
        image = {"url": url} if detail is None else {"url": url, "detail": detail}
        parts.append({"type": "image_url", "image_url": image})
    parts.append({"type": "file", "file": {"file_id": "file-abc"}})
    return json.dumps({"model": model, "messages": [{"role": "user", "content": parts}]}).encode()


PNG = data_url(png_header(1920, 1080), "image/png")
JPEG = data_url(jpeg_header(1800, 2400, sos=True), "image/jpeg")
ANIMATED = data_url(gif_header(64, 64, frames=3), "image/gif")
JSON = {"content-type": "application/json"}


def post(url: str, body: bytes, headers: dict | None = None, **kw) -> httpx.Response:
    return httpx.post(url, content=body, headers={**JSON, **(headers or {})}, timeout=60, **kw)


# --- /v1/count ------------------------------------------------------------------------------

def test_count_gives_count_requests_figures_image_by_image(service):
    body = chat(PNG, JPEG, "https://example.com/cat.png")
    response = post(f"{service}/v1/count", body)
    assert response.status_code == 200
    data = response.json()
    expected = visiontokens.count_request(body, on_unknown="upper_bound", on_violation="collect")
    assert (data["api"], data["model"]) == ("chat", expected.model)
    assert data["image_tokens"] == expected.image_tokens > 0
    assert data["upper_bound"] is True  # the URL is not fetched: its upper bound
    assert [(i["pointer"], i["width"], i["height"], i["tokens"], i["source"], i["upper_bound"])
            for i in data["images"]] == [
        (i.pointer, i.width, i.height, i.tokens, i.source, i.upper_bound)
        for i in expected.images]
    assert data["images"][2]["width"] is None and data["images"][2]["upper_bound"] is True
    assert data["skipped"] == [{"pointer": "/messages/0/content/4", "type": "file",
                                "reason": expected.skipped[0].reason}]
    assert data["violations"] == [] and data["output_image_tokens"] == 0


def test_count_reports_violations_as_data(service):
    body = chat(PNG, ANIMATED)
    data = post(f"{service}/v1/count", body).json()
    assert data["violations"] == [{"pointer": "/messages/0/content/2", "code": "animated_image",
                                   "message": data["violations"][0]["message"]}]
    assert "animated" in data["violations"][0]["message"].lower()
    assert data["images"][1]["error"] == "animated_image" and data["images"][1]["tokens"] is None


def test_the_api_by_query_header_or_provider_path(service):
    """An Images API edit as multipart/form-data: told by ?api=, the header, or the path."""
    from forms import multipart

    form, content_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x"),
                                    ("size", b"1024x1024"), ("quality", b"low"),
                                    ("image[]", png_header(512, 512), "a.png")])
    expected = visiontokens.count_request(form, content_type=content_type, api="images.edits",
                                          on_unknown="upper_bound", on_violation="collect")
    headers = {"content-type": content_type}
    for response in (post(f"{service}/v1/count?api=images.edits", form, headers),
                     post(f"{service}/v1/count", form, {**headers,
                                                        "x-visiontokens-api": "images.edits"}),
                     post(f"{service}/v1/count/v1/images/edits", form, headers)):
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["api"] == "images.edits"
        assert (data["image_tokens"], data["output_image_tokens"]) == (
            expected.image_tokens, expected.output_image_tokens)
        assert data["output_image_tokens"] > 0
    bad = post(f"{service}/v1/count?api=telepathy", chat(PNG))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_argument"


def test_count_errors_in_its_own_shape(service):
    response = post(f"{service}/v1/count", b'{"model": "gpt-4o", "messages": [')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    response = post(f"{service}/v1/count", chat(PNG, model="no-such-model"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_model"


# --- /v1/check ------------------------------------------------------------------------------

def test_check_answers_200_with_the_count_headers(service):
    body = chat(PNG, detail="low")
    expected = visiontokens.count_request(body)
    response = post(f"{service}/v1/check", body)
    assert response.status_code == 200
    assert response.headers["x-image-tokens"] == str(expected.image_tokens)
    assert response.headers["x-image-tokens-upper-bound"] == "false"
    assert response.headers["x-output-image-tokens"] == "0"
    bound = post(f"{service}/v1/check", chat("https://example.com/a.png", detail="low"))
    assert bound.status_code == 200 and bound.headers["x-image-tokens-upper-bound"] == "true"


def openai_error(response: httpx.Response) -> dict:
    data = response.json()
    assert set(data) == {"error"} and set(data["error"]) == {"message", "type", "param", "code"}
    return data["error"]


def test_check_over_budget_429_in_openais_shape(service):
    body = chat(PNG, JPEG, PNG, JPEG)  # over 10,000 on gpt-4.1-mini
    assert visiontokens.count_request(body).image_tokens > BUDGET
    response = post(f"{service}/v1/check", body)
    assert response.status_code == 429
    error = openai_error(response)
    assert error["code"] == "rate_limit_exceeded" and str(BUDGET) in error["message"]


def test_budget_header_lowers_the_budget(service):
    body = chat(PNG, detail="low")
    tokens = visiontokens.count_request(body).image_tokens
    assert tokens < BUDGET
    assert post(f"{service}/v1/check", body).status_code == 200
    lowered = post(f"{service}/v1/check", body,
                   {"x-visiontokens-max-image-tokens": str(tokens - 1)})
    assert lowered.status_code == 429 and str(tokens - 1) in openai_error(lowered)["message"]
    exact = post(f"{service}/v1/check", body, {"x-visiontokens-max-image-tokens": str(tokens)})
    assert exact.status_code == 200


def test_budget_header_never_raises_the_budget(service):
    body = chat(PNG, JPEG, PNG, JPEG)
    response = post(f"{service}/v1/check", body,
                    {"x-visiontokens-max-image-tokens": str(10 ** 12)})
    assert response.status_code == 429 and str(BUDGET) in openai_error(response)["message"]
    bad = post(f"{service}/v1/check", body, {"x-visiontokens-max-image-tokens": "lots"})
    assert bad.status_code == 400 and openai_error(bad)["code"] == "invalid_budget"


def test_output_budget(service):
    cheap = json.dumps({"model": "gpt-image-1", "prompt": "x", "size": "1024x1024",
                        "quality": "low"}).encode()
    dear = json.dumps({"model": "gpt-image-1", "prompt": "x", "size": "1024x1024",
                       "quality": "high", "n": 4}).encode()
    expected = visiontokens.count_request(cheap, api="images.generations")
    ok = post(f"{service}/v1/check/v1/images/generations", cheap)
    assert ok.status_code == 200
    assert ok.headers["x-output-image-tokens"] == str(expected.output_image_tokens)
    assert ok.headers["x-output-image-tokens-upper-bound"] == "false"
    over = post(f"{service}/v1/check/v1/images/generations", dear)
    assert visiontokens.count_request(dear, api="images.generations").output_image_tokens > \
        OUTPUT_BUDGET
    assert over.status_code == 429 and "output" in openai_error(over)["message"]
    lowered = post(f"{service}/v1/check/v1/images/generations", cheap,
                   {"x-visiontokens-max-output-image-tokens": "1"})
    assert lowered.status_code == 429


def test_check_refuses_what_the_provider_would_refuse(service):
    response = post(f"{service}/v1/check", chat(PNG, ANIMATED, detail="low"))
    assert response.status_code == 400
    error = openai_error(response)
    assert (error["code"], error["param"], error["type"]) == (
        "invalid_image_format", "messages[0].content[2]", "invalid_request_error")
    malformed = post(f"{service}/v1/check", b'{"model": ')
    assert malformed.status_code == 400
    assert openai_error(malformed)["code"] == "malformed_request"
    unknown = post(f"{service}/v1/check", chat(PNG, model="no-such-model"))
    assert unknown.status_code == 404 and openai_error(unknown)["code"] == "model_not_found"


def test_check_refusals_in_anthropics_shape_for_messages_bodies(service):
    """A body for /v1/messages is refused in Anthropic's shape (whatever its walk says)."""
    response = post(f"{service}/v1/check/v1/messages", b"{not json")
    assert response.status_code == 400
    data = response.json()
    assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
    assert set(data["error"]) == {"type", "message"}
    claude = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [
        {"role": "user", "content": [{"type": "image", "source": {
            "type": "base64", "media_type": "image/png", "data": PNG.partition(",")[2]}}]}]})
    over = post(f"{service}/v1/check/v1/messages", claude.encode(),
                {"x-visiontokens-max-image-tokens": "1"})
    assert over.status_code == 429
    assert over.json()["error"]["type"] == "rate_limit_error"
    assert "limit of 1 " in over.json()["error"]["message"]


def test_check_refusals_in_googles_shape_on_generate_content_paths(service):
    """On a generateContent path: the model is the path's, and refusals are Google's."""
    path = "/v1/check/v1beta/models/gemini-2.5-flash:generateContent"
    tokens = visiontokens.count_request(GEMINI_BODY, model="gemini-2.5-flash").image_tokens
    ok = post(service + path, GEMINI_BODY)
    assert ok.status_code == 200 and ok.headers["x-image-tokens"] == str(tokens)
    lowered = post(service + path, GEMINI_BODY,
                   {"x-visiontokens-max-image-tokens": str(tokens - 1)})
    assert lowered.status_code == 429
    assert lowered.json() == {"error": {"code": 429, "message": lowered.json()["error"][
        "message"], "status": "RESOURCE_EXHAUSTED"}}
    assert f"limit of {tokens - 1} " in lowered.json()["error"]["message"]
    gif = GEMINI_BODY.replace(PNG.partition(",")[2].encode(), ANIMATED.partition(",")[2].encode())
    refused = post(service + path, gif.replace(b"image/png", b"image/gif"))
    assert refused.status_code == 400
    assert refused.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "image/gif" in refused.json()["error"]["message"]
    unknown = post(service + "/v1/check/v1beta/models/no-such-model:generateContent",
                   GEMINI_BODY)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_413_status_for_over_budget_when_so_configured():
    with running(ServeConfig(max_image_tokens=1, over_budget_status=413,
                             concurrency=1)) as (url, _):
        response = post(f"{url}/v1/check", chat(PNG))
        assert response.status_code == 413
        assert openai_error(response)["code"] == "request_too_large"


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["count", "check"])
def test_wrong_content_types_get_415(service, endpoint):
    for headers in ({"content-type": "text/plain"}, {"content-type": "image/png"},
                    {"content-encoding": "gzip"}):
        response = post(f"{service}/v1/{endpoint}", chat(PNG), headers)
        assert response.status_code == 415, headers
    assert post(f"{service}/v1/{endpoint}", chat(PNG),
                {"content-type": "application/json; charset=utf-8"}).status_code != 415


def raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_an_announced_oversize_body_gets_413_unread(service):
    with raw(service) as sock:
        sock.sendall(b"POST /v1/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2000001\r\n\r\n")  # not one byte of body sent
        assert status_of(sock) == 413


def test_a_chunked_body_stops_at_the_limit(service):
    """413 while the client is still sending: the server stopped reading at the limit."""
    with raw(service) as sock:
        sock.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(2_000_000 // len(chunk) + 2):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # the terminating chunk is never sent: the answer cannot wait for the end
        assert status_of(sock) == 413


def test_a_slow_client_gets_408(service):
    with raw(service) as sock:
        sock.sendall(b"POST /v1/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"model\"")
        assert status_of(sock) == 408


def test_methods_and_unknown_paths(service):
    assert httpx.get(f"{service}/v1/count").status_code == 405
    assert httpx.post(f"{service}/healthz").status_code == 405
    assert httpx.get(f"{service}/v2/nothing").status_code == 404


# --- health, metrics, OpenAPI ---------------------------------------------------------------

def test_health_and_readiness(service):
    assert httpx.get(f"{service}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def metric_values(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_count_requests_tokens_latency_and_errors():
    with running(ServeConfig(max_image_tokens=5000, concurrency=1)) as (url, _):
        body = chat(PNG, detail="low")
        tokens = visiontokens.count_request(body).image_tokens
        assert post(f"{url}/v1/count", body).status_code == 200
        assert post(f"{url}/v1/check", body).status_code == 200
        assert post(f"{url}/v1/check", b"[").status_code == 400
        assert post(f"{url}/v1/check", chat(PNG, JPEG)).status_code == 429
        response = httpx.get(f"{url}/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        values = metric_values(response.text)
        assert values['visiontokens_requests_total{endpoint="count",status="200"}'] == 1
        assert values['visiontokens_requests_total{endpoint="check",status="200"}'] == 1
        assert values['visiontokens_requests_total{endpoint="check",status="400"}'] == 1
        assert values['visiontokens_requests_total{endpoint="check",status="429"}'] == 1
        over = visiontokens.count_request(chat(PNG, JPEG)).image_tokens
        assert values['visiontokens_image_tokens_total{kind="input"}'] == 2 * tokens + over
        assert values['visiontokens_errors_total{code="malformed_request"}'] == 1
        assert values['visiontokens_errors_total{code="over_budget"}'] == 1
        assert values['visiontokens_request_duration_seconds_count{endpoint="check"}'] == 3
        assert values["visiontokens_counts_in_progress"] == 0
        assert values['visiontokens_request_duration_seconds_bucket{endpoint="check",le="+Inf"}'] \
            == 3


@needs("openapi_spec_validator")
def test_the_openapi_document_is_valid_and_names_every_endpoint(service):
    import openapi_spec_validator as validator
    document = httpx.get(f"{service}/openapi.json").json()
    validator.validate(document)
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        concrete = path.replace("{provider_path}", "v1/chat/completions")
        for method in operations:
            response = httpx.request(method, f"{service}{concrete}", headers=JSON,
                                     content=chat(PNG, detail="low") if method == "post" else None)
            assert str(response.status_code) in operations[method]["responses"], (path, method)


# --- off the event loop, bounded ------------------------------------------------------------

def dense_body(objects: int) -> bytes:
    return b'{"model": "gpt-4o", "messages": [' + b",".join([b"{}"] * objects) + b"]}"


def test_a_dense_body_does_not_block_other_requests():
    """While a dense body is counted, /metrics, /healthz and a small count are answered: they
    finish first, though the dense body was sent before them."""
    finished: list[str] = []
    # the time limit well beyond what a pure-twin count of the dense body needs
    with running(ServeConfig(concurrency=2, max_body_size=64 << 20,
                             count_timeout=600.0)) as (url, _):
        def dense():
            response = post(f"{url}/v1/count", dense_body(1_500_000))
            finished.append(f"dense {response.status_code}")

        thread = threading.Thread(target=dense)
        thread.start()
        counting = 0.0
        while counting < 1:  # until the dense body is being counted
            assert thread.is_alive(), "the dense body was counted before it could be watched"
            counting = metric_values(httpx.get(f"{url}/metrics", timeout=60).text)[
                "visiontokens_counts_in_progress"]
        assert httpx.get(f"{url}/healthz", timeout=60).status_code == 200
        finished.append("healthz")
        assert post(f"{url}/v1/count", chat(PNG)).status_code == 200
        finished.append("small count")
        thread.join(300)
    assert finished == ["healthz", "small count", "dense 200"]


@contextlib.contextmanager
def inline_limit(values: int):
    from visiontokens.gateway import server

    kept = server.INLINE_MAX_VALUES
    server.INLINE_MAX_VALUES = values
    try:
        yield server
    finally:
        server.INLINE_MAX_VALUES = kept


@given(st.binary(max_size=300).flatmap(
    lambda body: st.tuples(st.just(body), st.lists(st.integers(0, len(body)), max_size=8))),
    st.integers(0, 40), st.integers(-1, 320), st.booleans())
def test_a_body_counts_inline_when_its_chunks_hold_at_most_the_limit(split, limit, max_bytes,
                                                                      separators):
    """Separators, when asked for, are counted chunk by chunk as they arrive: whatever the
    chunking, the answer is that of the whole body: its count of ``,{[`` against
    INLINE_MAX_VALUES, its size against inline_max_bytes. Not asked for (a plain JSON body,
    whose scan keeps to the limit itself), only the size counts."""
    body, cuts = split
    cuts = sorted(cuts)
    with inline_limit(limit) as server:
        arrived = server._Arrived(max_bytes, separators)
        for start, end in zip([0] + cuts, cuts + [len(body)]):
            arrived.add(body[start:end])
        assert arrived.size == len(body) and b"".join(arrived.chunks) == body
        whole = sum(body.count(separator) for separator in (b",", b"{", b"["))
        sparse = whole <= limit or not separators
        assert arrived.inline == (sparse and len(body) <= max_bytes)


@pytest.mark.parametrize("separators", [9_999, 10_000, 10_001])
def test_the_inline_limit_at_its_edge_over_many_chunks(separators):
    from visiontokens.gateway import server

    assert server.INLINE_MAX_VALUES == 10_000  # the figure these edges are written for
    body = b"[" + b"0," * (separators - 1) + b"0]"  # "[" and the commas
    arrived = server._Arrived(len(body), True)
    for at in range(0, len(body), 997):
        arrived.add(body[at:at + 997])
    assert arrived.inline == (separators <= 10_000)


def values_body(values: int) -> bytes:
    """A Chat body of one image whose JSON holds exactly ``values`` values."""
    base = json.loads(chat(PNG))
    base["padding"] = []
    base["padding"] = [0] * (values - json_values(json.dumps(base)))
    body = json.dumps(base).encode()
    assert json_values(body) == values
    return body


@pytest.mark.parametrize("values", [9_999, 10_000, 10_001])
@pytest.mark.parametrize("chunk", [997, 1 << 20])
def test_a_json_body_leaves_the_event_loop_past_the_value_limit(values, chunk):
    """A JSON body is not counted for separators as it arrives: its scan stops at
    INLINE_MAX_VALUES values, and the body goes to the counting processes. Up to the limit
    the answer is made here, the same one the processes make; past it, nothing is answered
    here (the pool is asked), and the scan's limit does not outlive the count."""
    from visiontokens.gateway import server
    from visiontokens.gateway.workers import Target, _count
    from visiontokens.requests._value_limit import SCAN_MAX_VALUES

    assert server.INLINE_MAX_VALUES == 10_000  # the figure these edges are written for
    app = server.ServeApp(ServeConfig())
    body = values_body(values)
    arrived = server._Arrived(len(body), False)
    for at in range(0, len(body), chunk):
        arrived.add(body[at:at + chunk])
    assert arrived.inline
    target = Target("chat", None, None)
    answer = app._count_inline(arrived, target, None)
    assert SCAN_MAX_VALUES.get() == -1
    if values <= 10_000:
        assert answer == _count(body, target, None, app.config, None)  # what a process answers
        assert answer["result"]["image_tokens"] > 0
    else:
        assert answer is None


def test_a_count_over_the_time_limit_gets_503_and_its_process_is_replaced():
    with running(ServeConfig(concurrency=1, count_timeout=0.05,
                             max_body_size=64 << 20)) as (url, _):
        response = post(f"{url}/v1/count", dense_body(3_000_000))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "count_timeout"
        check = post(f"{url}/v1/check", dense_body(3_000_000))
        assert check.status_code == 503 and openai_error(check)["type"] == "server_error"
        again = post(f"{url}/v1/count", chat(PNG))
        assert again.status_code == 200 and again.json()["image_tokens"] > 0


def dense_edit(items: int) -> bytes:
    """An Images API edit whose 'images' is ``[{}, {}, ...]``: the one list the count still
    builds from a bytes body (to count it, as the dict path does), some hundreds of MB."""
    return b'{"model": "gpt-image-1", "prompt": "x", "images": [' + b", ".join(
        [b"{}"] * items) + b"]}"


def test_a_count_over_the_memory_limit_gets_503_and_its_process_is_replaced():
    """Over a 200 MB address space, the count fails (a MemoryError, or the process
    aborting), 503; a dense Chat body is read in place and counts within it."""
    # the time limit well beyond what a pure-twin count needs to reach the memory limit
    with running(ServeConfig(concurrency=1, worker_memory=200 << 20, max_body_size=64 << 20,
                             count_timeout=600.0)) as (url, _):
        if visiontokens.IMPLEMENTATIONS["scan"] == "cython":  # the pure scan's objects weigh more
            dense = post(f"{url}/v1/count", dense_body(3_500_000))
            assert dense.status_code == 200 and dense.json()["image_tokens"] == 0
        response = post(f"{url}/v1/count", dense_edit(3_500_000))
        assert response.status_code == 503
        assert response.json()["error"]["code"] in ("count_out_of_memory", "count_failed")
        again = post(f"{url}/v1/count", chat(PNG))
        assert again.status_code == 200 and again.json()["image_tokens"] > 0


def test_fetch_is_off_by_default_and_keeps_the_ssrf_rules_when_on():
    body = chat("http://127.0.0.1:9/cat.png", detail="high")
    with running(ServeConfig(concurrency=1)) as (url, _):
        image = post(f"{url}/v1/count", body).json()["images"][0]
        assert image["upper_bound"] is True and "non-public" not in (image["note"] or "")
    with running(ServeConfig(concurrency=1, fetch=True, fetch_timeout=2.0)) as (url, _):
        image = post(f"{url}/v1/count", body).json()["images"][0]
        assert image["upper_bound"] is True and "non-public address" in image["note"]


# --- configuration --------------------------------------------------------------------------

def test_flags_and_environment_variables(tmp_path):
    environ = {"VISIONTOKENS_PORT": "9001", "VISIONTOKENS_MAX_BODY_SIZE": "3M",
               "VISIONTOKENS_MAX_IMAGE_TOKENS": "500", "VISIONTOKENS_FETCH": "true",
               "VISIONTOKENS_MODEL_ALIASES": "prod=gpt-4.1-mini,cheap=gpt-4o-mini",
               "VISIONTOKENS_UNDOCUMENTED": "assume", "VISIONTOKENS_CONCURRENCY": "3"}
    config = parse_args([], environ)
    assert (config.port, config.max_body_size, config.max_image_tokens, config.fetch) == (
        9001, 3 << 20, 500, True)
    assert config.undocumented == "assume" and config.concurrency == 3
    assert dict(config.model_aliases) == {"prod": "gpt-4.1-mini", "cheap": "gpt-4o-mini"}
    aliases = tmp_path / "aliases.json"
    aliases.write_text(json.dumps({"prod": "gpt-4o", "staging": "gpt-4.1"}))
    config = parse_args(["--port", "9002", "--model-alias", "prod=gpt-5", "--model-alias-file",
                         str(aliases), "--max-image-tokens", "7"], environ)
    assert (config.port, config.max_image_tokens) == (9002, 7)  # a flag wins
    assert dict(config.model_aliases) == {"prod": "gpt-5", "staging": "gpt-4.1"}
    assert parse_args([], {}) == ServeConfig()
    assert ServeConfig.from_json(config.to_json()) == config
    for bad in ({"VISIONTOKENS_PORT": "eighty"}, {"VISIONTOKENS_MAX_BODY_SIZE": "-1"},
                {"VISIONTOKENS_UNDOCUMENTED": "maybe"}, {"VISIONTOKENS_MODEL_ALIASES": "x"}):
        with pytest.raises(SystemExit):
            parse_args([], bad)
    with pytest.raises(visiontokens.UnknownModelError):
        parse_args(["--model-alias", "prod=no-such-model"], {})


def test_the_undocumented_policy_reaches_the_counting_processes():
    undocumented = chat(PNG, model="gpt-6-sol")
    with running(ServeConfig(concurrency=1, inline_max_bytes=0)) as (url, _):
        refused = post(f"{url}/v1/count", undocumented)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "undocumented_model"
    with running(ServeConfig(undocumented="assume", concurrency=1,
                             inline_max_bytes=0)) as (url, _):
        data = post(f"{url}/v1/count", undocumented).json()
        assert data["image_tokens"] == visiontokens.count_request(
            undocumented, undocumented="assume").image_tokens > 0


ALIASES = {"my-azure-gpt4o-deployment": "gpt-4o", "vision-prod": "gpt-4.1-mini",
           "my-gemini": "gemini-2.5-flash"}
GEMINI_BODY = json.dumps({"contents": [{"role": "user", "parts": [{"inline_data": {
    "mime_type": "image/png", "data": PNG.partition(",")[2]}}]}]}).encode()


ALIAS_CASES = [  # (provider path, the body's model, the model it counts as)
    ("/v1/chat/completions", "vision-prod", "gpt-4.1-mini"),
    ("/v1/chat/completions", "my-azure-gpt4o-deployment", "gpt-4o"),
    ("/v1/chat/completions", "openai/gpt-4.1-mini", "gpt-4.1-mini"),  # provider/model
    ("/v1/chat/completions", "gpt-4o", "gpt-4o"),
    # Azure: a mapped deployment names the model, whatever the body says
    ("/openai/deployments/my-azure-gpt4o-deployment/chat/completions", "gpt-4.1-mini",
     "gpt-4o"),
    # an unmapped one: the body's model, else the deployment's name
    ("/openai/deployments/some-deployment/chat/completions", "gpt-4.1-mini", "gpt-4.1-mini"),
    ("/openai/deployments/gpt-4.1-mini/chat/completions", None, "gpt-4.1-mini"),
    ("/v1beta/models/my-gemini:generateContent", None, "gemini-2.5-flash"),
]


def alias_case(path: str, model: str | None, counted_as: str) -> tuple[bytes, int]:
    """The body of a case, and its image tokens counted as ``counted_as``."""
    if "generateContent" in path:
        return GEMINI_BODY, visiontokens.count_request(GEMINI_BODY, model=counted_as).image_tokens
    data = json.loads(chat(PNG, JPEG))
    if model is None:
        del data["model"]
    else:
        data["model"] = model
    return (json.dumps(data).encode(),
            visiontokens.count_request({**data, "model": counted_as}).image_tokens)


def test_model_aliases_are_the_middlewares_models():
    """--model-alias NAME=MODEL counts as ImageTokenMiddleware(models={NAME: MODEL}) does,
    path by path, in the server process and in a counting process alike; and registers
    nothing (the autouse fixture checks the rulesets)."""
    cases = [(path, *alias_case(path, model, counted_as), model)
             for path, model, counted_as in ALIAS_CASES]
    # the figures tell the models apart
    assert len({expected for path, _, expected, _ in cases if "/v1/chat" in path}) == 2
    upstream = FakeOpenAI()
    middleware = ImageTokenMiddleware(upstream, header="x-image-tokens", models=ALIASES)
    with serve(middleware) as direct:
        for path, body, expected, _ in cases:
            assert post(direct + path, body).status_code == 200
            assert int(upstream.received[-1]["headers"]["x-image-tokens"]) == expected, path
    config = ServeConfig(model_aliases=tuple(ALIASES.items()), concurrency=1)
    for inline in (config.inline_max_bytes, 0):
        with running(dataclasses.replace(config, inline_max_bytes=inline)) as (url, _):
            for path, body, expected, _ in cases:
                counted = post(f"{url}/v1/count{path}", body)
                assert counted.status_code == 200, counted.text
                assert counted.json()["image_tokens"] == expected, path
                checked = post(f"{url}/v1/check{path}", body)
                assert checked.headers["x-image-tokens"] == str(expected), path
    for path, body, _, model in cases:  # outside the gateways an alias is no model
        if model in ALIASES and "deployments" not in path:
            with pytest.raises(visiontokens.UnknownModelError):
                visiontokens.count_request(body)


def test_error_data_reads_code_pointer_and_message():
    error = visiontokens.MalformedRequestError("bad part", pointer="/messages/0")
    assert error_data(error) == {"code": "malformed_request", "pointer": "/messages/0",
                                 "message": error_data(error)["message"]}
    assert error_data(visiontokens.TooManyImagesError("x"))["code"] == "too_many_images"
    assert error_data(visiontokens.FetchError("x"))["code"] == "fetch_failed"
    assert error_data(visiontokens.AnimatedImageError("x"), "/a")["pointer"] == "/a"


# --- the process: SIGTERM, logs -------------------------------------------------------------

@contextlib.contextmanager
def subprocess_serve(*flags: str):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "visiontokens", "serve", "--port",
                                str(port), *flags], env=env, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode()
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        process.stderr.close()


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0():
    body = chat(PNG, JPEG)
    with subprocess_serve() as (process, url):
        with raw(url) as sock:
            sock.sendall(b"POST /v1/count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:100])
            # the first request is in the server's hands once a later one is answered
            assert httpx.get(f"{url}/healthz").status_code == 200
            process.send_signal(signal.SIGTERM)
            time.sleep(0.2)  # (not an assertion: gives the signal time to land mid-request)
            sock.sendall(body[100:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert json.loads(payload)["image_tokens"] == visiontokens.count_request(body).image_tokens
        assert process.wait(60) == 0
        log = process.stderr.read().decode()
    assert "Shutting down" in log


def test_logs_are_json_lines_without_image_data():
    body = chat(PNG, JPEG)
    encoded = [url.partition(",")[2] for url in (PNG, JPEG)]
    with subprocess_serve("--log-level", "debug") as (process, url):
        assert post(f"{url}/v1/count", body).status_code == 200
        assert post(f"{url}/v1/check", chat(PNG, ANIMATED)).status_code == 400
        assert post(f"{url}/v1/count", body[:-10]).status_code == 400
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        log = process.stderr.read().decode()
    lines = [json.loads(line) for line in log.splitlines()]  # every line is JSON
    requests = [line for line in lines if line["message"] == "request"]
    assert [r["status"] for r in requests] == [200, 400, 400]
    assert requests[0]["image_tokens"] == visiontokens.count_request(body).image_tokens
    assert requests[1]["code"] == "invalid_image_format"
    for text in encoded + [ANIMATED.partition(",")[2]]:
        for start in range(0, len(text) - 16, 8):
            assert text[start:start + 16] not in log


def test_metrics_add_up_across_worker_processes(tmp_path):
    """With --workers 2 each process answers /metrics with the sum over both: requests
    are sent on new connections until the logs show both processes answered some, then
    every scrape (whichever process takes it) shows all of them."""
    body = chat(PNG, detail="low")
    tokens = visiontokens.count_request(body).image_tokens
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "visiontokens", "serve", "--port", str(port), "--workers",
             "2", "--concurrency", "1", "--max-image-tokens", str(tokens - 1)],
            env=env, stderr=log, stdout=subprocess.DEVNULL)
    try:
        def answered_by() -> set[int]:
            lines = [json.loads(line) for line in log_path.read_text().splitlines()]
            return {line["pid"] for line in lines if line["message"] == "request"}

        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.1)
        sent = refused = 0
        while len(answered_by()) < 2:  # each request on a connection of its own
            assert sent < 400, "one process took every connection"
            assert post(f"{url}/v1/count", body).status_code == 200
            assert post(f"{url}/v1/check", body).status_code == 429
            sent += 1
            refused += 1
        for _ in range(6):
            values = metric_values(httpx.get(f"{url}/metrics").text)
            assert values['visiontokens_requests_total{endpoint="count",status="200"}'] == sent
            assert values['visiontokens_requests_total{endpoint="check",status="429"}'] == refused
            assert values['visiontokens_image_tokens_total{kind="input"}'] == 2 * sent * tokens
            assert values['visiontokens_errors_total{code="over_budget"}'] == refused
            assert values['visiontokens_request_duration_seconds_count{endpoint="count"}'] == sent
            assert values["visiontokens_server_processes"] == 2
            assert values["visiontokens_counts_in_progress"] == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_metrics_files_add_up_grow_and_drop_the_gauges_of_ended_processes(tmp_path):
    from visiontokens.gateway.metrics import Metrics, _File, read_directory

    ours = Metrics(str(tmp_path))
    ours.observe("count", 200, 0.002, None, 10, 4, 1)
    ours.counting = 1
    ended = _File(str(tmp_path / "4194305.metrics"))  # above Linux's pid_max: not running
    ended.set(("requests", "count", "200"), 5)
    ended.set(("counting",), 3)
    values, processes = read_directory(str(tmp_path))
    assert values[("requests", "count", "200")] == 6 and values[("image_tokens", "input")] == 10
    assert values[("counting",)] == 1 and processes == 1  # the ended one's gauge is gone
    again = Metrics(str(tmp_path))  # the same process id: carries on from its file
    again.observe("count", 200, 0.5)
    for k in range(3000):  # past the file's first 64 KiB: it grows
        again.observe("check", 400, 20.0, f"code_{k}")
    values = metric_values(again.exposition())
    assert values['visiontokens_requests_total{endpoint="count",status="200"}'] == 7
    assert values['visiontokens_requests_total{endpoint="check",status="400"}'] == 3000
    assert values['visiontokens_errors_total{code="code_2999"}'] == 1
    assert values['visiontokens_request_duration_seconds_bucket{endpoint="check",le="10.0"}'] == 0
    assert values['visiontokens_request_duration_seconds_count{endpoint="check"}'] == 3000
    assert (tmp_path / f"{os.getpid()}.metrics").stat().st_size > 64 * 1024


@pytest.mark.parametrize("operator", [None, "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_serve_keeps_freed_memory_unless_the_operator_tuned_the_allocator(operator):
    """serve's processes tell glibc's allocator to keep freed memory for the next body (the
    benchmarks' page faults: see the docs); an operator's own MALLOC_* setting wins, and off
    glibc nothing is done. Run in a fresh process: the allocator is the process's."""
    import platform

    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    if operator is not None:
        env[operator] = str(1 << 20)
    code = ("from visiontokens.gateway.server import keep_freed_memory as keep, MMAP_BELOW, "
            "KEEP_FREE; print(keep(), MMAP_BELOW, KEEP_FREE)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    applied, below, kept = done.stdout.split()
    glibc = platform.libc_ver()[0] == "glibc"
    assert applied == str(glibc and operator is None)
    assert int(below) <= 32 << 20  # (glibc refuses a threshold over 32 MiB on 64-bit)
    assert int(kept) >= int(below)


def test_the_serve_process_factory_keeps_freed_memory(monkeypatch):
    from visiontokens.gateway import server
    from visiontokens.gateway.config import CONFIG_VARIABLE

    called = []
    monkeypatch.setattr(server, "keep_freed_memory", lambda: called.append(True) or True)
    monkeypatch.setenv(CONFIG_VARIABLE, ServeConfig().to_json())
    app = server.app_from_environment()
    assert called == [True] and isinstance(app, server.ServeApp)
