"""ImageTokenMiddleware: the image tokens of every request, counted on its way through any ASGI
app or proxy (Starlette and FastAPI included), before the app sees it.

Pure ASGI (no BaseHTTPMiddleware): for the configured paths it reads the body once, counts it
with :func:`visiontokens.count_request_async`, then hands the app the exact bytes it read, with
the :class:`~visiontokens.RequestCount` in ``scope["state"]`` (Starlette's ``request.state``).
The Images API (``/v1/images/generations`` and ``/v1/images/edits``, JSON or multipart/form-data,
spec 6.2) is counted too: input images, and the output image tokens the request will generate.
Optionally it adds the input and output figures as request headers, answers spec-5 violations
with an OpenAI-shaped 400, and answers requests over an image-token budget with 429 or 413.
A body it cannot count (not JSON, not a request, an unknown model ...) goes on untouched: the
upstream owns that error, and ``scope["state"]`` says why it was not counted.

Imports nothing beyond the package: ``import visiontokens.asgi`` is as light as the rest.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Iterable, MutableMapping

from ._errors import (
    AnimatedImageError,
    ArgumentTypeError,
    ImageRejectedError,
    InvalidArgumentError,
    InvalidImageError,
    PayloadTooLargeError,
    RequestLimitError,
    TooManyImagesError,
    UnsupportedImageFormatError,
    VisionTokensError,
)
from ._extensions import twin
from .rules import get_ruleset

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The paths counted unless told otherwise: the two APIs that take images in a chat (spec 6)
#: and the Images API's two endpoints (spec 6.2).
DEFAULT_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/images/generations",
                 "/v1/images/edits")
#: A path ending so is told to count_request as that endpoint (spec 6.2: a generations body and
#: an edit body are told apart by the endpoint, not only by their shape).
IMAGES_ENDPOINTS = (("/images/generations", "images.generations"),
                    ("/images/edits", "images.edits"))
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
    - ``reject_violations``: answer spec-5 violations (over 1,500 images, over 512 MB of
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
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
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
        _check_budget("max_image_tokens", max_image_tokens)
        _check_budget("max_output_image_tokens", max_output_image_tokens)
        if over_budget_status not in (429, 413):
            raise InvalidArgumentError(
                f"over_budget_status must be 429 or 413, got {over_budget_status!r}")
        if type(max_body_size) is not int or max_body_size < 0:
            raise InvalidArgumentError(f"max_body_size must be an int >= 0, got {max_body_size!r}")
        self.app = app
        self.reject_violations = bool(reject_violations)
        self.max_image_tokens = max_image_tokens
        self.max_output_image_tokens = max_output_image_tokens
        self.over_budget_status = over_budget_status
        self.max_body_size = max_body_size
        self._count = twin("request").count_request_async
        self._options = dict(ruleset=ruleset, fetch=fetch, resolve_file=resolve_file,
                             on_unknown=on_unknown, on_violation="collect",
                             undocumented=undocumented, enforce_patch_limit=enforce_patch_limit)
        # the options are checked now, not on the first request: a text-only body runs them all
        get_ruleset(ruleset)
        twin("request").count_request(b'{"model": "", "input": ""}',
                                      **{**self._options, "resolve_file": None})

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
                await _send_error(send, 400, str(error), "invalid_request_error", None,
                                  _code(error))
                return
            await self.app(self._with_header(scope, None), _replay([body], receive), send)
            return
        state[STATE_KEY] = result
        if self.reject_violations:
            refused = _first_refusal(result)
            if refused is not None:
                await _send_error(send, 400, *refused)
                return
        over = _over_budgets(result, self.max_image_tokens, self.max_output_image_tokens,
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
        raise InvalidArgumentError(f"{option} must be a header name or None, got {name!r}")
    return name.strip().lower().encode("latin-1") if name else None


def _check_budget(option: str, value: Any) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise InvalidArgumentError(f"{option} must be an int >= 0 or None, got {value!r}")


def _endpoint(scope: Scope) -> dict[str, Any]:
    """count_request's ``api`` and ``content_type`` for this request. The Images API's
    endpoints are told by the path (spec 6.2), and an edit may come as multipart/form-data,
    whose boundary is in the request's own content type. Chat and Responses bodies are told
    by their shape, as before; their content type is not read (a JSON body is counted
    whatever it says)."""
    path = scope.get("path") or ""
    for suffix, api in IMAGES_ENDPOINTS:
        if path.endswith(suffix):
            content_type = None
            for name, value in scope.get("headers", ()):
                if name.lower() == b"content-type":
                    content_type = value.decode("latin-1")
                    break
            if content_type is None or not content_type.strip().lower().startswith("multipart/"):
                content_type = None  # JSON, however labelled: the parser decides
            return {"api": api, "content_type": content_type}
    return {}


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
    chunks = []

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


# --- OpenAI-shaped answers ------------------------------------------------------------------

def _param(pointer: str) -> str | None:
    """A JSON pointer as the API names a parameter: /messages/0/content/1 -> messages[0].content[1]."""
    if not pointer:
        return None
    out = ""
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        out += f"[{token}]" if token.isdigit() else (f".{token}" if out else token)
    return out


def _code(error: VisionTokensError) -> str:
    if isinstance(error, TooManyImagesError):
        return "too_many_images"
    if isinstance(error, PayloadTooLargeError):
        return "payload_too_large"
    if isinstance(error, ImageRejectedError):
        return "image_too_large"  # over 30,000 patches after resizing (spec 3.1 step 4)
    if isinstance(error, (AnimatedImageError, UnsupportedImageFormatError)):
        return "invalid_image_format"
    return "invalid_image"


def _first_refusal(result: Any) -> tuple[str, str, str | None, str] | None:
    """(message, type, param, code) of the first spec-5 violation, or None. A bad detail or
    a non-http URL is not one: the upstream owns those errors, as it owns malformed JSON."""
    pointers = {id(image.error): image.pointer for image in result.images if image.error}
    for error in result.violations:
        if isinstance(error, (RequestLimitError, InvalidImageError, ImageRejectedError)):
            return (str(error), "invalid_request_error", _param(pointers.get(id(error), "")),
                    _code(error))
    return None


def _over_budget(result: Any, limit: int, status: int) -> tuple[str, str, str | None, str]:
    bound = " (some at their upper bound: size unknown)" if result.upper_bound else ""
    message = (f"the request's images cost {result.image_tokens} input tokens{bound}, over "
               f"the limit of {limit} image tokens per request")
    return _budget_answer(message, status)


def _over_output_budget(result: Any, limit: int,
                        status: int) -> tuple[str, str, str | None, str]:
    bound = " at most (an upper bound)" if result.output_upper_bound else ""
    message = (f"the request's generated images cost {result.output_image_tokens} output "
               f"tokens{bound}, over the limit of {limit} output image tokens per request")
    return _budget_answer(message, status)


def _budget_answer(message: str, status: int) -> tuple[str, str, str | None, str]:
    if status == 429:
        return message, "tokens", None, "rate_limit_exceeded"
    return message, "invalid_request_error", None, "request_too_large"


def _over_budgets(result: Any, max_input: int | None, max_output: int | None,
                  status: int) -> tuple[str, str, str | None, str] | None:
    """The answer to a request over either per-request budget (input first), or None."""
    if max_input is not None and result.image_tokens > max_input:
        return _over_budget(result, max_input, status)
    if max_output is not None and result.output_image_tokens > max_output:
        return _over_output_budget(result, max_output, status)
    return None


async def _send_error(send: Send, status: int, message: str, kind: str, param: str | None,
                      code: str) -> None:
    body = json.dumps({"error": {"message": message, "type": kind, "param": param,
                                 "code": code}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode("ascii"))]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["DEFAULT_PATHS", "ERROR_STATE_KEY", "STATE_KEY", "UPPER_BOUND_SUFFIX",
           "ImageTokenMiddleware"]
