"""Our estimate against the bill: :func:`reconcile` a :class:`RequestCount` with the
``usage`` the provider returned.

>>> count = visiontokens.count_request(body)
>>> response = client.chat.completions.create(**body)
>>> visiontokens.reconcile(count, response.usage)
Reconciliation(api='chat', estimated_image_tokens=765, billed_image_tokens=765, difference=0, exact=True, ...)

The usage may be a dict or an SDK object (a pydantic model, or anything with attributes),
or a whole response that holds one (``usage``, ``usageMetadata``, a Batch output line's
``response.body.usage``). What each API reports:

- Chat Completions: ``prompt_tokens_details.image_tokens``, the image input as billed;
- the Images API: ``input_tokens_details.image_tokens``, and ``output_tokens`` (with
  ``output_tokens_details.image_tokens`` where given) for the generated images;
- Gemini: ``usageMetadata.promptTokensDetails``, token counts by modality (camelCase as the
  REST API sends it, snake_case as the ``google-genai`` SDK dumps it);
- Responses and Anthropic: the input total only. Text, the chat template and tools are in
  it too, and nothing here guesses them: the result is ``comparable=False`` with the reason,
  unless the caller passes ``text_tokens=`` (its own count of everything but the images),
  which compares totals instead.

Not imported by ``import visiontokens`` until first used.
"""

from __future__ import annotations

import sys as _sys
import types as _types

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from ._errors import ArgumentTypeError, InvalidArgumentError, quoted

__all__ = ["Reconciliation", "reconcile", "billed_usage", "BilledUsage"]

#: What the usage looks like, as :attr:`Reconciliation.usage_format` names it.
FORMATS = ("chat", "images", "gemini", "responses", "anthropic")


@dataclass(frozen=True, slots=True)
class BilledUsage:
    """The figures a usage object reports, read into one shape (None: not reported)."""

    format: str  # one of FORMATS
    input_tokens: int | None  # the whole input, as billed (Anthropic: cache reads and writes included)
    image_input_tokens: int | None  # None when the bill does not separate images
    output_tokens: int | None
    image_output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One request's estimate beside its bill.

    ``difference`` is billed minus estimated on the figures compared (image input tokens, or
    input totals when ``text_tokens`` was given for a bill that reports totals only); it is
    None when they cannot be compared, and then ``comparable`` is False and ``reason`` says
    why. ``exact`` is True only when comparable and equal.
    """

    model: str | None
    api: str  # the request's API, from the count ("chat", "responses", "images.edits", ...)
    usage_format: str  # which usage shape the bill had (FORMATS)
    estimated_image_tokens: int
    billed_image_tokens: int | None
    difference: int | None
    exact: bool
    comparable: bool
    reason: str | None
    #: "image_tokens" (image input figures) or "input_tokens" (totals, with text_tokens=),
    #: None when nothing was compared
    basis: str | None
    billed_input_tokens: int | None  # the bill's whole input
    estimated_text_tokens: int | None  # as the caller passed it; never guessed
    estimated_output_image_tokens: int | None  # images the request generates (Images API)
    billed_output_image_tokens: int | None
    output_difference: int | None
    billed_output_tokens: int | None
    upper_bound: bool  # the estimate counts some image at its most (size unknown)
    output_upper_bound: bool
    assumed_from: tuple[str, ...]  # undocumented="assume": the documented models counted like

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (what logs and telemetry carry)."""
        out = asdict(self)
        out["assumed_from"] = list(self.assumed_from)
        return out


# --- reading usage -----------------------------------------------------------------------

_MAX_DEPTH = 4  # response -> body -> usage -> details: deeper is not a usage object


def _plain(value: Any, depth: int = 0) -> Any:
    """A usage value as dicts, lists and scalars: pydantic models through model_dump(),
    other objects through their attributes."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (list, tuple)):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            dumped = dump()
        except Exception as error:  # a broken SDK object: our error, with its type named
            raise ArgumentTypeError(f"usage: cannot read {type(value).__name__}: {error}") from None
        return dumped
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return to_dict()
        except Exception:
            pass
    if hasattr(value, "__dict__") and depth < _MAX_DEPTH:
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    raise ArgumentTypeError(f"usage must be a dict or an SDK usage object, got "
                            f"{type(value).__name__} {quoted(value)}")


def _get(mapping: Any, *names: str) -> Any:
    """The first of ``names`` present (and not None) in ``mapping``, made plain."""
    mapping = _plain(mapping)
    if not isinstance(mapping, Mapping):
        return None
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return _plain(value)
    return None


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"usage: {where} must be an integer, got {quoted(value)}")
    if value < 0:
        raise InvalidArgumentError(f"usage: {where} must be >= 0, got {value}")
    return value


_USAGE_KEYS = ("prompt_tokens", "input_tokens", "promptTokenCount", "prompt_token_count",
               "output_tokens", "completion_tokens")


def _unwrap(usage: Any) -> Mapping[str, Any]:
    """The usage object inside what was passed: itself, or a response's ``usage`` /
    ``usageMetadata`` / ``usage_metadata``, or a Batch output line's ``response.body``."""
    value = _plain(usage)
    for _ in range(_MAX_DEPTH):
        if not isinstance(value, Mapping):
            raise ArgumentTypeError(f"usage must be a dict or an SDK usage object, got "
                                    f"{type(value).__name__} {quoted(value)}")
        if any(key in value for key in _USAGE_KEYS):
            return value
        inner = _get(value, "usageMetadata", "usage_metadata", "usage", "body", "response")
        if inner is None:
            break
        value = inner
    raise InvalidArgumentError(
        "usage has none of the known shapes (Chat Completions prompt_tokens, Images API or "
        "Responses input_tokens, Anthropic input_tokens, Gemini promptTokenCount)")


def _modality_sum(details: Any, where: str) -> int | None:
    """Gemini's tokens by modality: the IMAGE entries summed. ASSUMED: a breakdown that lists
    no IMAGE entry billed no image tokens (0, compared), rather than "not reported"."""
    if details is None:
        return None
    if not isinstance(details, (list, tuple)):
        raise ArgumentTypeError(f"usage: {where} must be a list, got {quoted(details)}")
    total = 0
    for i, entry in enumerate(details):
        entry = _plain(entry)
        if not isinstance(entry, Mapping):
            raise ArgumentTypeError(f"usage: {where}[{i}] must be an object, got {quoted(entry)}")
        modality = entry.get("modality")
        modality = getattr(modality, "value", modality)  # the SDK's MediaModality enum
        if not isinstance(modality, str):
            raise InvalidArgumentError(f"usage: {where}[{i}] has no modality")
        tokens = _count(entry.get("tokenCount", entry.get("token_count")), f"{where}[{i}].tokenCount")
        if modality.upper() == "IMAGE":
            total += tokens or 0
    return total


def billed_usage(usage: Any) -> BilledUsage:
    """The figures of a usage object of any supported API, in one shape."""
    u = _unwrap(usage)
    if "promptTokenCount" in u or "prompt_token_count" in u:  # Gemini
        details = _get(u, "promptTokensDetails", "prompt_tokens_details")
        out_details = _get(u, "candidatesTokensDetails", "candidates_tokens_details")
        return BilledUsage(
            "gemini", _count(_get(u, "promptTokenCount", "prompt_token_count"), "promptTokenCount"),
            _modality_sum(details, "promptTokensDetails"),
            _count(_get(u, "candidatesTokenCount", "candidates_token_count"), "candidatesTokenCount"),
            _modality_sum(out_details, "candidatesTokensDetails"))
    if "prompt_tokens" in u:  # Chat Completions
        details = _get(u, "prompt_tokens_details")
        image = _count(_get(details, "image_tokens"), "prompt_tokens_details.image_tokens") \
            if details is not None else None
        return BilledUsage("chat", _count(u.get("prompt_tokens"), "prompt_tokens"), image,
                           _count(u.get("completion_tokens"), "completion_tokens"), None)
    input_details = _get(u, "input_tokens_details")
    output_details = _get(u, "output_tokens_details")
    input_tokens = _count(u.get("input_tokens"), "input_tokens")
    output_tokens = _count(u.get("output_tokens"), "output_tokens")
    image = _count(_get(input_details, "image_tokens"), "input_tokens_details.image_tokens") \
        if input_details is not None else None
    image_out = _count(_get(output_details, "image_tokens"), "output_tokens_details.image_tokens") \
        if output_details is not None else None
    if image is not None or (input_details is not None and "text_tokens" in _plain(input_details)):
        return BilledUsage("images", input_tokens, image or 0, output_tokens, image_out)
    if "cache_creation_input_tokens" in u or "cache_read_input_tokens" in u or \
            (input_details is None and output_details is None and "total_tokens" not in u):
        # Anthropic: input_tokens excludes the cache; the input billed is all three. A bare
        # {input_tokens, output_tokens} without details or total is read as Anthropic's
        # (ASSUMED; either way it reports no image figure).
        parts = [input_tokens] + [_count(u.get(k), k) for k in ("cache_creation_input_tokens",
                                                                "cache_read_input_tokens")]
        total = None if input_tokens is None else sum(p or 0 for p in parts)
        return BilledUsage("anthropic", total, None, output_tokens, None)
    return BilledUsage("responses", input_tokens, None, output_tokens, image_out)


# --- reconciling ----------------------------------------------------------------------------

def _check_count(count: Any) -> None:
    if not isinstance(count, tuple) or not all(hasattr(count, name) for name in
                                               ("image_tokens", "images", "api", "model")):
        raise ArgumentTypeError(f"count must be a RequestCount (from count_request), got "
                                f"{type(count).__name__}")


def reconcile(count: Any, usage: Any, *, text_tokens: int | None = None) -> Reconciliation:
    """The estimate ``count`` (a :class:`RequestCount`) beside the bill ``usage``.

    ``text_tokens``: the caller's own count of every input token that is not an image (text,
    template, tools). Only then is a bill that reports its input total alone (Responses,
    Anthropic) compared, on totals; without it such a bill is ``comparable=False``. Nothing
    is ever guessed.
    """
    _check_count(count)
    if text_tokens is not None:
        if isinstance(text_tokens, bool) or not isinstance(text_tokens, int):
            raise ArgumentTypeError(f"text_tokens must be an int or None, got {quoted(text_tokens)}")
        if text_tokens < 0:
            raise InvalidArgumentError(f"text_tokens must be >= 0, got {text_tokens}")
    bill = billed_usage(usage)
    estimated = int(count.image_tokens)
    images = tuple(count.images)
    uncounted = sum(1 for image in images if image.tokens is None)
    assumed = tuple(sorted({image.assumed_from for image in images if image.assumed_from}))
    upper = any(image.upper_bound for image in images)

    difference: int | None = None
    basis: str | None = None
    reason: str | None = None
    if uncounted:
        reason = (f"{uncounted} image{'s' if uncounted > 1 else ''} of the request could not "
                  "be counted, so the estimate covers only part of what was billed")
    elif bill.image_input_tokens is not None:
        basis, difference = "image_tokens", bill.image_input_tokens - estimated
    elif text_tokens is not None and bill.input_tokens is not None:
        basis, difference = "input_tokens", bill.input_tokens - (estimated + text_tokens)
    elif bill.input_tokens is None:
        reason = "the usage reports no input tokens"
    else:
        reason = (f"the {bill.format} usage reports only the input total ({bill.input_tokens} "
                  "tokens), which includes text and other tokens besides images; pass "
                  "text_tokens= to compare totals")
    comparable = difference is not None

    estimated_out = int(count.output_image_tokens) if count.output_image_tokens or \
        str(count.api).startswith("images") else None
    billed_out = bill.image_output_tokens
    if billed_out is None and bill.format == "images":
        # ASSUMED: the Images API generates images only, so its output tokens are image
        # tokens (the usage of gpt-image-1 gives no output breakdown).
        billed_out = bill.output_tokens
    output_difference = None if estimated_out is None or billed_out is None \
        else billed_out - estimated_out
    return Reconciliation(
        model=count.model, api=str(count.api), usage_format=bill.format,
        estimated_image_tokens=estimated, billed_image_tokens=bill.image_input_tokens,
        difference=difference, exact=comparable and difference == 0, comparable=comparable,
        reason=reason, basis=basis, billed_input_tokens=bill.input_tokens,
        estimated_text_tokens=text_tokens, estimated_output_image_tokens=estimated_out,
        billed_output_image_tokens=billed_out, output_difference=output_difference,
        billed_output_tokens=bill.output_tokens, upper_bound=upper,
        output_upper_bound=bool(count.output_upper_bound), assumed_from=assumed)


class _CallableModule(_types.ModuleType):
    """This module, callable as its function: importing ``visiontokens.reconcile`` puts the module
    where ``visiontokens.reconcile`` is looked up, and both must work."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return reconcile(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
