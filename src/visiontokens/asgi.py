"""ImageTokenMiddleware: the image tokens of every request, counted on its way through any ASGI
app or proxy (Starlette and FastAPI included), before the app sees it.

Pure ASGI (no BaseHTTPMiddleware): for the configured paths it reads the body once, counts it
with :func:`visiontokens.count_request_async`, then hands the app the exact bytes it read, with
the :class:`~visiontokens.RequestCount` in ``scope["state"]`` (Starlette's ``request.state``).
The Images API (``/v1/images/generations`` and ``/v1/images/edits``, JSON or multipart/form-data,
see the docs) is counted too: input images, and the output image tokens the request will generate.
Optionally it adds the input and output figures as request headers, answers the API's request-limit violations
with a 400, and answers requests over an image-token budget with 429 or 413, each in the error
shape of the provider the path is for (OpenAI's, Anthropic's on ``/v1/messages``, Google's on
``:generateContent``), so the client's own SDK raises its own typed error.
A body it cannot count (not JSON, not a request, an unknown model ...) goes on untouched: the
upstream owns that error, and ``scope["state"]`` says why it was not counted; or, with
``on_uncountable="refuse"``, it is answered with 400 naming why. Either way it is logged on the
``visiontokens`` logger.

With OpenTelemetry installed and configured (``pip install "visiontokens[otel]"``), each
counted request's estimate, and the bill read from the response (JSON, or the last event of a
stream), go on its span and into metrics: see :mod:`visiontokens.otel`.

Imports nothing beyond the package: ``import visiontokens.asgi`` is as light as the rest.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Iterable, Literal, Mapping, MutableMapping

from ._errors import (
    InvalidArgumentError,
    RequestLimitError,
    VisionTokensError,
    quoted,
)
from ._extensions import twin
from .gateway.shared import (
    DEFAULT_PATHS,
    INVALID_REQUEST,
    Endpoint,
    EndpointTable,
    api_code,
    check_budgets,
    check_models,
    alias_keys,
    count_body,
    count_options,
    model_in_path,
    first_refusal,
    over_budgets,
    param,
    provider_error,
    telemetry_on,
)

#: Where uncounted requests are logged (WARNING): the path, the code and the message, never
#: the body.
logger = logging.getLogger("visiontokens")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The suffix of the header that says whether the output figure is an upper bound.
UPPER_BOUND_SUFFIX = "-upper-bound"
#: Where the count goes in ``scope["state"]``, and why a body was not counted.
STATE_KEY = "image_token_count"
ERROR_STATE_KEY = "image_token_error"
#: Bodies over this many bytes are passed on uncounted: more than any request the API takes
#: (512 MB of images, spec 5, is about 683 MiB of base64), and it bounds what is held.
DEFAULT_MAX_BODY_SIZE = 768 * 1024 * 1024


class ImageTokenMiddleware:
    """Counts the image tokens of each request to ``paths`` before ``app`` is called.

    Options (all keyword-only):

    - ``paths``: the endpoints counted (POST only), as patterns. **The path rule:** a request
      is counted when its path (without the query string) *ends with* a pattern, at a
      segment boundary, with at most one trailing ``/``; ``{name}`` in a pattern stands for
      one path segment. So ``/v1/chat/completions`` also matches
      ``/openai/v1/chat/completions``, ``/my/base/v1/chat/completions`` and
      ``/v1/chat/completions/``, but not ``/xv1/chat/completions`` nor
      ``/v1/chat/completions/extra``. The default holds Chat Completions, Responses, the
      Images API, Anthropic's ``/v1/messages``, ``":generateContent"`` (which stands for every
      Gemini ``/models/{model}:generateContent`` and ``:streamGenerateContent`` path, Gemini
      API and Vertex AI: the model is read from the path), and Azure OpenAI's
      ``/openai/deployments/{deployment}/chat/completions`` (and its ``images/generations``,
      ``images/edits``), whatever the ``?api-version=``.
    - ``models``: gateway model names to model ids (``{"my-azure-gpt4o-deployment":
      "gpt-4o"}``), the same rule as the LiteLLM hook's ``models=``: a name in it is counted
      as its model id; a name not in it as is, then (a ``provider/model`` name) as the part
      after the last ``/``. On an Azure deployment path the deployment names the model when
      ``models`` maps it (Azure serves the deployment's model, whatever the body says);
      otherwise the body's ``model`` is used, and a body without one is counted as the
      deployment name (a deployment named after its model, ``gpt-4o``, needs no entry).
    - ``on_uncountable``: what to do with a request that cannot be counted (not JSON, an
      unknown or undocumented model, a body over ``max_body_size`` ...): ``"pass"`` (the
      default) hands it to the app untouched, and ``scope["state"]`` says why;
      ``"refuse"`` answers it without calling the app, with 400 (413 for a body over
      ``max_body_size``) in the provider's error shape (OpenAI's, whose ``code`` is the
      error's: ``unknown_model``, ``undocumented_model``, ``malformed_request`` ...;
      Anthropic's on ``/v1/messages``; Google's on ``:generateContent``, where a 413 is
      Google's 400 ``INVALID_ARGUMENT``). Either way each
      uncounted request is logged at WARNING on the ``visiontokens`` logger, with its path,
      the code and the message (never the body).
    - ``header``: a request-header name (e.g. ``"x-image-tokens"``) set to the image-token
      total for the app and, through a proxy, the upstream. A client's own value is always
      dropped, also from a body that could not be counted.
    - ``output_header``: a request-header name (e.g. ``"x-output-image-tokens"``) set to the
      output image tokens the request will generate (``RequestCount.output_image_tokens``;
      ``0`` when it generates nothing), and ``<output_header>-upper-bound`` set to ``true``
      when that figure is a bound (``size`` or ``quality`` ``auto``, a Responses
      ``image_generation`` tool the model may not call), else ``false``. A client's own
      values of both are always dropped.
    - ``reject_violations``: answer what the API refuses (over 1,500 images, over 512 MB of
      image data, an animated GIF, an unsupported format, an unreadable image, the
      30,000-patch rejection) with status 400 and, as the API would, ``{"error":
      {"message", "type", "param", "code"}}`` (Anthropic's ``{"type": "error", "error":
      {"type", "message"}}`` on ``/v1/messages``, Google's ``{"error": {"code", "message",
      "status"}}`` on ``:generateContent``), without calling the app.
    - ``max_image_tokens``: a per-request budget; a request over it is answered with
      ``over_budget_status`` (429, or 413) in the same shape (Anthropic's
      ``rate_limit_error`` or ``request_too_large``; Google's 429 ``RESOURCE_EXHAUSTED``, and
      400 ``INVALID_ARGUMENT`` for 413, which Google does not answer with). An image of unknown size counts
      at its upper bound (``on_unknown="upper_bound"``, the default here).
    - ``max_output_image_tokens``: a per-request budget on the output image tokens, answered
      the same way. An upper bound counts as the figure (``quality="auto"`` is charged as
      ``high``).
    - ``ruleset``, ``fetch``, ``resolve_file``, ``on_unknown``, ``undocumented``,
      ``enforce_patch_limit``: passed to :func:`visiontokens.count_request_async`.
    - ``max_body_size``: bodies over it are passed on uncounted (the bytes still go through).
    """

    def __init__(self, app: ASGIApp, *, paths: Iterable[str] = DEFAULT_PATHS,
                 header: str | None = None, output_header: str | None = None,
                 reject_violations: bool = False,
                 max_image_tokens: int | None = None,
                 max_output_image_tokens: int | None = None, over_budget_status: int = 429,
                 ruleset: str | None = None, fetch: Any = None, resolve_file: Any = None,
                 on_unknown: str = "upper_bound", undocumented: str = "error",
                 enforce_patch_limit: bool = True,
                 models: Mapping[str, str] | None = None,
                 on_uncountable: Literal["pass", "refuse"] = "pass",
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE, _walk: Any = None) -> None:
        self.endpoints = EndpointTable(paths)
        self.paths = self.endpoints.patterns
        self.models = check_models(models)
        # the aliases as they appear in a JSON body: a body holding none is not parsed here
        self._alias_keys = alias_keys(self.models)
        if on_uncountable not in ("pass", "refuse"):
            raise InvalidArgumentError(f"on_uncountable must be 'pass' or 'refuse', got "
                                       f"{quoted(on_uncountable)}", argument="on_uncountable")
        self.on_uncountable = on_uncountable
        self.header = _header_name("header", header)
        self.output_header = _header_name("output_header", output_header)
        self.output_bound_header = (None if self.output_header is None
                                    else self.output_header + UPPER_BOUND_SUFFIX.encode())
        self._ours = frozenset(name for name in (self.header, self.output_header,
                                                 self.output_bound_header) if name)
        if len(self._ours) < (self.header is not None) + 2 * (self.output_header is not None):
            raise InvalidArgumentError("header and output_header must name different headers")
        check_budgets(max_image_tokens, max_output_image_tokens, over_budget_status)
        if type(max_body_size) is not int or max_body_size < 0:
            raise InvalidArgumentError(f"max_body_size must be an int >= 0, got {quoted(max_body_size)}",
                                       argument="max_body_size")
        self.app = app
        self.reject_violations = bool(reject_violations)
        self.max_image_tokens = max_image_tokens
        self.max_output_image_tokens = max_output_image_tokens
        self.over_budget_status = over_budget_status
        self.max_body_size = max_body_size
        # (_walk: the request twin to count with; the facade's by default, either in tests)
        walk = twin("request") if _walk is None else _walk
        self._count = walk.count_request_async
        self._options = count_options(walk, ruleset=ruleset, fetch=fetch,
                                      resolve_file=resolve_file, on_unknown=on_unknown,
                                      undocumented=undocumented,
                                      enforce_patch_limit=enforce_patch_limit)
        self._buffers = _BodyBuffers(walk.BodyBuffer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (None if scope["type"] != "http" or scope.get("method") != "POST"
                    else self.endpoints.match(scope.get("path") or ""))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if not telemetry_on():
            await self._handle(scope, receive, send, endpoint, None)
            return
        from .otel import request_span  # only once telemetry was asked for and found

        with request_span() as telemetry:
            await self._handle(scope, receive, send, endpoint, telemetry)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint,
                      telemetry: Any) -> None:
        chunks: list[bytes] = []
        size = 0
        # From the second chunk on, the body is also copied as it comes into a buffer kept
        # from request to request (_BodyBuffers), and counted there: see _count_read.
        buffer: Any = None
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left mid-body: nothing to count, no one to answer
                chunk = message.get("body", b"")
                if chunk:
                    if size + len(chunk) <= self.max_body_size and chunks:
                        if buffer is None:
                            buffer = self._buffers.take()
                            buffer.put(chunks[0])
                        buffer.put(chunk)
                    chunks.append(chunk)
                    size += len(chunk)
                more = message.get("more_body", False)
                # (checked on the last message too: a server may hand over the whole body at once)
                if size > self.max_body_size:
                    # Too large to hold: pass what was read, then the rest as it comes, uncounted.
                    state = _state(scope)
                    error = state[ERROR_STATE_KEY] = RequestLimitError(
                        f"the body is over max_body_size ({self.max_body_size} bytes): not counted",
                        code="payload_too_large")
                    _log_uncounted(scope, error, self.on_uncountable)
                    if telemetry is not None:
                        telemetry.uncounted(error.code)
                    if self.on_uncountable == "refuse":
                        await _send_error(send, 413, error.message, INVALID_REQUEST, None,
                                          error.code, endpoint.provider)
                        return
                    self._buffers.give_back(buffer)
                    buffer = None
                    await self.app(self._with_header(scope, None),
                                   _replay(chunks, receive, more=more), send)
                    return
                if not more:
                    break
            state = _state(scope)
            try:
                try:
                    result = await self._count_read(chunks, buffer, scope, endpoint)
                finally:
                    self._buffers.give_back(buffer)  # before the app runs: free for the next
                    buffer = None
            except VisionTokensError as error:  # not JSON, not a request, unknown model ...
                state[ERROR_STATE_KEY] = error
                _log_uncounted(scope, error, self.on_uncountable)
                if telemetry is not None:
                    telemetry.uncounted(error.code)
                if self.reject_violations and isinstance(error, RequestLimitError):
                    # a whole-request limit may stop the walk itself (over 1,500 images, or
                    # over the 16 input images of an edit, spec 6.2)
                    await _send_error(send, 400, str(error), INVALID_REQUEST, None,
                                      api_code(error), endpoint.provider)
                    return
                if self.on_uncountable == "refuse":
                    await _send_error(send, 400, error.message, INVALID_REQUEST,
                                      param(error.pointer), error.code, endpoint.provider)
                    return
                await self.app(self._with_header(scope, None), _replay(chunks, receive), send)
                return
        finally:
            self._buffers.give_back(buffer)  # (None once counted; else a disconnect, a cancel)
        state[STATE_KEY] = result
        if telemetry is not None:
            telemetry.counted(result)
        if self.reject_violations:
            refused = first_refusal(result)
            if refused is not None:
                if telemetry is not None:
                    telemetry.refused(refused[3])
                await _send_error(send, 400, *refused, endpoint.provider)
                return
        over = over_budgets(result, self.max_image_tokens, self.max_output_image_tokens,
                             self.over_budget_status)
        if over is not None:
            if telemetry is not None:
                telemetry.refused(over[3])
            await _send_error(send, self.over_budget_status, *over, endpoint.provider)
            return
        if telemetry is None:
            await self.app(self._with_header(scope, result), _replay(chunks, receive), send)
            return
        await self.app(self._with_header(scope, result), _replay(chunks, receive),
                       telemetry.watch(send))
        telemetry.finish()  # the bill, read from the response as it passed

    async def _count_read(self, chunks: list[bytes], buffer: Any, scope: Scope,
                          endpoint: Endpoint) -> Any:
        """The count of the body read as ``chunks``. One chunk is counted
        as it is. Several were put as they came into ``buffer``, a request twin's
        BodyBuffer kept by this middleware from request to request (``_BodyBuffers``), and
        are counted there in place, while the app gets the chunks themselves: no body-sized
        object is made and thrown away per request. Joining them instead cost a fresh
        body-sized allocation that glibc's allocator as it comes hands back to the kernel
        after the request and page-faults in again for the next (measured on a 10 MB body:
        2.15x a plain body read under uvicorn, against 1.22x with glibc told to keep freed
        memory; the app's own join of the chunks is the plain read's too). The compiled
        BodyBuffer maps, as each chunk comes, the blocks a string's scan can step over, so
        the count does not read the base64 again, and leaves most of them in the chunks:
        only what the count reads is copied."""
        if buffer is None:
            return await self._count_body(chunks[0] if chunks else b"", scope, endpoint)
        return await self._count_body(buffer, scope, endpoint)

    async def _count_body(self, body: Any, scope: Scope, endpoint: Endpoint) -> Any:
        """The count of ``body``, its model resolved through ``models=`` and the path's
        deployment (``gateway.shared.count_body``: the rule ``serve`` follows too)."""
        return await count_body(self._count, body, {**self._options, **_endpoint(scope, endpoint)},
                                self.models, self._alias_keys,
                                endpoint.segments.get("deployment"))

    def _with_header(self, scope: Scope, result: Any) -> Scope:
        """The scope the app gets: a client's own count headers are always dropped (they must
        not pass for ours, even on a body we could not count), and ours added when counted."""
        if not self._ours:
            return scope
        scope = dict(scope)  # the app gets a scope of its own; state stays shared
        headers = [(name, value) for name, value in scope.get("headers", ())
                   if name.lower() not in self._ours]
        if result is not None:
            if self.header is not None:
                headers.append((self.header, str(result.image_tokens).encode("ascii")))
            if self.output_header is not None and self.output_bound_header is not None:
                headers.append((self.output_header,
                                str(result.output_image_tokens).encode("ascii")))
                headers.append((self.output_bound_header,
                                b"true" if result.output_upper_bound else b"false"))
        scope["headers"] = headers
        return scope


def _header_name(option: str, name: Any) -> bytes | None:
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidArgumentError(f"{option} must be a header name or None, got {quoted(name)}",
                                   argument=option)
    return name.strip().lower().encode("latin-1") if name else None


def _log_uncounted(scope: Scope, error: VisionTokensError, policy: str) -> None:
    # the path, the code and the message: never the body, nor the pointer's value
    logger.warning("request to %s not counted (%s): %s [%s]", scope.get("path"), error.code,
                   error.message, "refused" if policy == "refuse" else "passed on")


def _endpoint(scope: Scope, endpoint: Endpoint) -> dict[str, Any]:
    """count_request's ``api`` and ``content_type`` for this request. The Images API's
    endpoints are told by the path (spec 6.2), and an edit may come as multipart/form-data,
    whose boundary is in the request's own content type. Chat and Responses bodies are told
    by their shape, as before; their content type is not read (a JSON body is counted
    whatever it says)."""
    path = scope.get("path") or ""
    api = endpoint.api
    if api is None:
        return {}
    if api == "gemini.generate_content":  # the model is in the path, not the body
        return {"api": api, "model": model_in_path(path)}
    if api == "anthropic.messages":
        return {"api": api}
    content_type = None
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1")
            break
    if content_type is None or not content_type.strip().lower().startswith("multipart/"):
        content_type = None  # JSON, however labelled: the parser decides
    return {"api": api, "content_type": content_type}


def _state(scope: Scope) -> MutableMapping[str, Any]:
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    return state


def _replay(chunks: list[bytes], receive: Receive, more: bool = False) -> Receive:
    """A receive that gives the body read so far, chunk by chunk as it came (the app joins
    them as it would have without us), then the real receive (what follows: the rest of the
    body when ``more``, else the disconnect)."""
    pending = [{"type": "http.request", "body": chunk, "more_body": True}
               for chunk in reversed(chunks)] or [{"type": "http.request", "body": b""}]
    pending[0]["more_body"] = more
    # cleared, not rebound: the caller's list is this one, and it must not keep the body
    # (up to max_body_size) alive for the app's whole run; each chunk goes as it is given
    chunks.clear()

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


class _BodyBuffers:
    """The buffers a middleware reads several-chunk bodies into (its request twin's
    ``BodyBuffer``), kept from one request to the next, so their pages stay mapped: glibc's
    allocator as it comes gives a large freed block back to the kernel, and a fresh
    body-sized allocation per request was the middleware's largest cost (page faults, see
    ``ImageTokenMiddleware._count_read``). A buffer is taken for one request (concurrent
    requests take their own), and kept afterwards only while at most ``KEEP`` are idle and
    it held at most ``KEEP_BYTES``: what stays held is bounded."""

    #: idle buffers kept, and the longest body whose buffer is kept (a longer body's buffer
    #: is dropped after its count: bodies that large are rare, and holding one would cost
    #: every gateway)
    KEEP = 2
    KEEP_BYTES = 32 * 1024 * 1024

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._idle: list[Any] = []

    def take(self) -> Any:
        """An idle buffer, emptied, or a new one."""
        return self._idle.pop() if self._idle else self._make()

    def give_back(self, buffer: Any) -> None:
        if buffer is None or len(self._idle) >= self.KEEP or len(buffer) > self.KEEP_BYTES:
            return
        try:
            buffer.clear()
        except BufferError:  # still read by someone: dropped, never changed under them
            return
        self._idle.append(buffer)


# --- answers in the provider's shape ---------------------------------------------------------

async def _send_error(send: Send, status: int, message: str, kind: str, param: str | None,
                      code: str, provider: str) -> None:
    """A refusal as the provider the path is for answers it (``provider_error``: OpenAI's,
    Anthropic's or Google's shape and status), so the client's SDK raises its own error."""
    status, data = provider_error(provider, status, message, kind, param, code)
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode("ascii"))]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["DEFAULT_PATHS", "ERROR_STATE_KEY", "STATE_KEY", "UPPER_BOUND_SUFFIX",
           "ImageTokenMiddleware"]
