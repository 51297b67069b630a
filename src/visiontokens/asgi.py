"""ImageTokenMiddleware: the image tokens of every request, counted on its way through any ASGI
app or proxy (Starlette and FastAPI included), before the app sees it.

Pure ASGI (no BaseHTTPMiddleware): for the configured paths it reads the body once, counts it
with :func:`visiontokens.count_request_async`, then hands the app the exact bytes it read, with
the :class:`~visiontokens.RequestCount` in ``scope["state"]`` (Starlette's ``request.state``).
The Images API (``/v1/images/generations`` and ``/v1/images/edits``, JSON or multipart/form-data,
see the docs) is counted too: input images, and the output image tokens the request will generate.
Optionally it adds the input and output figures as request headers, answers the API's request-limit violations
with an OpenAI-shaped 400, and answers requests over an image-token budget with 429 or 413.
A body it cannot count (not JSON, not a request, an unknown model ...) goes on untouched: the
upstream owns that error, and ``scope["state"]`` says why it was not counted.

Imports nothing beyond the package: ``import visiontokens.asgi`` is as light as the rest.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Iterable, MutableMapping

from ._errors import ArgumentTypeError, InvalidArgumentError, RequestLimitError, VisionTokensError, quoted
from ._extensions import twin
from .gateway.shared import (
    DEFAULT_PATHS,
    INVALID_REQUEST,
    api_code,
    api_for_path,
    check_budgets,
    count_options,
    error_body,
    first_refusal,
    over_budgets,
)

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

    - ``paths``: the request paths counted (exact match, POST only).
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
      30,000-patch rejection) with status 400 and ``{"error": {"message", "type", "param",
      "code"}}``, as the API would, without calling the app.
    - ``max_image_tokens``: a per-request budget; a request over it is answered with
      ``over_budget_status`` (429, or 413) in the same shape. An image of unknown size counts
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
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE, _walk: Any = None) -> None:
        if isinstance(paths, str):
            raise ArgumentTypeError("paths must be a collection of paths, not one str")
        self.paths = frozenset(paths)
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or scope.get("path") not in self.paths):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left mid-body: nothing to count, no one to answer
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
                size += len(chunk)
            if not message.get("more_body", False):
                break
            if size > self.max_body_size:
                # Too large to hold: pass what was read, then the rest as it comes, uncounted.
                state = _state(scope)
                state[ERROR_STATE_KEY] = RequestLimitError(
                    f"the body is over max_body_size ({self.max_body_size} bytes): not counted")
                await self.app(self._with_header(scope, None), _replay(chunks, receive, more=True),
                               send)
                return
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        del chunks
        state = _state(scope)
        try:
            result = await self._count(body, **self._options, **_endpoint(scope))
        except VisionTokensError as error:  # not JSON, not a request, unknown model ...
            state[ERROR_STATE_KEY] = error
            if self.reject_violations and isinstance(error, RequestLimitError):
                # a whole-request limit may stop the walk itself (over 1,500 images, or over
                # the 16 input images of an edit, spec 6.2)
                await _send_error(send, 400, str(error), INVALID_REQUEST, None,
                                  api_code(error))
                return
            await self.app(self._with_header(scope, None), _replay([body], receive), send)
            return
        state[STATE_KEY] = result
        if self.reject_violations:
            refused = first_refusal(result)
            if refused is not None:
                await _send_error(send, 400, *refused)
                return
        over = over_budgets(result, self.max_image_tokens, self.max_output_image_tokens,
                             self.over_budget_status)
        if over is not None:
            await _send_error(send, self.over_budget_status, *over)
            return
        await self.app(self._with_header(scope, result), _replay([body], receive), send)

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


def _endpoint(scope: Scope) -> dict[str, Any]:
    """count_request's ``api`` and ``content_type`` for this request. The Images API's
    endpoints are told by the path (spec 6.2), and an edit may come as multipart/form-data,
    whose boundary is in the request's own content type. Chat and Responses bodies are told
    by their shape, as before; their content type is not read (a JSON body is counted
    whatever it says)."""
    api = api_for_path(scope.get("path") or "")
    if api is None:
        return {}
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
    """A receive that gives the body read so far, as one message, then the real receive
    (what follows: the rest of the body when ``more``, else the disconnect)."""
    pending = [{"type": "http.request", "body": b"".join(chunks) if len(chunks) != 1
                else chunks[0], "more_body": more}]
    # cleared, not rebound: the caller's list is this one, and it must not keep the body
    # (up to max_body_size) alive for the app's whole run
    chunks.clear()

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


# --- OpenAI-shaped answers ------------------------------------------------------------------

async def _send_error(send: Send, status: int, message: str, kind: str, param: str | None,
                      code: str) -> None:
    body = json.dumps(error_body(message, kind, param, code)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode("ascii"))]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["DEFAULT_PATHS", "ERROR_STATE_KEY", "STATE_KEY", "UPPER_BOUND_SUFFIX",
           "ImageTokenMiddleware"]
