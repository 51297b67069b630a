"""``visiontokens serve``: image-token counts over HTTP, for gateways in any language.

A pure ASGI application (served by uvicorn):

- ``POST /v1/count``: a provider request body as the client sends it (JSON, or an Images API
  edit as multipart/form-data) -> its image tokens as JSON, image by image.
- ``POST /v1/check``: for gateways' external-authorisation hooks -> 200 with the counts in
  ``x-image-tokens`` headers, or the refusal the gateway returns to its client: 429/413 over
  budget, 400 for a body the provider would refuse, in the provider's own error shape.
  ``/v1/count/<path>`` and ``/v1/check/<path>`` take the provider path the body is for (as
  Envoy's ext_authz appends it), which tells the Images API's endpoints apart.
- ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` (Prometheus), ``GET /openapi.json``.

Bodies are read up to ``max_body_size`` (413 past it, the rest never read) within
``body_timeout`` (408), and counted by a pool of processes (see :mod:`.workers`), so the event
loop only moves bytes. Logs are JSON lines; they hold counts, codes and pointers, never a
body or any part of an image.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, MutableMapping
from urllib.parse import parse_qs

from .._extensions import twin
from .config import ServeConfig, from_environment
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .workers import CountPool, CountUnavailable, Target
from .shared import (
    DEFAULT_PATHS,
    EndpointTable,
    api_for_path,
    model_in_path,
    provider_error,
    provider_for_path,
    provider_of_api,
    telemetry_on,
)
from .workers import _count as count_here
from ..requests._value_limit import SCAN_MAX_VALUES, TooDense

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("visiontokens.serve")

#: Request headers a gateway (or its client) may send.
API_HEADER = b"x-visiontokens-api"
BUDGET_HEADER = b"x-visiontokens-max-image-tokens"
OUTPUT_BUDGET_HEADER = b"x-visiontokens-max-output-image-tokens"
#: What /v1/check answers with on 200.
TOKENS_HEADER = b"x-image-tokens"
OUTPUT_TOKENS_HEADER = b"x-output-image-tokens"
BOUND_SUFFIX = b"-upper-bound"

#: The provider paths (after /v1/count or /v1/check) read as the middleware reads them:
#: the Images API's endpoints (told apart by path, not by shape: a generations body and an
#: edit body can look alike), Anthropic's /v1/messages, Gemini's
#: /models/{model}:generateContent (the model is the path's), Azure's deployments (the
#: deployment names the model). A path none of these match is still read by its suffix.
PROVIDER_PATHS = EndpointTable(DEFAULT_PATHS)
#: The most JSON values a body counted on the event loop may hold. What a count costs grows
#: with the values in a body, not its bytes: a 1 MB body of four images counts in well under
#: a millisecond, 1 MB of ``[{}, {}, ...]`` takes a hundred times that. A JSON body's scan
#: stops at the limit (SCAN_MAX_VALUES), and the body goes to a process; a body the count
#: may parse whole first (a multipart form, a model alias, a deployment path) is judged
#: before, by its separators ``,{[`` as it arrives (base64 holds none of them).
INLINE_MAX_VALUES = 10_000


class HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str, pointer: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.pointer = status, code, message, pointer


class ServeApp:
    """The ``serve`` application. Built from a :class:`ServeConfig`; its counting processes
    start with the ASGI lifespan (or on the first request, when the server runs none)."""

    def __init__(self, config: ServeConfig | None = None,
                 metrics_directory: str | None = None) -> None:
        self.config = config or ServeConfig()
        from .config import check

        check(self.config)  # the ruleset and the aliases, before the first request
        # with a directory, /metrics adds up every server process's figures (see .metrics)
        self.metrics = Metrics(metrics_directory)
        self.pool = CountPool(self.config)
        self._starting: asyncio.Task[None] | None = None
        self.shutting_down = False
        # where a body of several chunks is counted inline: the request twin's BodyBuffer
        self._buffer = twin("request").BodyBuffer()

    # --- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        endpoint, _, provider_path = _route(path)
        record: dict[str, Any] = {"method": scope.get("method"), "path": path[:200]}
        status, code, counted = 500, None, None
        try:
            if endpoint in ("count", "check") and telemetry_on():
                status, code, counted = await self._traced(endpoint, provider_path, scope,
                                                           receive, send)
            else:
                status, code, counted = await self._handle(endpoint, provider_path, scope,
                                                           receive, send)
        finally:
            seconds = time.perf_counter() - started
            result = (counted or {}).get("result") or {}
            self.metrics.observe(endpoint or "other", status, seconds, code,
                                 result.get("image_tokens", 0),
                                 result.get("output_image_tokens", 0),
                                 len(result.get("images", ())))
            if endpoint not in ("healthz", "readyz", "metrics"):
                record.update(status=status, duration_ms=round(seconds * 1000, 3),
                              endpoint=endpoint or "other")
                if code:
                    record["code"] = code
                if result:
                    record.update(api=result["api"], model=_short(result["model"]),
                                  images=len(result["images"]),
                                  image_tokens=result["image_tokens"],
                                  output_image_tokens=result["output_image_tokens"])
                log.info("request", extra={"fields": record})

    async def _traced(self, endpoint: str, provider_path: str, scope: Scope, receive: Receive,
                      send: Send) -> tuple[int, str | None, Any]:
        """``_handle`` under a span (visiontokens.otel): the estimate, or the error's code.
        The server sends nothing upstream, so there is no bill to read here."""
        from ..otel import request_span

        with request_span() as telemetry:
            status, code, counted = await self._handle(endpoint, provider_path, scope, receive,
                                                       send)
            if telemetry is not None:
                result = (counted or {}).get("result")
                if result:
                    telemetry.counted(SimpleNamespace(
                        model=result["model"], api=result["api"], images=result["images"],
                        image_tokens=result["image_tokens"],
                        output_image_tokens=result["output_image_tokens"],
                        upper_bound=result["upper_bound"],
                        output_upper_bound=result["output_upper_bound"]))
                if code and status >= 400 and result:
                    telemetry.refused(code)  # counted, then refused (a violation, a budget)
                elif code and status >= 400:
                    telemetry.uncounted(code)
            return status, code, counted

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._ensure_started()
                except Exception as error:  # noqa: BLE001 - told to the server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                log.info("ready", extra={"fields": {"concurrency": self.config.concurrency}})
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutting_down = True
                self.pool.stop()
                log.info("stopped", extra={"fields": {}})
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _ensure_started(self) -> None:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self.pool.start())
        await asyncio.shield(self._starting)

    # --- routing ----------------------------------------------------------------------------

    async def _handle(self, endpoint: str | None, provider_path: str, scope: Scope,
                      receive: Receive, send: Send) -> tuple[int, str | None, Any]:
        method = scope.get("method")
        if endpoint in ("count", "check"):
            if method != "POST":
                return await _plain_error(send, 405, "method_not_allowed",
                                          "use POST", allow=b"POST"), "method_not_allowed", None
            return await self._count_or_check(endpoint, provider_path, scope, receive, send)
        if endpoint is None:
            await _send_json(send, 404, {"error": {"code": "not_found", "message":
                                                   "no such endpoint; see /openapi.json",
                                                   "pointer": None}})
            return 404, "not_found", None
        if method not in ("GET", "HEAD"):
            return await _plain_error(send, 405, "method_not_allowed", "use GET",
                                      allow=b"GET, HEAD"), "method_not_allowed", None
        if endpoint == "healthz":
            await _send_json(send, 200, {"status": "ok"})
            return 200, None, None
        if endpoint == "readyz":
            ready = self.pool.ready and not self.shutting_down
            if not ready and not self.shutting_down and self._starting is None:
                asyncio.ensure_future(self._ensure_started())  # a server without lifespan
            await _send_json(send, 200 if ready else 503,
                             {"status": "ready" if ready else "starting"
                              if not self.shutting_down else "stopping"})
            return (200 if ready else 503), None, None
        if endpoint == "metrics":
            await _send(send, 200, self.metrics.exposition().encode(),
                        METRICS_CONTENT_TYPE.encode())
            return 200, None, None
        from .openapi import document

        await _send_json(send, 200, document())
        return 200, None, None

    async def _count_or_check(self, endpoint: str, provider_path: str, scope: Scope,
                              receive: Receive, send: Send) -> tuple[int, str | None, Any]:
        headers = _headers(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        api = (query.get("api") or [None])[0] or _text(headers.get(API_HEADER))
        # the provider path says what the middleware would read from it (an explicit api wins)
        matched = PROVIDER_PATHS.match(provider_path) if provider_path else None
        path = provider_path.rstrip("/")
        path_api = matched.api if matched is not None else api_for_path(path)
        provider = provider_of_api(api) or (provider_for_path(path) if api is None
                                            or api == path_api else "openai")
        target = Target(api if api is not None else path_api,
                        model_in_path(path) if (api or path_api) == path_api else None,
                        None if matched is None else matched.segments.get("deployment"))
        check = endpoint == "check"
        try:
            budgets = _budgets(self.config, headers) if check else (None, None)
            content_type = _content_type(headers)
            # a plain JSON body needs no separators counted: its scan keeps to the limit itself
            parsed_whole = (content_type is not None or bool(self.config.model_aliases)
                            or target.deployment is not None)
            body = await self._read_body(scope, headers, receive, parsed_whole)
            if body is None:
                return 499, "client_disconnected", None  # nobody to answer (nginx's 499)
            self.metrics.counting += 1  # (the event loop's thread only: no lock needed)
            try:
                answer = self._count_inline(body, target, content_type)
                if answer is None:
                    await self._ensure_started()
                    answer = await self.pool.count(body.chunks, target, content_type)
            except CountUnavailable as error:
                raise HTTPError(503, error.code, error.message) from None
            finally:
                self.metrics.counting -= 1
                del body
        except HTTPError as error:
            if check:
                status = await _provider_error(send, provider, error.status, error.code,
                                               error.message, None)
                return status, error.code, None
            else:
                await _send_json(send, error.status, {"error": {
                    "code": error.code, "message": error.message, "pointer": error.pointer}},
                    retry=error.status == 503)
            return error.status, error.code, None
        if check:
            return await self._check(send, provider, answer, budgets)
        if "error" in answer:
            await _send_json(send, 400, {"error": answer["error"]})
            return 400, answer["error"]["code"], None
        await _send_json(send, 200, answer["result"])
        return 200, None, answer

    def _count_inline(self, body: _Arrived, target: Target,
                      content_type: str | None) -> dict[str, Any] | None:
        """The answer for a body cheap enough to count here, on the event loop (small, sparse
        in JSON values, and no fetch: a fetch would wait on the network with the loop), or
        None for the pool. Several chunks are put into one BodyBuffer this app keeps (at most
        ``inline_max_bytes``) and counted there in place: the count runs to its end without
        an await, so no other request touches the buffer meanwhile, and no body-sized object
        is made and thrown away per request (a join was a fresh allocation per request). The
        compiled buffer copies in only what the count reads (see BodyBuffer).
        The count's scan gives up at INLINE_MAX_VALUES values (TooDense): then the pool."""
        if not body.inline:
            return None
        limit = SCAN_MAX_VALUES.set(INLINE_MAX_VALUES)
        try:
            return self._count_here(body, target, content_type)
        except TooDense:
            return None
        finally:
            SCAN_MAX_VALUES.reset(limit)

    def _count_here(self, body: _Arrived, target: Target,
                    content_type: str | None) -> dict[str, Any]:
        chunks = body.chunks
        if len(chunks) <= 1:
            return count_here(chunks[0] if chunks else b"", target, content_type, self.config,
                              None)
        buffer = self._buffer
        try:
            for chunk in chunks:
                buffer.put(chunk)
            return count_here(buffer, target, content_type, self.config, None)
        finally:
            try:
                buffer.clear()  # empty for the next, and the chunks it holds let go
            except BufferError:  # still read by someone: left to them, never changed
                self._buffer = twin("request").BodyBuffer()

    async def _check(self, send: Send, provider: str, answer: dict[str, Any],
                     budgets: tuple[int | None, int | None]) -> tuple[int, str | None, Any]:
        from .shared import over_budgets as _over_budgets, param as _param

        if "error" in answer:
            error = answer["error"]
            status = 404 if answer["unknown_model"] else 400
            code = "model_not_found" if answer["unknown_model"] else error["code"]
            status = await _provider_error(send, provider, status, code, error["message"],
                                           _param(error["pointer"] or ""))
            return status, error["code"], None
        result = answer["result"]
        if answer["refusal"] is not None:  # what the provider would refuse (spec 5)
            message, _, param, code = answer["refusal"]
            status = await _provider_error(send, provider, 400, code, message, param)
            return status, code, answer
        status = self.config.over_budget_status
        over = _over_budgets(SimpleNamespace(**result), *budgets, status)
        if over is not None:
            message, kind, _, code = over
            status = await _provider_error(send, provider, status, code, message, None, kind)
            return status, "over_budget", answer
        headers = [(TOKENS_HEADER, str(result["image_tokens"]).encode()),
                   (TOKENS_HEADER + BOUND_SUFFIX, _bool(result["upper_bound"])),
                   (OUTPUT_TOKENS_HEADER, str(result["output_image_tokens"]).encode()),
                   (OUTPUT_TOKENS_HEADER + BOUND_SUFFIX, _bool(result["output_upper_bound"]))]
        summary = {key: result[key] for key in ("api", "model", "image_tokens", "upper_bound",
                                                "output_image_tokens", "output_upper_bound")}
        await _send_json(send, 200, summary, headers)
        return 200, None, answer

    async def _read_body(self, scope: Scope, headers: dict[bytes, bytes], receive: Receive,
                         separators: bool) -> _Arrived | None:
        """The whole body as the chunks it came in, or None when the client left. 413 as soon
        as it is over the limit (announced or read), 408 when it takes longer than
        body_timeout. With ``separators``, its JSON separators are counted as each chunk
        arrives (see _Arrived)."""
        limit = self.config.max_body_size
        length = headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise HTTPError(400, "invalid_content_length", "Content-Length is not a number")
            if int(length) > limit:
                raise HTTPError(413, "payload_too_large", _too_large(limit))
        # never joined: counted in place (_count_inline) or written to a counting process
        body = _Arrived(-1 if self.config.fetch else self.config.inline_max_bytes, separators)
        try:
            async with asyncio.timeout(self.config.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    if chunk:
                        if body.size + len(chunk) > limit:
                            raise HTTPError(413, "payload_too_large", _too_large(limit))
                        body.add(chunk)
                    if not message.get("more_body", False):
                        return body
        except TimeoutError:
            raise HTTPError(408, "body_timeout", "the request body did not arrive within "
                            f"{self.config.body_timeout:g} s") from None


class _Arrived:
    """A request body as it came: its chunks, its size, and whether it may be counted
    ``inline`` (on the event loop): at most ``inline_max_bytes``, and, when ``separators`` is
    asked for, at most INLINE_MAX_VALUES JSON containers and separators (``,{[``), counted
    chunk by chunk as each arrives, while the chunk is still in the cache. A plain JSON body
    skips that pass: its scan stops at the limit itself (on a 1 MB four-image body, the
    separators were a sixth of what serve added to a request; see the benchmarks page)."""

    __slots__ = ("chunks", "size", "_values", "_inline_max_bytes", "_separators")

    def __init__(self, inline_max_bytes: int, separators: bool) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self._values = 0
        self._inline_max_bytes = inline_max_bytes  # (negative: never inline)
        self._separators = separators

    def add(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        if self._separators and self.inline:  # (a large body is never scanned for nothing)
            self._values += _separators(chunk, INLINE_MAX_VALUES + 1 - self._values)

    @property
    def inline(self) -> bool:
        return self.size <= self._inline_max_bytes and self._values <= INLINE_MAX_VALUES


def _separators(data: bytes, most: int) -> int:
    """How many of ``,{[`` ``data`` holds, counted up to ``most`` (then ``most``)."""
    found = 0
    for separator in (b",", b"{", b"["):
        # find, not count: find jumps with memchr from one to the next (microseconds over
        # a megabyte of base64), count walks every byte, and this stops at the limit
        at = data.find(separator)
        while at >= 0:
            found += 1
            if found >= most:
                return found
            at = data.find(separator, at + 1)
    return found


def _route(path: str) -> tuple[str | None, str, str]:
    """(endpoint, the path it was called by, the provider path after it)."""
    for name in ("count", "check"):
        prefix = f"/v1/{name}"
        if path == prefix or path.startswith(prefix + "/"):
            return name, prefix, path[len(prefix):]
    other = {"/healthz": "healthz", "/readyz": "readyz", "/metrics": "metrics",
             "/openapi.json": "openapi"}.get(path)
    return other, path, ""


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", ())}


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1").strip() or None


def _short(value: Any, limit: int = 80) -> Any:
    return value[:limit] if isinstance(value, str) else value


def _bool(value: bool) -> bytes:
    return b"true" if value else b"false"


def _too_large(limit: int) -> str:
    return f"the request body is over the {limit} bytes this service reads"


#: The media types a provider request body comes in: JSON, and multipart/form-data for an
#: Images API edit. A body without a Content-Type is read as JSON (the providers' SDKs always
#: send one; curl's --data-binary sends a form type, which is refused here).
def _content_type(headers: dict[bytes, bytes]) -> str | None:
    """The content type count_request needs (a multipart body's, with its boundary), or None
    for JSON; 415 for any other type, or a compressed body."""
    encoding = _text(headers.get(b"content-encoding"))
    if encoding is not None and encoding.lower() != "identity":
        raise HTTPError(415, "unsupported_content_encoding",
                        f"Content-Encoding {encoding[:40]!r} is not read: send the body as is")
    value = _text(headers.get(b"content-type"))
    if value is None:
        return None
    media = value.partition(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/")
                                       and media.endswith("+json")):
        return None
    if media == "multipart/form-data":
        return value
    raise HTTPError(415, "unsupported_media_type",
                    f"Content-Type {media[:60]!r} is not a provider request body: send "
                    "application/json, or multipart/form-data for an Images API edit")


def _budgets(config: ServeConfig, headers: dict[bytes, bytes]) -> tuple[int | None, int | None]:
    """The budgets of one /v1/check call: the configured ones, lowered (never raised) by the
    request's own headers."""
    out = []
    for configured, name in ((config.max_image_tokens, BUDGET_HEADER),
                             (config.max_output_image_tokens, OUTPUT_BUDGET_HEADER)):
        text = _text(headers.get(name))
        if text is None:
            out.append(configured)
            continue
        if not text.isdigit() or len(text) > 18:
            raise HTTPError(400, "invalid_budget",
                            f"{name.decode()} must be a whole number of tokens >= 0")
        asked = int(text)
        out.append(asked if configured is None else min(asked, configured))
    return out[0], out[1]


# --- answers --------------------------------------------------------------------------------

async def _send(send: Send, status: int, body: bytes, content_type: bytes,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()), *(headers or ())]})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, data: Any,
                     headers: list[tuple[bytes, bytes]] | None = None,
                     retry: bool = False) -> None:
    extra = list(headers or ())
    if retry:
        extra.append((b"retry-after", b"1"))
    await _send(send, status, json.dumps(data).encode(), b"application/json", extra)


async def _plain_error(send: Send, status: int, code: str, message: str,
                       allow: bytes) -> int:
    await _send_json(send, status, {"error": {"code": code, "message": message,
                                              "pointer": None}}, [(b"allow", allow)])
    return status


async def _provider_error(send: Send, provider: str, status: int, code: str, message: str,
                          param: str | None, kind: str | None = None) -> int:
    """The refusal in the provider's own error shape and status (``provider_error``), so a
    gateway returns it as is and the client's SDK raises its own typed error. Returns the
    status sent (Google answers a 413 with 400)."""
    status, data = provider_error(provider, status, message, kind, param, code)
    await _send_json(send, status, data, retry=status in (429, 503))
    return status


# --- running it -----------------------------------------------------------------------------

def app_from_environment() -> ServeApp:
    """The factory uvicorn calls in each server process: the configuration ``serve`` left in
    the environment. The process is serve's own, so it also tunes the allocator for bodies
    (keep_freed_memory)."""
    import os

    from .metrics import DIRECTORY_VARIABLE

    keep_freed_memory()
    return ServeApp(from_environment(), os.environ.get(DIRECTORY_VARIABLE) or None)


#: What keep_freed_memory sets: allocations up to MMAP_BELOW bytes come from the heap, and up
#: to KEEP_FREE bytes freed at its top stay there for the next request.
MMAP_BELOW, KEEP_FREE = 32 << 20, 64 << 20


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to keep freed memory for reuse, as MALLOC_MMAP_THRESHOLD_ and
    MALLOC_TRIM_THRESHOLD_ would (the operator's own settings win: then nothing is done).
    As it comes, glibc maps a large block afresh and hands it back when freed, and a server
    reading a body of a megabyte or more page-faults it in anew each request: under wrk at
    1.3 MB bodies, 126-256 faults a request, 46 with this. What stays held is bounded:
    KEEP_FREE bytes beyond what is in use. Whether it was done (not off glibc)."""
    import ctypes
    import os

    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, MMAP_BELOW)) and bool(mallopt(m_trim_threshold, KEEP_FREE))


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, the process (one of ``--workers``),
    message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z", "level": record.levelname.lower(),
                "logger": record.name, "pid": record.process, "message": record.getMessage()}
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def log_config(level: str) -> dict[str, Any]:
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": f"{__name__}.JSONFormatter"}},
            "handlers": {"stderr": handler},
            "loggers": {name: {"handlers": ["stderr"], "level": level.upper(),
                               "propagate": False}
                        for name in ("visiontokens", "uvicorn", "uvicorn.error")}}


def run(config: ServeConfig) -> int:
    """Serves until SIGTERM or SIGINT: uvicorn stops taking connections, lets the requests
    in flight finish (up to shutdown_timeout), then the counting processes stop."""
    import os

    import uvicorn

    from .config import CONFIG_VARIABLE

    os.environ[CONFIG_VARIABLE] = config.to_json()  # for every process uvicorn starts
    options = dict(host=config.host, port=config.port,
                   limit_concurrency=config.max_connections,
                   timeout_graceful_shutdown=config.shutdown_timeout,
                   log_config=log_config(config.log_level), access_log=False, lifespan="on",
                   server_header=False, proxy_headers=False)
    app = f"{__name__}:app_from_environment"
    if config.workers > 1:  # uvicorn's supervisor: SIGTERM stops each worker as below
        import shutil
        import tempfile

        from .metrics import DIRECTORY_VARIABLE

        # each worker's figures go in a file here, and /metrics adds them all up (.metrics)
        shared = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        directory = tempfile.mkdtemp(prefix="visiontokens-metrics-", dir=shared)
        os.environ[DIRECTORY_VARIABLE] = directory
        try:
            uvicorn.run(app, factory=True, workers=config.workers,
                        **options)  # type: ignore[arg-type]
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return 0
    server = _Server(uvicorn.Config(app, factory=True, **options))  # type: ignore[arg-type]
    server.run()
    return 0 if server.started else 3  # 3: uvicorn's "startup failed"


def _server_class() -> Any:
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that a SIGTERM, once handled (the requests in flight
        answered, the counting processes stopped), ends the process with status 0, as a
        supervisor expects of a clean stop; uvicorn would raise the signal again."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM and self._captured_signals[-1:] == [sig]:
                self._captured_signals.pop()

    return Server


def _Server(config: Any) -> Any:
    return _server_class()(config)


__all__ = ["ServeApp", "app_from_environment", "run"]
