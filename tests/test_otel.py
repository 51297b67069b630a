"""visiontokens.otel: the estimate and the bill on spans and in metrics, through the gateways
under real servers, read back with the OpenTelemetry SDK's in-memory exporters (issue 21).

The fake upstream answers Chat Completions as OpenAI does, with ``usage.prompt_tokens_details.
image_tokens``: JSON, or a stream (``stream_options.include_usage``) whose last event before
``[DONE]`` carries the usage. It bills what the request's ``x-bill`` header says, so the drift
is known.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from extras import integration_module

pytestmark = integration_module("opentelemetry.sdk", "uvicorn")

from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from headers import data_url, png_header  # noqa: E402
from servers import serve  # noqa: E402

import visiontokens  # noqa: E402
from visiontokens.asgi import ImageTokenMiddleware  # noqa: E402

SPANS = InMemorySpanExporter()
READER = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def providers():
    """The global providers, set once for this process (OpenTelemetry allows one each)."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    yield


def chat(model: str, width: int, height: int, stream: bool = False) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": data_url(png_header(width, height)),
                                            "detail": "high"}}]}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


async def upstream(scope, receive, send):
    """OpenAI's Chat Completions, billing the ``x-bill`` header's image tokens."""
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    request = json.loads(body)
    headers = dict(scope["headers"])
    image_tokens = int(headers.get(b"x-bill", b"0"))
    usage = {"prompt_tokens": image_tokens + 12, "completion_tokens": 5,
             "total_tokens": image_tokens + 17,
             "prompt_tokens_details": {"cached_tokens": 0, "image_tokens": image_tokens}}
    if not request.get("stream"):
        answer = {"id": "chatcmpl-1", "object": "chat.completion", "model": request["model"],
                  "choices": [{"index": 0, "finish_reason": "stop", "message": {
                      "role": "assistant", "content": "A cat."}}], "usage": usage}
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8")]})
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": request["model"]}
    events = [{**chunk, "choices": [{"index": 0, "delta": {"content": word}}], "usage": None}
              for word in ("A ", "big ", "cat.") * 50]
    events.append({**chunk, "choices": [], "usage": usage})
    stream = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    stream += b"data: [DONE]\n\n"
    for k in range(0, len(stream), 777):  # chunks that cut events and lines anywhere
        await send({"type": "http.response.body", "body": stream[k:k + 777], "more_body": True})
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def spans_named(name: str, count: int) -> list:
    """The finished spans so named, once ``count`` are there (a span ends on the server's
    thread just after the response's last byte)."""
    deadline = time.monotonic() + 10
    while True:
        found = [s for s in SPANS.get_finished_spans() if s.name == name]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def points(metric: str) -> dict:
    """{frozenset(attributes): (count, sum)} of a histogram, or {...: value} of a counter."""
    out = {}
    data = READER.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for m in scope.metrics:
                if m.name != metric:
                    continue
                for point in m.data.data_points:
                    key = frozenset(point.attributes.items())
                    out[key] = ((point.count, point.sum) if hasattr(point, "count")
                                else point.value)
    return out


@pytest.fixture(scope="module")
def gateway():
    app = ImageTokenMiddleware(upstream, header="x-image-tokens")
    with serve(app) as url:
        yield url


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_middleware_spans_and_metrics(gateway, stream):
    model = "gpt-4o" if stream else "gpt-4.1"
    body = chat(model, 1500, 900, stream)
    estimate = visiontokens.count_request(body)
    assert estimate.image_tokens == (1105 if model == "gpt-4o" else 765 + 340)
    labels = frozenset({"visiontokens.model": model, "visiontokens.api": "chat"}.items())
    before = [points("visiontokens.image.estimated_tokens").get(labels, (0, 0)),
              points("visiontokens.image.drift").get(labels, (0, 0))]
    SPANS.clear()
    billed = estimate.image_tokens + 7
    response = httpx.post(gateway + "/openai/v1/chat/completions", json=body,
                          headers={"x-bill": str(billed)})
    assert response.status_code == 200
    if stream:
        assert response.text.endswith("data: [DONE]\n\n")
    [span] = spans_named("visiontokens.request", 1)
    assert dict(span.attributes) == {
        "visiontokens.model": model, "visiontokens.api": "chat", "visiontokens.images": 1,
        "visiontokens.image.input_tokens": estimate.image_tokens,
        "visiontokens.image.output_tokens": 0,
        "visiontokens.upper_bound": False, "visiontokens.output_upper_bound": False,
        "gen_ai.usage.image.input_tokens": billed,
        "visiontokens.image.drift": 7, "visiontokens.exact": False,
    }
    estimated = points("visiontokens.image.estimated_tokens")[labels]
    drift = points("visiontokens.image.drift")[labels]
    assert (estimated[0] - before[0][0], estimated[1] - before[0][1]) == (1, estimate.image_tokens)
    assert (drift[0] - before[1][0], drift[1] - before[1][1]) == (1, 7)


def test_middleware_uncounted_and_exact(gateway):
    SPANS.clear()
    before = points("visiontokens.uncounted").get(
        frozenset({"visiontokens.error.code": "unknown_model"}.items()), 0)
    body = chat("my-deployment", 64, 64)
    response = httpx.post(gateway + "/v1/chat/completions", json=body, headers={"x-bill": "1"})
    assert response.status_code == 200
    [span] = spans_named("visiontokens.request", 1)
    assert dict(span.attributes) == {"visiontokens.error.code": "unknown_model"}
    assert points("visiontokens.uncounted")[
        frozenset({"visiontokens.error.code": "unknown_model"}.items())] == before + 1
    # an exact bill, on a span of the caller's own (the attributes go on it, no new span)
    SPANS.clear()
    body = chat("gpt-4o", 512, 512)
    tokens = visiontokens.count_request(body).image_tokens
    response = httpx.post(gateway + "/v1/chat/completions/", json=body,
                          headers={"x-bill": str(tokens)})
    [span] = spans_named("visiontokens.request", 1)
    assert span.attributes["gen_ai.usage.image.input_tokens"] == tokens == 255
    assert span.attributes["visiontokens.image.drift"] == 0
    assert span.attributes["visiontokens.exact"] is True


def test_the_current_span_is_used():
    """In-process, under a span of the app's own: the attributes go on it."""
    app = ImageTokenMiddleware(upstream)
    body = json.dumps(chat("gpt-4o", 512, 512)).encode()
    sent = []

    async def run():
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
                 "headers": [(b"x-bill", b"250")]}
        with trace.get_tracer("test").start_as_current_span("outer"):
            await app(scope, receive, send)

    SPANS.clear()
    asyncio.run(run())
    assert sent[0]["status"] == 200
    [span] = SPANS.get_finished_spans()
    assert span.name == "outer"
    assert span.attributes["visiontokens.image.input_tokens"] == 255
    assert span.attributes["gen_ai.usage.image.input_tokens"] == 250
    assert span.attributes["visiontokens.image.drift"] == -5


def test_without_opentelemetry_the_middleware_is_untouched():
    """opentelemetry-api absent (blocked here): no telemetry, the same answers."""
    import subprocess
    import sys

    code = """
import asyncio, json, sys
sys.modules["opentelemetry"] = None  # as if not installed
from visiontokens.asgi import ImageTokenMiddleware
sent = []
async def app(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})
async def main():
    body = json.dumps({"model": "gpt-4o", "messages": []}).encode()
    queue = [{"type": "http.request", "body": body}]
    async def receive():
        return queue.pop()
    async def send(m):
        sent.append(m)
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    await ImageTokenMiddleware(app)(scope, receive, send)
    print(sent[0]["status"], scope["state"]["image_token_count"].image_tokens,
          "visiontokens.otel" in sys.modules)
asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["200", "0", "False"]


# --- visiontokens serve: /v1/count and /v1/check --------------------------------------------

def test_serve_count_and_check_spans():
    from test_serve import running

    from visiontokens.gateway.config import ServeConfig

    config = ServeConfig(max_image_tokens=2_000, concurrency=1)
    body = chat("gpt-4o", 1500, 900)
    with running(config) as (url, _):
        SPANS.clear()
        assert httpx.post(url + "/v1/count", json=body).status_code == 200
        assert httpx.post(url + "/v1/check", json=body).status_code == 200
        over = {**body, "messages": [{**body["messages"][0], "content":
                                      body["messages"][0]["content"] * 2}]}
        assert httpx.post(url + "/v1/check", json=over).status_code == 429
        assert httpx.post(url + "/v1/count", json=chat("my-deployment", 64, 64)).status_code == 400
        spans = spans_named("visiontokens.request", 4)
    estimate = {"visiontokens.model": "gpt-4o", "visiontokens.api": "chat",
                "visiontokens.images": 1, "visiontokens.image.input_tokens": 1105,
                "visiontokens.image.output_tokens": 0, "visiontokens.upper_bound": False,
                "visiontokens.output_upper_bound": False}
    assert [dict(s.attributes) for s in spans] == [
        estimate, estimate,
        {**estimate, "visiontokens.images": 2, "visiontokens.image.input_tokens": 2210,
         "visiontokens.error.code": "over_budget"},
        {"visiontokens.error.code": "unknown_model"}]
