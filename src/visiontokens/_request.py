"""count_request: the image tokens of a Chat Completions or Responses request, image by image.

The walk (spec 6) only follows the paths where images live, so its work is bounded by the
body's size whatever its shape; every value it reads is type-checked and a wrong one is a
MalformedRequestError naming its JSON pointer. Sizes come from the image headers (spec 5),
from a fetch when the caller opts in, or from a file resolver; the calculator does the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Union

from . import _registry
from ._backend import header as _header
from ._backend import impl as _impl
from ._bounds import max_image_tokens
from ._errors import (
    AnimatedImageError,
    FetchError,
    ImageSizeUnknownError,
    InvalidArgumentError,
    MalformedRequestError,
    PayloadTooLargeError,
    TooManyImagesError,
    VisionTokensError,
)
from ._imageformat import ImageInfo

if TYPE_CHECKING:  # httpx loads only when a caller fetches: the import stays light
    from ._fetch import Fetcher

MAX_IMAGES = 1500  # spec 5: images per request
# spec 5: 512 MB of payload per request, read as 512 * 2**20 bytes (of the two readings, the
# one that never refuses what the API takes). The bytes counted are the images' own.
MAX_PAYLOAD = 512 * 2**20

FileResolution = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", tuple, ImageInfo, None]
FileResolver = Callable[[str], Union[FileResolution, Awaitable[FileResolution]]]


@dataclass(frozen=True, slots=True)
class RequestImage:
    """One image of a request, and what it costs."""

    pointer: str  # JSON pointer to the image part, e.g. "/messages/0/content/1"
    source: str  # "data", "url" or "file"
    url: str | None  # the http(s) URL; None for data URLs (megabytes) and files
    file_id: str | None
    detail: str | None  # as given; None when the request leaves it out (auto)
    resolved_detail: str | None  # the level it is billed at: "low", "high" or "original"
    width: int | None
    height: int | None
    format: str | None
    tokens: int | None  # None only for an image with an error (collected violations)
    upper_bound: bool = False  # tokens is the most this image could cost: size unknown
    note: str | None = None  # why the size is unknown, when it is
    error: VisionTokensError | None = None  # a collected violation


@dataclass(frozen=True, slots=True)
class RequestCount:
    """The image tokens of one request."""

    model: str | None  # canonical id (as given when the request holds no image)
    api: str  # "chat" or "responses"
    image_tokens: int  # total over the images that could be counted
    images: tuple[RequestImage, ...]
    violations: tuple[VisionTokensError, ...] = ()  # with on_violation="collect"

    @property
    def upper_bound(self) -> bool:
        """True when some image counts at its most (its size was not known)."""
        return any(image.upper_bound for image in self.images)


# --- the walk (spec 6) ------------------------------------------------------------------------

@dataclass(slots=True)
class _Ref:
    pointer: str
    url: str | None
    file_id: str | None
    detail: str | None


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedRequestError(f"{where or '/'}: {what}, got {type(value).__name__}", where)
    return value


def _optional_str(part: dict, key: str, where: str) -> str | None:
    value = part.get(key)
    if value is not None:
        _expect(value, str, f"{where}/{key}", f"'{key}' must be a string")
    return value


def _load(body: Any) -> dict:
    if isinstance(body, (str, bytes, bytearray)):
        import json

        try:
            body = json.loads(body)
        except RecursionError:
            raise MalformedRequestError("the request body nests too deeply") from None
        except ValueError as error:
            raise MalformedRequestError(f"the request body is not JSON: {error}") from None
    return _expect(body, dict, "", "the request body must be a JSON object")


def _walk(body: dict) -> tuple[str, list[_Ref]]:
    if ("messages" in body) == ("input" in body):
        raise MalformedRequestError(
            "not a Chat Completions ('messages') or Responses ('input') request body")
    refs: list[_Ref] = []
    if "messages" in body:
        messages = _expect(body["messages"], list, "/messages", "'messages' must be a list")
        for i, message in enumerate(messages):
            message = _expect(message, dict, _pointer("messages", i), "a message must be an object")
            _content_parts(message.get("content"), _pointer("messages", i, "content"), refs, "chat")
        return "chat", refs
    items = body["input"]
    if isinstance(items, str):
        return "responses", refs
    _expect(items, list, "/input", "'input' must be a string or a list")
    for i, item in enumerate(items):
        where = _pointer("input", i)
        item = _expect(item, dict, where, "an input item must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            _content_parts(item.get("content"), where + "/content", refs, "responses")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            if isinstance(output, list):  # a string output holds no image
                _content_parts(output, where + "/output", refs, "responses")
        elif kind == "computer_call_output":
            shot = _expect(item.get("output"), dict, where + "/output",
                           "a computer_call_output's 'output' must be an object")
            _image_part(shot, where + "/output", refs, "responses")
    return "responses", refs


def _content_parts(content: Any, where: str, refs: list[_Ref], api: str) -> None:
    if content is None or isinstance(content, str):
        return
    _expect(content, list, where, "'content' must be a string or a list of parts")
    for j, part in enumerate(content):
        part = _expect(part, dict, f"{where}/{j}", "a content part must be an object")
        kind = part.get("type")
        if (api == "chat" and kind == "image_url") or (api == "responses" and kind == "input_image"):
            _image_part(part, f"{where}/{j}", refs, api)
        if len(refs) > MAX_IMAGES:
            raise TooManyImagesError(f"the request holds more than {MAX_IMAGES} images (spec 5)")


def _image_part(part: dict, where: str, refs: list[_Ref], api: str) -> None:
    if api == "chat":
        image = part.get("image_url")
        if isinstance(image, str):  # older clients: "image_url": "https://..."
            refs.append(_Ref(where, image, None, None))
            return
        image = _expect(image, dict, where + "/image_url",
                        "'image_url' must be an object with a 'url', or a string")
        url = _expect(image.get("url"), str, where + "/image_url/url", "'url' must be a string")
        refs.append(_Ref(where, url, None, _optional_str(image, "detail", where + "/image_url")))
        return
    url = _optional_str(part, "image_url", where)
    file_id = _optional_str(part, "file_id", where)
    if url is None and file_id is None:
        raise MalformedRequestError(f"{where}: an image needs an 'image_url' or a 'file_id'", where)
    refs.append(_Ref(where, url, file_id, _optional_str(part, "detail", where)))


# --- sizes ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Size:
    info: ImageInfo | None = None
    payload: int = 0  # bytes this image adds to the request's payload
    note: str | None = None  # why info is None
    cause: BaseException | None = None
    error: VisionTokensError | None = None  # the image itself is invalid


def _source(ref: _Ref) -> str:
    if ref.url is None:
        return "file"
    return "data" if ref.url.startswith("data:") else "url"


def _data_size(ref: _Ref) -> _Size:
    try:
        info = _header.image_info(ref.url)
    except VisionTokensError as error:
        return _Size(error=error)
    payload = len(ref.url) - ref.url.find(",") - 1
    return _Size(info, payload * 3 // 4)


def _url_note(ref: _Ref, fetcher: Fetcher | None) -> _Size | None:
    """The size when it needs no fetch: a data URL, or a URL we may not or will not fetch."""
    kind = _source(ref)
    if kind == "data":
        return _data_size(ref)
    if kind == "url":
        scheme = ref.url.split(":", 1)[0].lower()  # type: ignore[union-attr]
        if scheme not in ("http", "https"):
            return _Size(error=MalformedRequestError(
                f"{ref.pointer}: image URLs are http(s) or data:image/... URLs, not {scheme!r}",
                ref.pointer))
        if fetcher is None:
            return _Size(note="not fetched (fetching is off: pass fetch=True)")
    return None


def _resolved(ref: _Ref, value: Any) -> _Size:
    if value is None:
        return _Size(note=f"resolve_file gave no size for {ref.file_id!r}")
    if isinstance(value, ImageInfo):
        return _Size(value)
    if isinstance(value, tuple) and len(value) == 2:
        try:
            width, height = (_impl_check(value[0]), _impl_check(value[1]))
        except VisionTokensError as error:
            return _Size(error=error)
        return _Size(ImageInfo(width, height, "", False))
    try:
        info = _header.image_info(value)
    except (VisionTokensError, OSError) as error:
        if isinstance(error, VisionTokensError):
            return _Size(error=error)
        return _Size(note=f"resolve_file's path for {ref.file_id!r} is unreadable: {error}",
                     cause=error)
    payload = len(value) if isinstance(value, (bytes, bytearray, memoryview)) else 0
    return _Size(info, payload)


def _impl_check(value: Any) -> int:
    from ._checks import checked_dimension

    return checked_dimension("resolved size", value)


def _sizes(refs: list[_Ref], fetcher: Fetcher | None, resolve_file: FileResolver | None) -> list[_Size]:
    sizes = []
    for ref in refs:
        size = _url_note(ref, fetcher)
        if size is None and ref.url is not None:
            try:
                info, total = fetcher.fetch(ref.url)  # type: ignore[union-attr]
                size = _Size(info, total or 0)
            except FetchError as error:
                size = _Size(note=f"fetch failed: {error}", cause=error)
            except VisionTokensError as error:
                size = _Size(error=error)
        elif size is None:
            if resolve_file is None:
                size = _Size(note="a Files API id, and no resolve_file")
            else:
                value = resolve_file(ref.file_id)  # type: ignore[arg-type]
                if _awaitable(value):
                    close = getattr(value, "close", None)
                    if close is not None:
                        close()
                    raise InvalidArgumentError(
                        "resolve_file is async: use count_request_async")
                size = _resolved(ref, value)
        sizes.append(size)
    return sizes


async def _sizes_async(refs: list[_Ref], fetcher: Fetcher | None,
                       resolve_file: FileResolver | None) -> list[_Size]:
    import asyncio

    async def one(ref: _Ref) -> _Size:
        size = _url_note(ref, fetcher)
        if size is not None:
            return size
        if ref.url is not None:
            try:
                info, total = await fetcher.fetch_async(ref.url)  # type: ignore[union-attr]
                return _Size(info, total or 0)
            except FetchError as error:
                return _Size(note=f"fetch failed: {error}", cause=error)
            except VisionTokensError as error:
                return _Size(error=error)
        if resolve_file is None:
            return _Size(note="a Files API id, and no resolve_file")
        value = resolve_file(ref.file_id)  # type: ignore[arg-type]
        if _awaitable(value):
            value = await value
        return _resolved(ref, value)

    return list(await asyncio.gather(*(one(ref) for ref in refs)))  # fetched concurrently


def _awaitable(value: Any) -> bool:
    return hasattr(value, "__await__")


# --- putting it together -------------------------------------------------------------------------

def _options(fetch: Any, on_unknown: str, on_violation: str) -> Fetcher | None:
    if on_unknown not in ("error", "upper_bound"):
        raise InvalidArgumentError(f"on_unknown must be 'error' or 'upper_bound', got {on_unknown!r}")
    if on_violation not in ("raise", "collect"):
        raise InvalidArgumentError(f"on_violation must be 'raise' or 'collect', got {on_violation!r}")
    if fetch is None or fetch is False:
        return None
    from ._fetch import Fetcher

    if fetch is True:
        return _default_fetcher()
    if isinstance(fetch, Fetcher):
        return fetch
    raise InvalidArgumentError(f"fetch must be None, True or a Fetcher, got {fetch!r}")


_DEFAULT_FETCHER: Fetcher | None = None


def _default_fetcher() -> Fetcher:
    from ._fetch import Fetcher

    global _DEFAULT_FETCHER
    if _DEFAULT_FETCHER is None:
        _DEFAULT_FETCHER = Fetcher()
    return _DEFAULT_FETCHER


def _count(body: dict, api: str, refs: list[_Ref], sizes: list[_Size], ruleset: str | None,
           on_unknown: str, on_violation: str) -> RequestCount:
    model_name = body.get("model")
    if not refs:
        return RequestCount(model_name if isinstance(model_name, str) else None, api, 0, ())
    model_name = _expect(model_name, str, "/model", "'model' must be a string")
    model = _registry.resolve(model_name, ruleset)
    images, violations, total, payload = [], [], 0, 0
    for ref, size in zip(refs, sizes):
        common = dict(pointer=ref.pointer, source=_source(ref),
                      url=ref.url if _source(ref) == "url" else None, file_id=ref.file_id,
                      detail=ref.detail)
        detail = "auto" if ref.detail is None else ref.detail
        error = size.error
        entry = None
        payload += size.payload
        try:
            if error is None and size.info is None:
                if on_unknown == "error":
                    unknown = ImageSizeUnknownError(
                        f"{ref.pointer}: the image's size is unknown: {size.note}", ref.pointer)
                    raise unknown from size.cause
                bound = max_image_tokens(model.id, detail, ruleset=model.ruleset)
                entry = RequestImage(**common, resolved_detail=model.detail_params(detail).level,
                                     width=None, height=None, format=None, tokens=bound,
                                     upper_bound=True, note=size.note)
            elif error is None:
                info = size.info
                if info.animated and info.format == "gif":  # type: ignore[union-attr]
                    raise AnimatedImageError(
                        f"{ref.pointer}: an animated GIF; the API takes non-animated GIF only")
                cost = _impl.explain_image_tokens(info.width, info.height, model.id, detail,  # type: ignore[union-attr]
                                                  ruleset=model.ruleset)
                entry = RequestImage(**common, resolved_detail=cost.detail, width=info.width,  # type: ignore[union-attr]
                                     height=info.height, format=info.format or None,  # type: ignore[union-attr]
                                     tokens=cost.tokens)
        except ImageSizeUnknownError:
            raise
        except VisionTokensError as failure:
            error = failure
        if error is not None:
            if not str(error).startswith(ref.pointer):
                error = _at(error, ref.pointer)
            if on_violation == "raise":
                raise error
            violations.append(error)
            entry = RequestImage(**common, resolved_detail=None, width=None, height=None,
                                 format=None, tokens=None, error=error)
        images.append(entry)
        total += entry.tokens or 0  # type: ignore[union-attr]
    if payload > MAX_PAYLOAD:
        too_large = PayloadTooLargeError(
            f"the request's images hold {payload} bytes, over the {MAX_PAYLOAD} allowed (spec 5)")
        if on_violation == "raise":
            raise too_large
        violations.append(too_large)
    return RequestCount(model.id, api, total, tuple(images), tuple(violations))  # type: ignore[arg-type]


def _at(error: VisionTokensError, pointer: str) -> VisionTokensError:
    """The same error, its message prefixed with the image's pointer."""
    clone = error.__class__.__new__(error.__class__)
    clone.__dict__.update(error.__dict__)
    clone.args = (f"{pointer}: {error.args[0] if error.args else error}",) + tuple(error.args[1:])
    clone.__cause__ = error.__cause__
    return clone


def count_request(body: Any, *, ruleset: str | None = None, fetch: Any = None,
                  resolve_file: FileResolver | None = None, on_unknown: str = "error",
                  on_violation: str = "raise") -> RequestCount:
    """The image tokens of a Chat Completions or Responses request body (a dict, or its JSON
    text or bytes), image by image. See the README for every option."""
    fetcher = _options(fetch, on_unknown, on_violation)
    body = _load(body)
    api, refs = _walk(body)
    return _count(body, api, refs, _sizes(refs, fetcher, resolve_file), ruleset, on_unknown,
                  on_violation)


async def count_request_async(body: Any, *, ruleset: str | None = None, fetch: Any = None,
                              resolve_file: FileResolver | None = None, on_unknown: str = "error",
                              on_violation: str = "raise") -> RequestCount:
    """count_request for async code: remote images are fetched concurrently, and
    resolve_file may be a coroutine function."""
    fetcher = _options(fetch, on_unknown, on_violation)
    body = _load(body)
    api, refs = _walk(body)
    sizes = await _sizes_async(refs, fetcher, resolve_file)
    return _count(body, api, refs, sizes, ruleset, on_unknown, on_violation)
