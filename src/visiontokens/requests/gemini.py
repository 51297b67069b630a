"""Gemini's generateContent in count_request (``api="gemini.generate_content"``).

:func:`walk` finds every image of a ``models/{model}:generateContent`` (or
``:streamGenerateContent``) body (providers 2.4): parts of ``contents[].parts[]`` holding
``inlineData`` (base64 with a ``mimeType``) or ``fileData`` (a ``fileUri``), and the same inside
``functionResponse.parts``. Both spellings are read, as the API takes both: camelCase
(``inlineData``, ``mimeType``, ``fileUri``, ``mediaResolution``, ``generationConfig``: what
the SDK sends) and snake_case (``inline_data``, ``mime_type``, ``file_uri``,
``media_resolution``, ``generation_config``: the REST examples, and google-genai objects as
they dump). The detail of each image is its media resolution: the part's own
``mediaResolution.level`` wins over ``generationConfig.mediaResolution`` (providers 2.2).

The model is not in the body in Gemini's REST API (it is in the URL path): count_request takes
it as ``model=``, and the ASGI middleware reads it from the path (:func:`model_from_path`).

HEIC and HEIF images (formats Gemini takes, providers 2.3) cannot be sized by the header
reader, which reads PNG, JPEG, GIF and WebP: their size is unknown, with a note. Under a
media resolution with a fixed budget (Gemini 3, Gemini 2.5 at low and medium) the count needs
no size and stays exact; otherwise ``on_unknown`` decides (an error, or the upper bound).
"""

from __future__ import annotations

import re
from typing import Any

from .._errors import RequestTooLargeError, UnsupportedImageFormatError, VisionTokensError
from ._shapes import (
    MAX_IMAGES_WALKED,
    ImageRef,
    SkippedPart,
    Walked,
    BODY_STRINGS,
    as_dict,
    as_list,
    is_text,
    malformed,
    optional_str,
    text,
)

API = "gemini.generate_content"

#: DOCUMENTED (providers 2.3): the image media types Gemini takes.
FORMATS = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
#: Formats Gemini takes that the header reader cannot size (see the module's docstring).
UNSIZED = ("image/heic", "image/heif")
UNSIZED_NOTE = "a HEIC/HEIF image: its size is not read (the header reader sizes PNG, JPEG, GIF, WebP)"
MB = 2**20  # "MB" read as 2**20 bytes (ASSUMED: the reading that never refuses what the API takes)
#: DOCUMENTED (providers 2.3): the request's inline data totals under 20 MB.
MAX_INLINE = 20 * MB
#: DOCUMENTED (providers 2.3): up to 3,600 images per request (Gemini 2.5, 2.0, 1.5); the walk
#: stops with TooManyImagesError past it.
MAX_IMAGES = MAX_IMAGES_WALKED

NOT_IMAGE = "not an image ({}): not counted as one"


def _either(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def walk(body: dict[str, Any]) -> Walked:
    """The images of a generateContent body, in body order, and the parts not counted."""
    if "contents" not in body:
        raise malformed("", "a generateContent body needs 'contents'", typed=False)
    model = body.get("model")
    if model is not None:
        if not is_text(model):
            raise malformed("/model", "'model' must be a string", model)
        model = text(model)
    default = _global_resolution(body)
    walker = _Walker(default)
    contents = body["contents"]
    if is_text(contents):
        return Walked(API, model, [], [], {"inline_bytes": 0})
    contents = as_list(contents, "/contents", "'contents' must be a list of contents")
    for i, content in enumerate(contents):
        where = f"/contents/{i}"
        content = as_dict(content, where, "a content must be an object")
        if "parts" not in content and _is_part(content):
            walker.part(content, where)  # (the SDK's shorthand: a part for a content)
            continue
        parts = content.get("parts")
        if parts is None:
            continue
        parts = as_list(parts, f"{where}/parts", "'parts' must be a list of parts")
        for j, part in enumerate(parts):
            walker.part(as_dict(part, f"{where}/parts/{j}", "a part must be an object"),
                        f"{where}/parts/{j}")
    return Walked(API, model, walker.refs, walker.skipped, {"inline_bytes": walker.inline_bytes})


_PART_KEYS = ("inlineData", "inline_data", "fileData", "file_data", "text", "functionResponse",
              "function_response")


def _is_part(obj: dict[str, Any]) -> bool:
    return any(key in obj for key in _PART_KEYS)


def _global_resolution(body: dict[str, Any]) -> str | None:
    """generationConfig.mediaResolution (or generation_config.media_resolution, or the SDK's
    ``config``): a level name, or None."""
    for key in ("generationConfig", "generation_config", "config"):
        config = body.get(key)
        if config is None:
            continue
        config = as_dict(config, f"/{key}", f"'{key}' must be an object")
        for name in ("mediaResolution", "media_resolution"):
            level = config.get(name)
            if level is not None:
                if not is_text(level):
                    raise malformed(f"/{key}/{name}", f"'{name}' must be a string", level)
                return text(level)
    return None


class _Walker:
    __slots__ = ("default", "refs", "skipped", "inline_bytes")

    def __init__(self, default: str | None) -> None:
        self.default = default
        self.refs: list[ImageRef] = []
        self.skipped: list[SkippedPart] = []
        self.inline_bytes = 0  # base64 text of every inline blob (images or not)

    def part(self, part: dict[str, Any], where: str, nested: bool = False) -> None:
        inline = _either(part, "inlineData", "inline_data")
        if inline is not None:
            key = "inlineData" if "inlineData" in part else "inline_data"
            blob = as_dict(inline, f"{where}/{key}", f"'{key}' must be an object")
            mime = _mime(blob, f"{where}/{key}")
            data = blob.get("data")
            if not is_text(data):
                raise malformed(f"{where}/{key}/data", "'data' must be a base64 string", data)
            self.inline_bytes += len(data)
            if mime[:6].lower() == "image/":
                # (a third item, True: the URL-safe alphabet is read too, in place)
                self._add(where, "base64", (mime, base64_text(data), True), part)
            else:
                self.skipped.append(_skipped(where, key, NOT_IMAGE.format(mime[:40])))
            return
        file = _either(part, "fileData", "file_data")
        if file is not None:
            key = "fileData" if "fileData" in part else "file_data"
            data = as_dict(file, f"{where}/{key}", f"'{key}' must be an object")
            uri = data.get("fileUri", data.get("file_uri"))
            if not is_text(uri):
                raise malformed(f"{where}/{key}/fileUri", "'fileUri' must be a string", uri)
            mime = _mime(data, f"{where}/{key}", required=False)
            if mime is None or mime[:6].lower() == "image/":
                # (no mime type: the file's own decides; sized by resolve_file either way)
                self._add(where, "file_uri", text(uri), part, mime)
            else:
                self.skipped.append(_skipped(where, key, NOT_IMAGE.format(mime[:40])))
            return
        if nested:
            return
        response = _either(part, "functionResponse", "function_response")
        if response is not None:
            key = "functionResponse" if "functionResponse" in part else "function_response"
            response = as_dict(response, f"{where}/{key}", f"'{key}' must be an object")
            parts = response.get("parts")
            if parts is not None:
                parts = as_list(parts, f"{where}/{key}/parts", "'parts' must be a list of parts")
                for k, inner in enumerate(parts):
                    at = f"{where}/{key}/parts/{k}"
                    self.part(as_dict(inner, at, "a part must be an object"), at, True)

    def _add(self, where: str, kind: str, value: Any, part: dict[str, Any],
             mime: str | None = None) -> None:
        if len(self.refs) >= MAX_IMAGES:
            from .._errors import TooManyImagesError

            raise TooManyImagesError(
                f"the request holds more than {MAX_IMAGES} images, over the most Gemini takes")
        level = _part_resolution(part, where)
        options = None if mime is None else {"mime_type": mime}
        self.refs.append(ImageRef(where, kind, value, self.default if level is None else level,
                                  options))


def _mime(blob: dict[str, Any], where: str, required: bool = True) -> Any:
    mime = blob.get("mimeType", blob.get("mime_type"))
    if mime is None and not required:
        return None
    if not is_text(mime):
        raise malformed(f"{where}/mimeType", "'mimeType' must be a string", mime)
    return text(mime)


def _part_resolution(part: dict[str, Any], where: str) -> str | None:
    """A part's media resolution (providers 2.2: ``{"level": ...}``, Gemini 3); a bare level
    string is read too."""
    for name in ("mediaResolution", "media_resolution"):
        value = part.get(name)
        if value is None:
            continue
        if is_text(value):
            return text(value)
        value = as_dict(value, f"{where}/{name}", f"'{name}' must be an object with a 'level'")
        level = optional_str(value, "level", f"{where}/{name}")
        if level is not None:
            return level
    return None


def _skipped(pointer: str, kind: str, reason: str) -> SkippedPart:
    return SkippedPart(pointer, kind, reason)


def base64_text(data: Any) -> Any:
    """An inline blob's base64 as the header twin reads it: a str, or a scanned body's
    BodyString left where it lies. The google-genai SDK sends URL-safe base64 (``-`` and
    ``_``); ASSUMED (the provider notes do not say): the API reads either alphabet, mixed
    too. The header twin reads both in place (its ``url_safe``), so nothing is copied."""
    if type(data) in BODY_STRINGS or type(data) is str:
        return data
    return str(data)


# --- limits (providers 2.3) ----------------------------------------------------------------------

def _at(error: VisionTokensError, pointer: str) -> VisionTokensError:
    error.pointer = pointer
    return error


def check_limits(refs: list[ImageRef], sizes: list[tuple[Any, ...]], options: dict[str, Any],
                 request_bytes: int | None) -> tuple[list[tuple[Any, ...]], list[VisionTokensError]]:
    """The documented limits (providers 2.3) over a walked and sized request: (sizes, with an
    image of a format Gemini does not take turned into that image's error, and HEIC/HEIF
    images of unknown size; the whole-request violations)."""
    out: list[tuple[Any, ...]] = []
    for ref, size in zip(refs, sizes):
        pointer, kind, value = ref[0], ref[1], ref[2]
        mime = value[0] if kind == "base64" else (ref[4] or {}).get("mime_type")
        if mime is not None and mime.lower() not in FORMATS:
            size = (None, size[1], None, None, _at(UnsupportedImageFormatError(
                f"the media type {mime[:40]!r} is not one Gemini takes ({', '.join(FORMATS)})"),
                pointer))
        elif mime is not None and mime.lower() in UNSIZED and size[0] is None:
            size = (None, size[1], UNSIZED_NOTE, None, None)
        out.append(size)
    violations: list[VisionTokensError] = []
    total = request_bytes if request_bytes is not None else options.get("inline_bytes", 0)
    if total > MAX_INLINE:
        what = "request" if request_bytes is not None else "request's inline data"
        violations.append(RequestTooLargeError(
            f"the {what} is {total} bytes, over the {MAX_INLINE} bytes ({MAX_INLINE // MB} MB) "
            f"of inline data allowed"))
    return out, violations


# --- the model, from the request path ------------------------------------------------------------

#: ``/v1beta/models/{model}:generateContent`` (Gemini API) and
#: ``/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`` (Vertex),
#: streaming too (``:streamGenerateContent``).
PATH = re.compile(r"/models/([^/:]+):(?:stream)?[gG]enerateContent$")


def model_from_path(path: str) -> str | None:
    """The model a generateContent request path names, or None when the path is not one."""
    found = PATH.search(path)
    return found[1] if found else None
