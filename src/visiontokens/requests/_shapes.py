"""Reading JSON shapes for the Anthropic and Gemini walkers: objects and lists as the SDKs
give them (dicts, pydantic models, any iterable), each wrong type a MalformedRequestError at
its JSON pointer, never a bare TypeError or KeyError.

The walkers return what the walker contract of ``requests/pricing.py`` asks for: ImageRef
records (pointer, kind, value, detail, options), SkippedPart records (pointer, type, reason)
and a Walked record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any, TypeGuard, cast

from .._errors import MalformedRequestError
from .._extensions import lower
from .pricing import ImageRef, SkippedPart, Walked, malformed, sdk_dict

__all__ = ["ImageRef", "SkippedPart", "Walked", "malformed", "as_dict", "as_list", "optional_str",
           "required_str", "is_text", "text", "MAX_ITEMS", "MAX_IMAGES_WALKED"]

# A bytes body comes to a walker read in place by the request scan (issue 20): its objects as
# ObjectNode (read through get and ``in``, as a dict), its arrays as ArrayNode (iterated once),
# its long unescaped strings as BodyString (a window on the body: a base64 image stays where
# it lies). Both twins of the scan, as both twins of the walk share these walkers.
_SCANS = (lower("scan", "python"), lower("scan", "cython"))
OBJECT_NODES = tuple({scan.ObjectNode: None for scan in _SCANS})
ARRAY_NODES = tuple({scan.ArrayNode: None for scan in _SCANS})
BODY_STRINGS = tuple({scan.BodyString: None for scan in _SCANS})
#: What a gateway reads a body into (either twin's): counted as the bytes it holds.
BODY_BUFFERS = tuple({scan.BodyBuffer: None for scan in _SCANS})

#: The most items read from one list of a body (a generator given for a list is read once).
#: Our own bound (as _request_py's MAX_ITERATOR_ITEMS): no API body holds more.
MAX_ITEMS = 1_000_000
#: The most images one walk collects before it stops with TooManyImagesError: a bound on the
#: work (fetches, header reads) of one request whatever its shape. Above every documented
#: per-request limit of these APIs (Claude: 600, providers 1.3; Gemini: 3,600, providers 2.3).
MAX_IMAGES_WALKED = 3600


def as_dict(value: Any, where: str, what: str) -> dict[str, Any]:
    """``value`` as a JSON object: a dict, or an SDK object / mapping as the SDK sends it."""
    if type(value) is dict or type(value) in OBJECT_NODES:
        return cast("dict[str, Any]", value)  # (a node reads as a dict: get and ``in``)
    converted = sdk_dict(value, where)
    if converted is None:
        raise malformed(where, what, value)
    return converted


def as_list(value: Any, where: str, what: str) -> list[Any]:
    """``value`` as a JSON list: a list, or any other iterable (a tuple, a generator) that is
    not a string, bytes or a mapping, read up to MAX_ITEMS items."""
    if type(value) is list or type(value) in ARRAY_NODES:
        return cast("list[Any]", value)  # (a node is iterated where it lies, never listed)
    if (isinstance(value, (str, bytes, bytearray, memoryview, Mapping))
            or type(value) in BODY_STRINGS or type(value) in OBJECT_NODES
            or hasattr(type(value), "model_fields")):
        raise malformed(where, what, value)
    try:
        iterator = iter(value)
    except TypeError:
        raise malformed(where, what, value) from None
    except Exception as error:  # whatever a broken iterable raises is a bad body, told as ours
        raise MalformedRequestError(
            f"the {type(value).__name__} object cannot be read: {type(error).__name__}: {error}",
            where) from None
    items: list[Any] = []
    try:
        for item in iterator:
            if len(items) == MAX_ITEMS:
                raise MalformedRequestError(f"an iterable of more than {MAX_ITEMS} items", where)
            items.append(item)
    except MalformedRequestError:
        raise
    except Exception as error:
        raise MalformedRequestError(
            f"the {type(value).__name__} object cannot be read: {type(error).__name__}: {error}",
            where) from None
    return items


def is_text(value: Any) -> TypeGuard[Sized]:
    """Whether ``value`` is a JSON string: a str, or a BodyString of a scanned body."""
    return isinstance(value, str) or type(value) in BODY_STRINGS


def text(value: Any) -> str:
    """A JSON string (see is_text) as a plain str: a copy of a BodyString, for the short
    fields a walker keeps (names, types, URLs), never for the image data."""
    return value if type(value) is str else str(value)


def optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and type(value) is not str:
        if is_text(value):
            return text(value)
        raise malformed(f"{where}/{key}", f"'{key}' must be a string", value)
    return value


def required_str(obj: dict[str, Any], key: str, where: str, what: str) -> str:
    value = obj.get(key)
    if type(value) is not str:
        if is_text(value):
            return text(value)
        raise malformed(f"{where}/{key}", what, value)
    return value


def block_type(block: dict[str, Any], where: str) -> str | None:
    """A block's "type": a str, or None when absent; anything else (a list, an object) is
    malformed (it is no type, nor a dict key)."""
    kind = block.get("type")
    if kind is None or type(kind) is str:
        return kind
    if is_text(kind):
        return text(kind)
    raise malformed(f"{where}/type", "'type' must be a string", kind)
