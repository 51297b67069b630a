"""ImageTokenHook: exact image tokens in the LiteLLM proxy, before a request goes upstream.

A LiteLLM ``CustomLogger`` whose ``async_pre_call_hook`` counts the images of the request the
proxy is about to send (its ``data``: Chat Completions, Responses, and the Images API's image
generations and edits, Anthropic's Messages and Gemini's generateContent), stores the count
in the request's metadata, and refuses what the API would refuse (HTTP 400) and requests over
an image-token budget (HTTP 429, or 413) by raising the ``fastapi.HTTPException`` that LiteLLM
turns into an OpenAI-shaped error. A request is counted by the model its deployment serves.
Register it in the proxy's ``config.yaml``::

    litellm_settings:
      callbacks: visiontokens.litellm.image_token_hook

or, with options, from a file of your own next to the config (``callbacks:
custom_callbacks.hook``)::

    from visiontokens.litellm import ImageTokenHook
    hook = ImageTokenHook(max_image_tokens=20_000, undocumented="assume")

This module imports litellm; ``import visiontokens`` never imports this module.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any, Mapping

from litellm.integrations.custom_logger import CustomLogger

from ._errors import MalformedRequestError, RequestLimitError, UnknownModelError, VisionTokensError
from ._extensions import twin
from .gateway.shared import (
    INVALID_REQUEST,
    api_code,
    check_budgets,
    check_models,
    count_options,
    error_body,
    first_refusal,
    model_candidates,
    over_budgets,
    telemetry_on,
)

#: Where the count goes in the request's metadata.
METADATA_KEY = "image_tokens"
#: LiteLLM's call types for the Images API (its ``CallTypes``), and the endpoint each is.
IMAGES_CALL_TYPES = {"image_generation": "images.generations",
                     "aimage_generation": "images.generations",
                     "image_edit": "images.edits", "aimage_edit": "images.edits",
                     # LiteLLM's /v1/messages and generateContent routes
                     "anthropic_messages": "anthropic.messages",
                     "aanthropic_messages": "anthropic.messages",
                     "generate_content": "gemini.generate_content",
                     "agenerate_content": "gemini.generate_content",
                     "generate_content_stream": "gemini.generate_content",
                     "agenerate_content_stream": "gemini.generate_content"}
#: How many counts wait for their call's success event (OpenTelemetry only): the oldest is
#: dropped past it, so calls that never end cannot hold memory.
MAX_PENDING = 10_000
#: The fields of an edit this count reads (spec 6.2); the prompt and the rest are not needed.
_EDIT_FIELDS = ("model", "size", "quality", "n", "partial_images", "input_fidelity")


class ImageTokenHook(CustomLogger):
    """Counts each request's image tokens in LiteLLM's pre-call hook.

    - ``reject_violations`` (default True): what the API refuses (over 1,500 images, over 512 MB
      of image data, an animated GIF, an unsupported or unreadable image, the 30,000-patch
      rejection) are refused with 400, as the API would refuse them, before any upstream call.
    - ``max_image_tokens``: a per-request budget, refused with ``over_budget_status`` (429 or
      413). Images of unknown size count at their upper bound (``on_unknown="upper_bound"``).
    - ``max_output_image_tokens``: a per-request budget on the output image tokens the
      request will generate (image generations and edits, the Responses
      ``image_generation`` tool), refused the same way; an upper bound counts as the figure.
    - ``models``: proxy model names to OpenAI model ids, for model groups whose names are not
      OpenAI's (``{"vision-prod": "gpt-4.1-mini"}``). A name not in it counts as the models
      of the proxy's deployments for that group (``litellm_params.model``; the costliest when
      they differ), else as is, and a ``provider/model`` name not known as is is tried as
      ``model``: the rule of :class:`visiontokens.asgi.ImageTokenMiddleware`'s ``models=``,
      plus the proxy's routing.
    - ``ruleset``, ``fetch``, ``resolve_file``, ``on_unknown``, ``undocumented``,
      ``enforce_patch_limit``: passed to :func:`visiontokens.count_request_async`.

    With OpenTelemetry installed and configured in the proxy (``visiontokens.otel``), the
    success callback puts each call's estimate and its bill (the response's ``usage``) on a
    ``visiontokens.request`` span and into metrics; a subclass overriding
    ``async_log_success_event`` calls ``super()`` to keep that.

    The metadata entry (``metadata["image_tokens"]``; ``litellm_metadata`` on the routes
    where LiteLLM keeps its own there, such as ``/v1/responses``) is JSON-safe: ``{"total",
    "images", "upper_bound", "output_tokens", "output_upper_bound", "model", "assumed_from",
    "violations", "skipped"}`` (each violation ``{"pointer", "code", "message"}``), or
    ``{"error": ...}`` when the body could not be counted (it
    then goes on untouched). ``output_tokens`` is ``RequestCount.output_image_tokens`` (0 when
    nothing is generated) and ``output_upper_bound`` says when it is a bound.

    Image generations are counted from LiteLLM's ``data`` as the endpoint it names (LiteLLM
    adds a ``messages`` copy of the prompt for its guardrails; it is not read). Image edits
    reach the hook as uploaded files (``BytesIO``): they are counted as the multipart form
    the client sent, rebuilt from the fields the count reads and the files' bytes (one
    transient copy).
    """

    def __init__(self, *, reject_violations: bool = True, max_image_tokens: int | None = None,
                 max_output_image_tokens: int | None = None, over_budget_status: int = 429,
                 models: Mapping[str, str] | None = None,
                 ruleset: str | None = None, fetch: Any = None, resolve_file: Any = None,
                 on_unknown: str = "upper_bound", undocumented: str = "error",
                 enforce_patch_limit: bool = True, _walk: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_budgets(max_image_tokens, max_output_image_tokens, over_budget_status)
        self.reject_violations = bool(reject_violations)
        self.max_image_tokens = max_image_tokens
        self.max_output_image_tokens = max_output_image_tokens
        self.over_budget_status = over_budget_status
        self.models = check_models(models)
        # litellm_call_id -> RequestCount, for the bill in the success event (telemetry only)
        self._pending: OrderedDict[str, Any] = OrderedDict()
        # (_walk: the request twin to count with; the facade's by default, either in tests)
        self._walk = twin("request") if _walk is None else _walk
        # every option checked now, not on the first request
        self._options = count_options(self._walk, ruleset=ruleset, fetch=fetch,
                                      resolve_file=resolve_file, on_unknown=on_unknown,
                                      undocumented=undocumented,
                                      enforce_patch_limit=enforce_patch_limit)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # LiteLLM's proxy calls a callback's pre-call hook only when the method is in the
        # callback's own class dict (vars(type(callback))), not inherited: a subclass made
        # to add logging would silently stop counting. Give each subclass the method.
        super().__init_subclass__(**kwargs)
        if "async_pre_call_hook" not in vars(cls):
            cls.async_pre_call_hook = ImageTokenHook.async_pre_call_hook  # type: ignore[method-assign]

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict[str, Any],
                                  call_type: Any) -> dict[str, Any]:
        api = IMAGES_CALL_TYPES.get(str(getattr(call_type, "value", call_type)))
        if not isinstance(data, dict) or (api is None and not any(
                key in data for key in ("messages", "input", "prompt", "previous_response_id",
                                        "conversation", "contents"))):
            return data  # embeddings, audio ...: no images to count here
        metadata = _metadata(data, call_type)
        try:
            result = await self._count(data, api)
        except VisionTokensError as error:
            # (a count another hook instance stored is not replaced by this error)
            metadata.setdefault(METADATA_KEY, {"error": f"{type(error).__name__}: {error}"})
            if self.reject_violations and isinstance(error, RequestLimitError):
                raise _http_error(400, str(error), INVALID_REQUEST, None,
                                  api_code(error)) from None
            return data  # the upstream owns errors about the body itself
        metadata[METADATA_KEY] = {
            "total": result.image_tokens, "images": len(result.images),
            "upper_bound": result.upper_bound, "output_tokens": result.output_image_tokens,
            "output_upper_bound": result.output_upper_bound, "model": result.model,
            "assumed_from": next((i.assumed_from for i in result.images if i.assumed_from),
                                 None),
            "violations": [{"pointer": v.pointer, "code": v.code, "message": v.message}
                           for v in result.violations],
            "skipped": [s.pointer for s in result.skipped],
        }
        if self.reject_violations:
            refused = first_refusal(result)
            if refused is not None:
                raise _http_error(400, *refused)
        over = over_budgets(result, self.max_image_tokens, self.max_output_image_tokens,
                             self.over_budget_status)
        if over is not None:
            raise _http_error(self.over_budget_status, *over)
        call_id = data.get("litellm_call_id")
        if isinstance(call_id, str) and telemetry_on():
            self._pending[call_id] = result
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return data

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        """With OpenTelemetry (visiontokens.otel): the estimate and the bill of the call, on a
        span (``visiontokens.request``) and in metrics. The proxy calls it after the response
        with the provider's answer, whose ``usage`` carries the bill."""
        call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, dict) else None
        count = self._pending.pop(call_id, None) if isinstance(call_id, str) else None
        if count is None or not telemetry_on():
            return
        from .otel import request_span

        usage = (response_obj.get("usage") if isinstance(response_obj, dict)
                 else getattr(response_obj, "usage", None))
        with request_span() as telemetry:
            if telemetry is not None:
                telemetry.counted(count)
                telemetry.billed(usage)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, dict) else None
        if isinstance(call_id, str):
            self._pending.pop(call_id, None)

    async def _count(self, data: dict[str, Any], api: str | None) -> Any:
        model = data.get("model")
        if isinstance(model, str) and model in self.models:
            return await self._count_as(data, self.models[model], api)
        routed = _deployment_models(model)
        if routed:
            # the rule of the provider the request is routed to: the deployment's own model
            # (litellm_params.model, "anthropic/claude-sonnet-4-5" behind "my-claude"), not the
            # alias. A group of deployments of several models counts at the costliest.
            results = [await self._count_named(data, name, api) for name in routed]
            return max(results, key=lambda result: result.image_tokens)
        return await self._count_named(data, model, api)

    async def _count_named(self, data: dict[str, Any], model: Any, api: str | None) -> Any:
        # the name as is, then a "provider/model" name's model part ("openai/gpt-4o",
        # "azure/gpt-4o": the prefix is LiteLLM's): the same rule as the ASGI middleware's
        # (gateway.shared.model_candidates)
        candidates = model_candidates({}, model)
        for k, name in enumerate(candidates):
            try:
                return await self._count_as(data, name, api)
            except UnknownModelError:
                if k == len(candidates) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _count_as(self, data: dict[str, Any], model: Any, api: str | None) -> Any:
        count = self._walk.count_request_async
        if api == "images.edits":
            body, content_type = _edit_form(data, model)
            return await count(body, content_type=content_type, api=api, **self._options)
        if api == "images.generations":  # (its model is read from the body)
            if model is not data.get("model"):
                data = {**data, "model": model}
            return await count(data, api=api, **self._options)
        model = model if isinstance(model, str) else None  # (a wrong one: the body's error)
        if api is not None:
            return await count(data, api=api, model=model, **self._options)
        return await count(data, model=model, **self._options)


def _deployment_models(name: Any) -> list[str]:
    """The underlying models (``litellm_params.model``) of the proxy's deployments for the
    model group ``name``, distinct, in the router's order; empty when the proxy has no router
    or no such group (a model name sent as is)."""
    if not isinstance(name, str):
        return []
    try:
        from litellm.proxy import proxy_server
    except Exception:  # (the hook used outside the proxy)
        return []
    router = getattr(proxy_server, "llm_router", None)
    if router is None:
        return []
    try:
        deployments = router.get_model_list(model_name=name) or []
    except Exception:  # a router that cannot answer: count the name as sent
        return []
    models: list[str] = []
    for deployment in deployments:
        params = deployment.get("litellm_params") if isinstance(deployment, dict) else None
        model = params.get("model") if isinstance(params, dict) else None
        if isinstance(model, str) and model and model not in models:
            models.append(model)
    return models


def _metadata(data: dict[str, Any], call_type: Any) -> dict[str, Any]:
    """The request's metadata dict: LiteLLM's own ``litellm_metadata`` where it keeps one
    (the Responses routes, where ``metadata`` is the user's and goes upstream)."""
    responses = "responses" in str(getattr(call_type, "value", call_type))
    key = "litellm_metadata" if "litellm_metadata" in data or responses else "metadata"
    metadata = data.get(key)
    if not isinstance(metadata, dict):
        metadata = data[key] = {}
    return metadata


def _edit_form(data: dict[str, Any], model: Any) -> tuple[bytes, str]:
    """An edit as LiteLLM holds it (form fields, and the uploads as ``BytesIO``) back into
    the multipart/form-data body it came as, so it is counted as the ASGI middleware counts
    the client's own body: the ``image[]`` parts read as far as their headers, the mask not
    billed (ASSUMED). The boundary is random (128 bits): no upload can hold it."""
    boundary = "vt" + secrets.token_hex(16)
    out: list[bytes] = []

    def part(disposition: str, content: bytes) -> None:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n"
                   .encode() + content + b"\r\n")

    for key in _EDIT_FIELDS:
        value = model if key == "model" else data.get(key)
        if value is not None:
            text = value if isinstance(value, str) else str(value)
            part(f'name="{key}"', text.encode("utf-8", "replace"))
    for key in ("image", "mask"):
        for k, upload in enumerate(_uploads(data.get(key), key)):
            name = "image[]" if key == "image" else "mask"
            part(f'name="{name}"; filename="{key}{k}"', upload)
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def _uploads(value: Any, key: str) -> list[bytes]:
    """The bytes of an edit's ``image`` or ``mask`` as LiteLLM may hold it: a list (or one)
    of ``BytesIO`` or other binary files, bytes, or the SDK's ``(filename, content, ...)``
    tuples. Anything else is a typed error (the body then goes on uncounted)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, tuple) and len(item) >= 2:
            item = item[1]  # the SDK's (filename, content[, content type[, headers]])
        if isinstance(item, (bytes, bytearray, memoryview)):
            found.append(bytes(item))
        elif hasattr(item, "getvalue"):  # BytesIO: its bytes without a copy when unshared
            found.append(bytes(item.getvalue()))
        elif hasattr(item, "read") and hasattr(item, "seek") and hasattr(item, "tell"):
            at = item.tell()
            try:
                found.append(bytes(item.read()))
            finally:
                item.seek(at)  # the upload is read again when LiteLLM sends it on
        else:
            raise MalformedRequestError(
                f"an edit's {key} must be an uploaded file, got {type(item).__name__}",
                f"/{key}")
    return found


def _http_error(status: int, message: str, kind: str, param: str | None, code: str) -> Exception:
    from fastapi import HTTPException  # the proxy's own web framework

    return HTTPException(status_code=status, detail=error_body(message, kind, param, code))


#: A ready instance for ``config.yaml``: ``callbacks: visiontokens.litellm.image_token_hook``.
image_token_hook = ImageTokenHook()

__all__ = ["METADATA_KEY", "ImageTokenHook", "image_token_hook"]
