"""The walker contract: what a request walker hands the one pricing loop.

A *walker* reads one API format (Chat Completions and Responses in ``_request_py``, the
Images API in ``images_api``; Anthropic Messages and Gemini generateContent to come). It
takes the loaded body (a dict: JSON already parsed, SDK objects dumped by
:func:`sdk_dict`) and returns a :class:`Walked`:

- ``api``: the API name ("chat", "responses", "images.edits" ...);
- ``model``: the model name the body gives (a str), or None when it gives none;
- ``images``: a list of :class:`ImageRef`, in body order;
- ``skipped``: parts seen and not counted (:class:`SkippedPart`: pointer, type, reason);
- ``options``: request-level options for pricing (a dict, e.g. ``{"input_fidelity": "high"}``
  for an Images API edit), empty when the format has none.

An :class:`ImageRef` is one image of the request:

- ``pointer``: the JSON pointer of the image part (``/messages/0/content/1``);
- ``kind``: where its bytes are, one of :data:`SOURCE_KINDS`:
  ``"data_url"`` (``data:image/...;base64,...``), ``"url"`` (http(s), or any other scheme:
  refused when sized), ``"base64"`` (raw base64 with a media type, as Anthropic and Gemini
  send it; ``value`` is ``(media_type, base64)``, or ``(media_type, base64, True)`` when the
  URL-safe alphabet is read too, as Gemini takes it), ``"file_id"`` (a Files API id, sized by
  the caller's ``resolve_file``), ``"file_uri"`` (a provider file URI, sized by
  ``resolve_file`` too), ``"upload"`` (a multipart file part, sized by its walker);
- ``value``: the URL, the id, or ``(media_type, base64)``;
- ``detail``: the detail level or media resolution the request gives, or None (the default);
- ``options``: per-image provider options (a dict, e.g. Anthropic's
  ``{"oversized_image": ...}`` or Gemini's ``{"media_resolution": ...}``), or None.

Sizes are read by one function (``_request_py._sizes`` / ``_sizes_async``): data URLs and raw
base64 in place through the header twin, URLs through the Fetcher, file ids and URIs through
``resolve_file``. The one pricing loop (``_request_py.price``, compiled with the walk: it is
the hot path of ``count_request``) turns refs and sizes into ``RequestImage`` records, with
the model already resolved (the calculator's ``Model``, never re-resolved by name): sizes
known are counted, unknown ones raise or count at the model's upper bound, invalid and
animated images and the payload limit are violations, raised or collected.

The helpers every walker uses live here too: :func:`malformed` (a typed error at a pointer),
:func:`sdk_dict` (an SDK object as the JSON the SDK sends), :func:`public_source` (how a
``RequestImage`` names its source).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .._errors import MalformedRequestError

#: Where an image's bytes are (ImageRef.kind).
SOURCE_KINDS = ("data_url", "url", "base64", "file_id", "file_uri", "upload")


class ImageRef(NamedTuple):
    """One image a walker found (see the module's docstring)."""

    pointer: str
    kind: str  # one of SOURCE_KINDS
    value: Any  # the URL, the id or URI, (media_type, base64), or None for an upload
    detail: str | None  # as the request gives it; None: the default
    options: dict[str, Any] | None = None  # per-image provider options


class SkippedPart(NamedTuple):
    """A part the walk saw and did not count, and why: no silent drop."""

    pointer: str  # JSON pointer to the part
    type: str  # its "type": "input_file", "file", or the other API's image part
    reason: str


class Walked(NamedTuple):
    """What a walker returns."""

    api: str
    model: str | None
    images: list[ImageRef]
    skipped: list[SkippedPart]
    options: dict[str, Any]


#: RequestImage.source for each kind: "data" (bytes in the body), "url", "file", "upload".
PUBLIC_SOURCE = {"data_url": "data", "base64": "data", "url": "url", "file_id": "file",
                 "file_uri": "file", "upload": "upload"}


def public_source(kind: str) -> str:
    return PUBLIC_SOURCE[kind]


def malformed(where: str, what: str, value: Any = None, *, typed: bool = True) -> MalformedRequestError:
    """A malformed body at ``where``: ``what``, with the type of the value found when
    ``typed`` (the message a walker gives for a value of the wrong type)."""
    if typed:
        what = f"{what}, got {type_name(value)}"
    return MalformedRequestError(what, where)


#: A scanned body's values by the names json.loads's would have: a message names the same
#: type whichever way the body came (a dict or its bytes).
_JSON_NAMES = {"ObjectNode": "dict", "ArrayNode": "list", "BodyString": "str"}


def type_name(value: Any) -> str:
    """The type name a message gives for ``value``: a scanned body's nodes as dict, list, str."""
    cls = type(value)
    name: str = cls.__name__
    if name in _JSON_NAMES and cls.__module__.startswith("visiontokens.requests._scan"):
        return _JSON_NAMES[name]
    return name


def unreadable(where: str, value: Any, error: BaseException) -> MalformedRequestError:
    return MalformedRequestError(
        f"the {type(value).__name__} object cannot be read: {type(error).__name__}: {error}",
        where)


def sdk_dict(value: Any, where: str) -> dict[str, Any] | None:
    """An SDK object or other mapping as the JSON object the SDK sends for it; None when
    ``value`` is neither. The SDK dumps pydantic models with exclude_unset, in JSON mode,
    leaving out ``__api_exclude__`` (openai/_utils/_transform.py)."""
    cls = type(value)
    if hasattr(cls, "model_dump") and hasattr(cls, "model_fields"):  # pydantic v2
        try:
            dumped = value.model_dump(mode="json", exclude_unset=True,
                                      exclude=getattr(value, "__api_exclude__", None))
        except Exception as error:  # whatever the model raises is a bad body, told as ours
            raise unreadable(where, value, error) from None
        return dumped if isinstance(dumped, dict) else None
    if isinstance(value, Mapping):
        try:
            return dict(value)
        except Exception as error:  # a broken mapping is a bad body, told as ours
            raise unreadable(where, value, error) from None
    return None
