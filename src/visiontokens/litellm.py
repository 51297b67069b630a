"""ImageTokenHook: exact image tokens in the LiteLLM proxy, before a request goes upstream.

A LiteLLM ``CustomLogger`` whose ``async_pre_call_hook`` counts the images of the request the
proxy is about to send (its ``data``: Chat Completions and Responses), stores the count in the
request's metadata, and refuses spec-5 violations (HTTP 400) and requests over an image-token
budget (HTTP 429, or 413) by raising the ``fastapi.HTTPException`` that LiteLLM turns into an
OpenAI-shaped error. Register it in the proxy's ``config.yaml``::

    litellm_settings:
      callbacks: visiontokens.litellm.image_token_hook

or, with options, from a file of your own next to the config (``callbacks:
custom_callbacks.hook``)::

    from visiontokens.litellm import ImageTokenHook
    hook = ImageTokenHook(max_image_tokens=20_000, undocumented="assume")

This module imports litellm; ``import visiontokens`` never imports this module.
"""

from __future__ import annotations

from typing import Any, Mapping

from litellm.integrations.custom_logger import CustomLogger

from ._errors import RequestLimitError, UnknownModelError, VisionTokensError
from ._extensions import twin
from ._registry import get_ruleset
from .asgi import _code, _first_refusal, _over_budget

#: Where the count goes in the request's metadata.
METADATA_KEY = "image_tokens"


class ImageTokenHook(CustomLogger):
    """Counts each request's image tokens in LiteLLM's pre-call hook.

    - ``reject_violations`` (default True): spec-5 violations (over 1,500 images, over 512 MB
      of image data, an animated GIF, an unsupported or unreadable image, the 30,000-patch
      rejection) are refused with 400, as the API would refuse them, before any upstream call.
    - ``max_image_tokens``: a per-request budget, refused with ``over_budget_status`` (429 or
      413). Images of unknown size count at their upper bound (``on_unknown="upper_bound"``).
    - ``models``: proxy model names to OpenAI model ids, for model groups whose names are not
      OpenAI's (``{"vision-prod": "gpt-4.1-mini"}``); a ``provider/model`` name is also tried
      as ``model``.
    - ``ruleset``, ``fetch``, ``resolve_file``, ``on_unknown``, ``undocumented``,
      ``enforce_patch_limit``: passed to :func:`visiontokens.count_request_async`.

    The metadata entry (``metadata["image_tokens"]``; ``litellm_metadata`` on the routes
    where LiteLLM keeps its own there, such as ``/v1/responses``) is JSON-safe: ``{"total",
    "images", "upper_bound", "model", "assumed_from", "violations", "skipped"}``, or
    ``{"error": ...}`` when the body could not be counted (it then goes on untouched).
    """

    def __init__(self, *, reject_violations: bool = True, max_image_tokens: int | None = None,
                 over_budget_status: int = 429, models: Mapping[str, str] | None = None,
                 ruleset: str | None = None, fetch: Any = None, resolve_file: Any = None,
                 on_unknown: str = "upper_bound", undocumented: str = "error",
                 enforce_patch_limit: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from ._errors import InvalidArgumentError

        if max_image_tokens is not None and (type(max_image_tokens) is not int
                                             or max_image_tokens < 0):
            raise InvalidArgumentError(
                f"max_image_tokens must be an int >= 0 or None, got {max_image_tokens!r}")
        if over_budget_status not in (429, 413):
            raise InvalidArgumentError(
                f"over_budget_status must be 429 or 413, got {over_budget_status!r}")
        self.reject_violations = bool(reject_violations)
        self.max_image_tokens = max_image_tokens
        self.over_budget_status = over_budget_status
        self.models = dict(models or {})
        self._options = dict(ruleset=ruleset, fetch=fetch, resolve_file=resolve_file,
                             on_unknown=on_unknown, on_violation="collect",
                             undocumented=undocumented, enforce_patch_limit=enforce_patch_limit)
        get_ruleset(ruleset)  # every option checked now, not on the first request
        twin("request").count_request(b'{"model": "", "input": ""}',
                                      **{**self._options, "resolve_file": None})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # LiteLLM's proxy calls a callback's pre-call hook only when the method is in the
        # callback's own class dict (vars(type(callback))), not inherited: a subclass made
        # to add logging would silently stop counting. Give each subclass the method.
        super().__init_subclass__(**kwargs)
        if "async_pre_call_hook" not in vars(cls):
            cls.async_pre_call_hook = ImageTokenHook.async_pre_call_hook  # type: ignore[method-assign]

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict[str, Any],
                                  call_type: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not any(
                key in data for key in ("messages", "input", "prompt", "previous_response_id",
                                        "conversation")):
            return data  # embeddings, images, audio ...: no chat images to count here
        metadata = _metadata(data, call_type)
        try:
            result = await self._count(data)
        except VisionTokensError as error:
            # (a count another hook instance stored is not replaced by this error)
            metadata.setdefault(METADATA_KEY, {"error": f"{type(error).__name__}: {error}"})
            if self.reject_violations and isinstance(error, RequestLimitError):
                raise _http_error(400, str(error), "invalid_request_error", None,
                                  _code(error)) from None
            return data  # the upstream owns errors about the body itself
        metadata[METADATA_KEY] = {
            "total": result.image_tokens, "images": len(result.images),
            "upper_bound": result.upper_bound, "model": result.model,
            "assumed_from": next((i.assumed_from for i in result.images if i.assumed_from),
                                 None),
            "violations": [str(v) for v in result.violations],
            "skipped": [s.pointer for s in result.skipped],
        }
        if self.reject_violations:
            refused = _first_refusal(result)
            if refused is not None:
                raise _http_error(400, *refused)
        if self.max_image_tokens is not None and result.image_tokens > self.max_image_tokens:
            raise _http_error(self.over_budget_status, *_over_budget(
                result, self.max_image_tokens, self.over_budget_status))
        return data

    async def _count(self, data: dict[str, Any]) -> Any:
        count = twin("request").count_request_async
        model = data.get("model")
        if isinstance(model, str) and model in self.models:
            return await count({**data, "model": self.models[model]}, **self._options)
        try:
            return await count(data, **self._options)
        except UnknownModelError:
            if not (isinstance(model, str) and "/" in model):
                raise
            # "openai/gpt-4o", "azure/gpt-4o": the provider prefix is LiteLLM's, not the model's
            return await count({**data, "model": model.rsplit("/", 1)[1]}, **self._options)


def _metadata(data: dict[str, Any], call_type: Any) -> dict[str, Any]:
    """The request's metadata dict: LiteLLM's own ``litellm_metadata`` where it keeps one
    (the Responses routes, where ``metadata`` is the user's and goes upstream)."""
    responses = "responses" in str(getattr(call_type, "value", call_type))
    key = "litellm_metadata" if "litellm_metadata" in data or responses else "metadata"
    metadata = data.get(key)
    if not isinstance(metadata, dict):
        metadata = data[key] = {}
    return metadata


def _http_error(status: int, message: str, kind: str, param: str | None, code: str) -> Exception:
    from fastapi import HTTPException  # the proxy's own web framework

    return HTTPException(status_code=status, detail={
        "error": {"message": message, "type": kind, "param": param, "code": code}})


#: A ready instance for ``config.yaml``: ``callbacks: visiontokens.litellm.image_token_hook``.
image_token_hook = ImageTokenHook()

__all__ = ["METADATA_KEY", "ImageTokenHook", "image_token_hook"]
