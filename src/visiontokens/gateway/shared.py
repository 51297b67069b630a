"""What every gateway shares: the ASGI middleware (``visiontokens.asgi``), the LiteLLM hook
(``visiontokens.litellm``) and the server of ``visiontokens serve``.

- which API a request path is for (``endpoint``), so a gateway passes ``api=`` on;
- the count options a gateway passes to ``count_request_async``, checked once up front
  (``count_options``), over a given request walk (the twin: the tests run both);
- refusals: the first violation the API would refuse a request for (``first_refusal``),
  and budgets (``over_budgets``), as (message, type, param, code), answered in the shape and
  with the status of the provider the path is for (``provider_error``: OpenAI's,
  Anthropic's, Google's);
- model names: ``models=`` (``serve --model-alias``) and the path's model or deployment,
  resolved by one rule (``count_body``, ``model_candidates``);
- ``API_CODES``: our error codes (``VisionTokensError.code``) to the API's own codes.

Imports nothing heavy: ``import visiontokens.asgi`` stays light.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, NamedTuple

from .._errors import (
    ImageRejectedError,
    InvalidArgumentError,
    InvalidImageError,
    RequestLimitError,
    UnknownModelError,
    VisionTokensError,
    quoted,
)

#: The paths a gateway counts unless told otherwise: the two APIs that take images in a chat
#: (spec 6) and the Images API's two endpoints (spec 6.2); Anthropic's Messages API, and
#: Gemini's generateContent: GENERATE_CONTENT stands for every
#: ``/models/{model}:generateContent`` and ``:streamGenerateContent`` path (the model is in the
#: path), Gemini API and Vertex AI alike; and Azure OpenAI's deployment routes (the deployment
#: names the model). Each is a pattern (see ``EndpointTable``): matched as a suffix of the
#: request path, ``{name}`` standing for one path segment, one trailing slash allowed.
GENERATE_CONTENT = ":generateContent"
DEFAULT_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/images/generations",
                 "/v1/images/edits", "/v1/messages", GENERATE_CONTENT,
                 "/openai/deployments/{deployment}/chat/completions",
                 "/openai/deployments/{deployment}/images/generations",
                 "/openai/deployments/{deployment}/images/edits")
#: The patterns GENERATE_CONTENT stands for in ``paths``.
GENERATE_CONTENT_PATTERNS = ("/models/{model}:generateContent",
                             "/models/{model}:streamGenerateContent")
#: A path ending so is an Anthropic Messages request.
MESSAGES_ENDPOINT = "/v1/messages"
#: A path ending so is told to count_request as that endpoint (spec 6.2: a generations body and
#: an edit body are told apart by the endpoint, not only by their shape).
IMAGES_ENDPOINTS = (("/images/generations", "images.generations"),
                    ("/images/edits", "images.edits"))
#: Our error codes to the code of the API's error body; any other refused image error is
#: "invalid_image" (spec 5: the API's answers to images it refuses).
API_CODES = {
    "too_many_images": "too_many_images",
    "payload_too_large": "payload_too_large",
    "image_rejected": "image_too_large",  # over the patch limit after resizing (spec 3.1 step 4)
    "animated_image": "invalid_image_format",
    "unsupported_image_format": "invalid_image_format",
    # Anthropic's and Gemini's limits (providers 1.3, 2.3)
    "image_dimensions_too_large": "image_too_large",
    "oversized_image": "image_too_large",
    "image_too_large": "image_too_large",
    "request_too_large": "request_too_large",
}
#: The type of the API's error body for a request it refuses.
INVALID_REQUEST = "invalid_request_error"
#: The statuses a gateway may answer a request over budget with.
OVER_BUDGET_STATUSES = (429, 413)

#: (message, type, param, code): an error body in the OpenAI shape.
Answer = tuple[str, str, "str | None", str]


class Endpoint(NamedTuple):
    """What a matched request path says: the pattern it matched, the ``api`` to count it as
    (None: told by the body's shape), the provider whose error shape answers it, and the
    path's named segments (``deployment``: an Azure deployment, naming the model)."""

    pattern: str
    api: str | None
    provider: str
    segments: dict[str, str]


_SEGMENT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _compile(pattern: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise InvalidArgumentError(f"a path must be a str starting with '/', got {quoted(pattern)}",
                                   argument="paths")
    out, at = "", 0
    for match in _SEGMENT.finditer(pattern):
        out += re.escape(pattern[at:match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        at = match.end()
    out += re.escape(pattern[at:].rstrip("/"))
    # a suffix at a segment boundary (the pattern starts with "/"), then one optional "/"
    return re.compile(r"(?:/.*)?" + out + r"/?")


class EndpointTable:
    """The request paths a gateway counts, as patterns. The rule: a POST is counted when its
    path (the query string is not part of it) *ends with* one of the patterns, at a segment
    boundary, with at most one trailing ``/``; ``{name}`` in a pattern is one path segment.
    So ``/v1/chat/completions`` also matches ``/openai/v1/chat/completions``,
    ``/base/v1/chat/completions`` and ``/v1/chat/completions/``, never
    ``/xv1/chat/completions`` nor ``/v1/chat/completions/x``. ``GENERATE_CONTENT``
    (``":generateContent"``) stands for ``/models/{model}:generateContent`` and
    ``/models/{model}:streamGenerateContent``. The first pattern that matches, in the order
    given, is the one used."""

    def __init__(self, patterns: Iterable[str]) -> None:
        if isinstance(patterns, str):
            from .._errors import ArgumentTypeError

            raise ArgumentTypeError("paths must be a collection of paths, not one str")
        self.patterns = tuple(patterns)
        expanded = [p for pattern in self.patterns for p in
                    (GENERATE_CONTENT_PATTERNS if pattern == GENERATE_CONTENT else (pattern,))]
        self._compiled = [(pattern, _compile(pattern)) for pattern in expanded]
        self._exact = {pattern: pattern for pattern in expanded if "{" not in pattern}

    def match(self, path: str) -> Endpoint | None:
        found = self._exact.get(path)  # the common case: no regex at all
        if found is not None:
            return Endpoint(found, api_for_path(path), provider_for_path(path), {})
        for pattern, compiled in self._compiled:
            match = compiled.fullmatch(path)
            if match is not None:
                return Endpoint(pattern, api_for_path(path.rstrip("/")),
                                provider_for_path(path.rstrip("/")), match.groupdict())
        return None


def provider_for_path(path: str) -> str:
    """Whose error shape answers a request to ``path``: anthropic, gemini or openai."""
    api = api_for_path(path)
    if api == "anthropic.messages":
        return "anthropic"
    return "gemini" if api == "gemini.generate_content" else "openai"


def api_for_path(path: str) -> str | None:
    """The ``api`` a request path is for: an Images API endpoint, Anthropic's Messages, Gemini's
    generateContent, or None (Chat and Responses bodies are told by their shape)."""
    for suffix, api in IMAGES_ENDPOINTS:
        if path.endswith(suffix):
            return api
    if path.endswith(MESSAGES_ENDPOINT):
        return "anthropic.messages"
    if model_in_path(path) is not None:
        return "gemini.generate_content"
    return None


def model_in_path(path: str) -> str | None:
    """The model of a generateContent path (``/v1beta/models/{model}:generateContent``, Vertex's
    ``/v1/projects/*/locations/*/publishers/google/models/{model}:streamGenerateContent``)."""
    if "enerateContent" not in path:  # (the common case: one substring test)
        return None
    from ..requests.gemini import model_from_path

    return model_from_path(path)


def counted_path(path: str, paths: frozenset[str]) -> bool:
    """Whether a gateway counts a request to ``path``: one of ``paths``, or a generateContent
    path when ``paths`` holds GENERATE_CONTENT."""
    return path in paths or (GENERATE_CONTENT in paths and model_in_path(path) is not None)


def api_code(error: VisionTokensError) -> str:
    return API_CODES.get(error.code, "invalid_image")


def param(pointer: str | None) -> str | None:
    """A JSON pointer as the API names a parameter: /messages/0/content/1 -> messages[0].content[1]."""
    if not pointer:
        return None
    out = ""
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        out += f"[{token}]" if token.isdigit() else (f".{token}" if out else token)
    return out


#: Anthropic's error ``type`` for each status a gateway refuses with (its errors page: 400
#: invalid_request_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error;
#: 503 is ours, a count that could not finish, told as Anthropic tells an overload). Any
#: other status is an invalid request.
ANTHROPIC_TYPES = {400: "invalid_request_error", 404: "not_found_error",
                   413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error"}
#: Google's canonical status for each HTTP status (google.rpc.Code, as the Gemini API and
#: Vertex AI answer). Google's mapping has no 413: a request too large is a 400
#: INVALID_ARGUMENT there, so a 413 refusal on a Gemini path is answered with 400.
GOOGLE_STATUSES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED",
                   429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
#: OpenAI's error ``type`` by status when the answer names none of its own.
OPENAI_TYPES = {429: "tokens", 503: "server_error"}
#: The providers whose error shapes a gateway answers in.
PROVIDERS = ("openai", "anthropic", "gemini")


def provider_error(provider: str, status: int, message: str, kind: str | None = None,
                   param: str | None = None, code: str | None = None) -> tuple[int, dict[str, Any]]:
    """(status, body) of a refusal as ``provider``'s own clients parse it, so their SDKs raise
    their own typed errors with our message:

    - OpenAI: ``{"error": {message, type, param, code}}``, with ``status``;
    - Anthropic: ``{"type": "error", "error": {type, message}}`` (no code, no param), the
      type told by the status (``ANTHROPIC_TYPES``), with ``status``;
    - Gemini (Google's ``google.rpc.Status`` as JSON): ``{"error": {code, message,
      status}}``, the HTTP status in ``code`` and its canonical name in ``status``
      (``GOOGLE_STATUSES``); 413 becomes 400 ``INVALID_ARGUMENT``, as Google answers.

    ``kind`` is the OpenAI type (by default told by the status)."""
    if provider == "anthropic":
        return status, {"type": "error", "error": {
            "type": ANTHROPIC_TYPES.get(status, INVALID_REQUEST), "message": message}}
    if provider == "gemini":
        if status == 413:
            status = 400
        return status, {"error": {"code": status, "message": message,
                                  "status": GOOGLE_STATUSES.get(status, "INVALID_ARGUMENT")}}
    return status, {"error": {"message": message,
                              "type": kind or OPENAI_TYPES.get(status, INVALID_REQUEST),
                              "param": param, "code": code}}


def error_body(message: str, kind: str, param: str | None, code: str,
               provider: str = "openai", status: int = 400) -> dict[str, Any]:
    """The body of ``provider_error`` (its status is the caller's to send)."""
    return provider_error(provider, status, message, kind, param, code)[1]


def provider_of_api(api: str | None) -> str | None:
    """Whose error shape answers a request counted as ``api`` (``?api=`` of ``serve``), or
    None when the api does not tell."""
    if api in ("anthropic", "messages", "anthropic.messages"):
        return "anthropic"
    if api in ("gemini", "generate_content", "gemini.generate_content"):
        return "gemini"
    return None


# --- model aliases (models=) ----------------------------------------------------------------

def check_models(models: Any) -> dict[str, str]:
    """``models=``: gateway model names (a LiteLLM model group, an Azure deployment) to model
    ids, checked once."""
    if models is None:
        return {}
    if not isinstance(models, Mapping):
        raise InvalidArgumentError(f"models must be a mapping of name to model id, got "
                                   f"{quoted(models)}", argument="models")
    for name, model in models.items():
        if not isinstance(name, str) or not isinstance(model, str) or not model:
            raise InvalidArgumentError(f"models must map str names to model ids, got "
                                       f"{quoted(name)}: {quoted(model)}", argument="models")
    return dict(models)


def model_candidates(models: Mapping[str, str], model: Any) -> list[Any]:
    """The model names to count a request's ``model`` as, in order, the same in every gateway:
    its alias when ``models`` has one (only that), else the name itself, then, for a
    ``provider/model`` name (``azure/gpt-4o``, LiteLLM's), the part after the last ``/``."""
    if isinstance(model, str) and model in models:
        return [models[model]]
    if isinstance(model, str) and "/" in model:
        return [model, model.rsplit("/", 1)[1]]
    return [model]


async def count_aliased(count: Any, models: Mapping[str, str], data: dict[str, Any],
                        **options: Any) -> Any:
    """``count(data, **options)`` with ``data["model"]`` resolved by ``model_candidates``:
    the next candidate is tried only on an unknown model."""
    model = data.get("model")
    candidates = model_candidates(models, model)
    for k, name in enumerate(candidates):
        try:
            return await count(data if name is model else {**data, "model": name}, **options)
        except UnknownModelError:
            if k == len(candidates) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def alias_keys(models: Mapping[str, str]) -> tuple[bytes, ...]:
    """The names of ``models`` as they appear in a JSON body: a body holding none of them is
    counted as its bytes, without a parse here."""
    import json

    return tuple(json.dumps(name).encode() for name in models)


def json_object(body: Any) -> dict[str, Any] | None:
    """The body (bytes-like, or a gateway's BodyBuffer) as a JSON object, or None (the count
    of the bytes then names the fault)."""
    import json

    if not isinstance(body, (bytes, bytearray, memoryview)):
        with body.view() as view:  # a BodyBuffer: every byte it holds
            return json_object(view)
    try:
        # (json reads no memoryview: a copy, on the alias path only)
        data = json.loads(body.tobytes() if isinstance(body, memoryview) else body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def holds_any(body: Any, keys: tuple[bytes, ...]) -> bool:
    """Whether ``body`` (bytes-like, or a gateway's BodyBuffer) holds one of ``keys`` (``in``
    on a memoryview compares single bytes, not runs of them: a memoryview is searched in
    place with a pattern)."""
    if not keys:
        return False
    if isinstance(body, (bytes, bytearray)):
        return any(key in body for key in keys)
    if not isinstance(body, memoryview):
        with body.view() as view:  # a BodyBuffer: every byte it holds
            return _keys_pattern(keys).search(view) is not None
    return _keys_pattern(keys).search(body) is not None


_patterns: dict[tuple[bytes, ...], re.Pattern[bytes]] = {}


def _keys_pattern(keys: tuple[bytes, ...]) -> re.Pattern[bytes]:
    found = _patterns.get(keys)
    if found is None:
        found = _patterns[keys] = re.compile(b"|".join(re.escape(key) for key in keys))
    return found


async def count_body(count: Any, body: Any, options: Mapping[str, Any],
                     models: Mapping[str, str], keys: tuple[bytes, ...],
                     deployment: str | None = None) -> Any:
    """``count(body, **options)`` with the model resolved through ``models=`` and the path's
    deployment: the one rule of the middleware and ``serve`` (and ``model_candidates``, the
    LiteLLM hook's). ``options["model"]`` (a generateContent path's model) is aliased the
    same way. The bytes are counted as they are unless an alias (one of ``keys``, from
    ``alias_keys``) or a deployment may apply (then the JSON is parsed here once, and the
    object counted), or the model is unknown and has another name to try
    (``provider/model``). On an Azure deployment path the deployment names the model when
    ``models`` maps it; otherwise the body's ``model``, else the deployment's name."""
    if options.get("model") is not None:  # Gemini: the model is the path's
        options = {**options, "model": model_candidates(models, options["model"])[0]}
        return await count(body, **options)
    options = {key: value for key, value in options.items() if key != "model"}
    json_body = options.get("content_type") is None  # multipart is counted as sent
    if json_body and (deployment is not None or holds_any(body, keys)):
        data = json_object(body)
        if data is not None:
            if deployment is not None and (deployment in models or "model" not in data):
                data["model"] = deployment
            return await count_aliased(count, models, data, **options)
    try:
        return await count(body, **options)
    except UnknownModelError:
        data = json_object(body) if json_body else None
        if data is None or len(model_candidates(models, data.get("model"))) < 2:
            raise
        return await count_aliased(count, models, data, **options)


def run_sync(coroutine: Any) -> Any:
    """The value of a coroutine that never waits (each of its awaits is of a coroutine that
    returns at once): how ``serve``'s counting code, which is synchronous, runs
    ``count_body`` rather than a copy of it."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the count waited on something")  # pragma: no cover - a bug


def refused(error: VisionTokensError) -> bool:
    """Whether the API would refuse a request for this error (spec 5): a whole-request limit,
    an image it cannot read or takes not, the patch limit. A bad detail, a non-http URL, a
    malformed body are not: the upstream owns those errors."""
    return isinstance(error, (RequestLimitError, InvalidImageError, ImageRejectedError))


def refusal(error: VisionTokensError) -> Answer:
    """The answer to a refused error: its message without location, and its pointer as the
    parameter."""
    return (str(error), INVALID_REQUEST, param(error.pointer), api_code(error))


def first_refusal(result: Any) -> Answer | None:
    """The answer to the first violation of a count the API would refuse, or None."""
    for error in result.violations:
        if refused(error):
            return refusal(error)
    return None


def check_budget(option: str, value: Any) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise InvalidArgumentError(f"{option} must be an int >= 0 or None, got {quoted(value)}",
                                   argument=option)


def check_budgets(max_image_tokens: Any, max_output_image_tokens: Any,
                  over_budget_status: Any) -> None:
    check_budget("max_image_tokens", max_image_tokens)
    check_budget("max_output_image_tokens", max_output_image_tokens)
    if over_budget_status not in OVER_BUDGET_STATUSES:
        raise InvalidArgumentError(
            f"over_budget_status must be 429 or 413, got {quoted(over_budget_status)}",
            argument="over_budget_status")


def _budget_answer(message: str, status: int) -> Answer:
    if status == 429:
        return message, "tokens", None, "rate_limit_exceeded"
    return message, INVALID_REQUEST, None, "request_too_large"


def over_budgets(result: Any, max_input: int | None, max_output: int | None,
                 status: int) -> Answer | None:
    """The answer to a request over either per-request budget (input first), or None."""
    if max_input is not None and result.image_tokens > max_input:
        bound = " (some at their upper bound: size unknown)" if result.upper_bound else ""
        return _budget_answer(
            f"the request's images cost {result.image_tokens} input tokens{bound}, over "
            f"the limit of {max_input} image tokens per request", status)
    if max_output is not None and result.output_image_tokens > max_output:
        bound = " at most (an upper bound)" if result.output_upper_bound else ""
        return _budget_answer(
            f"the request's generated images cost {result.output_image_tokens} output "
            f"tokens{bound}, over the limit of {max_output} output image tokens per request",
            status)
    return None


def count_options(walk: Any, *, ruleset: Any, fetch: Any, resolve_file: Any, on_unknown: Any,
                  undocumented: Any, enforce_patch_limit: Any) -> dict[str, Any]:
    """The options a gateway counts every request with (violations collected, to be refused
    or not by the gateway), checked now on ``walk`` (the request twin), not on the first
    request: a text-only body runs every check."""
    from ..rules import get_ruleset

    options = dict(ruleset=ruleset, fetch=fetch, resolve_file=resolve_file,
                   on_unknown=on_unknown, on_violation="collect", undocumented=undocumented,
                   enforce_patch_limit=enforce_patch_limit)
    get_ruleset(ruleset)
    walk.count_request(b'{"model": "", "input": ""}', **{**options, "resolve_file": None})
    return options


# --- telemetry ------------------------------------------------------------------------------

_otel_installed: bool | None = None


def telemetry_on() -> bool:
    """Whether OpenTelemetry is installed and configured: looked for once (without importing
    it), then one cheap check per call, since a provider may be set after a gateway is made.
    ``visiontokens.otel`` is imported only when it is installed."""
    global _otel_installed
    if _otel_installed is None:
        import importlib.util

        try:
            _otel_installed = importlib.util.find_spec("opentelemetry") is not None
        except ValueError:  # a module set to None in sys.modules: not importable
            _otel_installed = False
    if not _otel_installed:
        return False
    from ..otel import api

    return api() is not None
