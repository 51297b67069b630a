"""OpenTelemetry for the gateways: the estimate and the bill as span attributes and metrics.

The ASGI middleware, the LiteLLM hook and ``visiontokens serve`` call this module; users need
not. It needs ``opentelemetry-api`` (``pip install "visiontokens[otel]"``) and a configured
SDK (a tracer or meter provider set by the application); without either, every call here is a
no-op that costs one cached check. ``import visiontokens`` never imports this module, and this
module imports OpenTelemetry only on first use.

Span attributes (on the current span when it is recording, else on a span the gateway starts,
named ``visiontokens.request``):

- the estimate: ``visiontokens.model``, ``visiontokens.api``, ``visiontokens.images``,
  ``visiontokens.image.input_tokens``, ``visiontokens.image.output_tokens``,
  ``visiontokens.upper_bound``, ``visiontokens.output_upper_bound``;
- a request that could not be counted, or was refused: ``visiontokens.error.code``;
- the bill, after the response, when the provider reports it: ``gen_ai.usage.image.input_tokens``
  and ``gen_ai.usage.image.output_tokens`` (OpenTelemetry's GenAI names), and, when the two
  are comparable, ``visiontokens.image.drift`` (billed - estimated) and ``visiontokens.exact``.

Metrics (meter ``visiontokens``), with attributes ``visiontokens.model`` and ``visiontokens.api``:

- ``visiontokens.image.estimated_tokens``: a histogram of the estimated image input tokens
  of each counted request;
- ``visiontokens.image.drift``: a histogram of billed - estimated image input tokens, for each
  response whose bill is comparable;
- ``visiontokens.uncounted``: a counter of requests not counted, by ``visiontokens.error.code``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator

#: The span a gateway starts when no recording span is current.
SPAN_NAME = "visiontokens.request"
#: How much of a JSON response body is kept to read its usage; a larger body is not read.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
#: The longest line of an SSE stream kept while it passes (the usage is in a short last event).
MAX_EVENT_BYTES = 256 * 1024

_api: Any = None  # None: not looked for yet; False: opentelemetry-api is not installed


class _Api:
    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        self.trace = trace
        self.metrics = metrics
        self.tracer = trace.get_tracer("visiontokens")
        meter = metrics.get_meter("visiontokens")
        self.estimated = meter.create_histogram(
            "visiontokens.image.estimated_tokens", unit="{token}",
            description="Estimated image input tokens per counted request")
        self.drift = meter.create_histogram(
            "visiontokens.image.drift", unit="{token}",
            description="Billed minus estimated image input tokens, when comparable")
        self.uncounted = meter.create_counter(
            "visiontokens.uncounted", unit="{request}",
            description="Requests whose image tokens could not be counted")

    def configured(self) -> bool:
        """Whether the application set a tracer or a meter provider (the API's defaults are
        proxies that do nothing until then)."""
        return (type(self.trace.get_tracer_provider()).__name__ not in
                ("ProxyTracerProvider", "NoOpTracerProvider")
                or type(self.metrics.get_meter_provider()).__name__ not in
                ("_ProxyMeterProvider", "NoOpMeterProvider"))


def api() -> _Api | None:
    """The OpenTelemetry API, once configured; None otherwise (checked cheaply every call:
    a provider may be set after the gateway is made)."""
    global _api
    if _api is None:
        try:
            _api = _Api()
        except ImportError:
            _api = False
    return _api if _api and _api.configured() else None


def _labels(model: Any, api_name: Any) -> dict[str, str]:
    return {"visiontokens.model": str(model or ""), "visiontokens.api": str(api_name or "")}


class Telemetry:
    """One request's telemetry: its span, and the response's usage read as it passes."""

    def __init__(self, otel: _Api, span: Any) -> None:
        self.otel = otel
        self.span = span
        self.count: Any = None
        self._response: _UsageReader | None = None

    def counted(self, result: Any) -> None:
        self.count = result
        api_name = getattr(result, "api", None)
        if self.span.is_recording():
            self.span.set_attributes({
                "visiontokens.model": str(result.model or ""),
                "visiontokens.api": str(api_name or ""),
                "visiontokens.images": len(result.images),
                "visiontokens.image.input_tokens": int(result.image_tokens),
                "visiontokens.image.output_tokens": int(result.output_image_tokens),
                "visiontokens.upper_bound": bool(result.upper_bound),
                "visiontokens.output_upper_bound": bool(result.output_upper_bound),
            })
        self.otel.estimated.record(int(result.image_tokens), _labels(result.model, api_name))

    def uncounted(self, code: str) -> None:
        if self.span.is_recording():
            self.span.set_attribute("visiontokens.error.code", code)
        self.otel.uncounted.add(1, {"visiontokens.error.code": code})

    def refused(self, code: str) -> None:
        """A counted request refused (a violation, over budget): its code on the span."""
        if self.span.is_recording():
            self.span.set_attribute("visiontokens.error.code", code)

    def billed(self, usage: Any) -> None:
        """The bill beside the estimate: ``usage`` is the provider's usage, or a response
        (object or dict) that holds it."""
        if self.count is None or usage is None:
            return
        from .reconcile import reconcile
        from ._errors import VisionTokensError

        try:
            found = reconcile(self.count, usage)
        except VisionTokensError:
            return  # no usage this module can read: nothing billed to show
        attributes: dict[str, Any] = {}
        if found.billed_image_tokens is not None:
            attributes["gen_ai.usage.image.input_tokens"] = found.billed_image_tokens
        if found.billed_output_image_tokens is not None:
            attributes["gen_ai.usage.image.output_tokens"] = found.billed_output_image_tokens
        if found.comparable and found.basis == "image_tokens" and found.difference is not None:
            attributes["visiontokens.image.drift"] = found.difference
            attributes["visiontokens.exact"] = found.exact
            self.otel.drift.record(found.difference,
                                   _labels(self.count.model, getattr(self.count, "api", None)))
        if attributes and self.span.is_recording():
            self.span.set_attributes(attributes)

    # --- the ASGI response, read as it passes ---------------------------------------------

    def watch(self, send: Any) -> Any:
        """``send`` that reads the response's usage as it passes (bounded), for ``finish``."""
        reader = self._response = _UsageReader()

        async def watched(message: Any) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                reader.start(message)
            elif kind == "http.response.body":
                reader.feed(message.get("body", b""))
            await send(message)

        return watched

    def finish(self) -> None:
        if self._response is not None:
            self.billed(self._response.usage())


@contextlib.contextmanager
def request_span(name: str = SPAN_NAME) -> Iterator[Telemetry | None]:
    """A request's telemetry, on the current recording span or on a span started here; None
    when OpenTelemetry is absent or not configured."""
    otel = api()
    if otel is None:
        yield None
        return
    current = otel.trace.get_current_span()
    if current.is_recording():
        yield Telemetry(otel, current)
        return
    with otel.tracer.start_as_current_span(name) as span:
        yield Telemetry(otel, span)


class _UsageReader:
    """The usage of a response as it streams past: a JSON body kept up to MAX_RESPONSE_BYTES,
    or, for ``text/event-stream``, the last ``data:`` event that mentions ``usage`` (each line
    bounded by MAX_EVENT_BYTES; the stream itself is never held)."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.buffer = bytearray()
        self.last: bytes | None = None
        self.skipping = False  # in an SSE line too long to keep

    def start(self, message: Any) -> None:
        if message.get("status", 200) >= 400:
            return  # an error answer bills nothing
        for name, value in message.get("headers", ()):
            if name.lower() == b"content-type":
                value = value.lower()
                if value.startswith(b"text/event-stream"):
                    self.kind = "sse"
                elif b"json" in value:
                    self.kind = "json"
                break

    def feed(self, chunk: bytes) -> None:
        if not chunk or self.kind is None:
            return
        if self.kind == "json":
            if len(self.buffer) + len(chunk) > MAX_RESPONSE_BYTES:
                self.kind = None  # too large to read: no usage
                self.buffer = bytearray()
            else:
                self.buffer += chunk
            return
        self.buffer += chunk
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self.buffer[:end]).rstrip(b"\r")
            del self.buffer[:end + 1]
            if self.skipping:
                self.skipping = False
                continue
            if line.startswith(b"data:") and b'"usage"' in line:
                self.last = line[5:].strip()
        if len(self.buffer) > MAX_EVENT_BYTES:
            self.buffer = bytearray()  # a line too long to be the usage event: drop it
            self.skipping = True

    def usage(self) -> Any:
        text = self.last if self.kind == "sse" else bytes(self.buffer) if self.kind else None
        if not text:
            return None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("response"), dict):  # a Responses stream's response.completed
            data = data["response"]
        return data.get("usage") if isinstance(data.get("usage"), dict) else None


__all__ = ["MAX_EVENT_BYTES", "MAX_RESPONSE_BYTES", "SPAN_NAME", "Telemetry", "api",
           "request_span"]
