# cython: freethreading_compatible=True
"""count_request: the image tokens of a Chat Completions or Responses request, image by image.

The walk (spec 6) only follows the paths where images live, so its work is bounded by the
body's size whatever its shape; every value it reads is type-checked and a wrong one is a
MalformedRequestError naming its JSON pointer. Sizes come from the image headers (spec 5),
from a fetch when the caller opts in, or from a file resolver; the calculator does the rest.

Plain Python, which setup.py also compiles with Cython as is, as the module ``_request_c``:
a gateway runs this on every request, and compiled it takes half the time; one source keeps
the twins in step. Records are plain tuples and NamedTuples built
directly, since this machine spends 2-3 us building a frozen dataclass.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any, Awaitable, Callable, Literal, NamedTuple, TypeGuard, Union

from . import _images_api, _registry, _spec
from ._extensions import twin
from ._upper_bound import max_image_tokens
from ._errors import (
    AnimatedImageError,
    FetchError,
    ImageSizeUnknownError,
    InvalidArgumentError,
    MalformedRequestError,
    PayloadTooLargeError,
    TooManyImagesError,
    VisionTokensError,
    undecided_animation_error,
    undecided_animation_option,
)
from ._image_input import DEFAULT_MAX_READ, ImageInfo, animation_error, decoded_size, refused_animation
from ._results import ImageCost

if TYPE_CHECKING:  # httpx loads only when a caller fetches: the import stays light
    from ._fetch import Fetcher

try:  # setup.py also compiles this file as is, as the module _request_c
    import cython

    IMPLEMENTATION = "cython" if cython.compiled else "python"
except ImportError:  # a pure install need not have Cython
    IMPLEMENTATION = "python"

_header = twin("header")  # the image-header parser
_tokens = twin("tokens")  # the calculator

# spec 5: the request limits. The payload counted is the images' own bytes.
MAX_IMAGES, MAX_PAYLOAD = _spec.MAX_IMAGES, _spec.MAX_PAYLOAD

#: undecided_animation=: a GIF whose data ends before a second image or its trailer is counted
#: as the still image it is so far ("still", the default), or refused ("refuse"). (Literal, not
#: str: the compiled twin would turn a wrong type into a bare TypeError before our check.)
UndecidedAnimation = Literal["still", "refuse"]

FileResolution = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]",
                       tuple[int, int], ImageInfo,
                       None]
FileResolver = Callable[[str], Union[FileResolution, Awaitable[FileResolution]]]
#: What image_info and count_image read: bytes-like data or a "data:" URL in memory, a path
#: (any other str), or a binary file.
ImageSource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes]]


class RequestImage(NamedTuple):
    """One image of a request, and what it costs."""

    pointer: str  # JSON pointer to the image part, e.g. "/messages/0/content/1"
    source: str  # "data", "url" or "file"
    url: str | None  # the http(s) URL; None for data URLs (megabytes) and files
    file_id: str | None
    detail: str | None  # as given; None when the request leaves it out (auto)
    resolved_detail: str | None  # the level it is billed at: "low", "high" or "original"
    width: int | None
    height: int | None
    format: str | None  # None when a resolver gave only a size
    tokens: int | None  # None only for an image with an error (collected violations)
    upper_bound: bool = False  # tokens is the most this image could cost: size unknown
    note: str | None = None  # why the size is unknown, when it is
    error: VisionTokensError | None = None  # a collected violation
    rule: str | None = None  # input images to image models: the rule that priced it (spec 6.2)


class RequestCount(NamedTuple):
    """The image tokens of one request."""

    model: str | None  # canonical id (as given when the request holds no image)
    api: str  # "chat" or "responses"
    image_tokens: int  # total over the images that could be counted
    images: tuple[RequestImage, ...]
    violations: tuple[VisionTokensError, ...] = ()  # with on_violation="collect"
    #: What the request will generate, in output tokens (spec 6.2): an Images API request's
    #: images, or the most one call of a Responses image_generation tool can make.
    output_image_tokens: int = 0
    output_upper_bound: bool = False  # output_image_tokens is a bound, not an exact figure

    @property
    def upper_bound(self) -> bool:
        """True when some image counts at its most (its size was not known)."""
        return any(image.upper_bound for image in self.images)


# Built on every request a gateway sees, so built directly: a NamedTuple's generated
# __new__ is a Python function with keyword handling, several times the cost of the tuple.
_new = tuple.__new__


def _image(pointer: str, source: str, url: str | None, file_id: str | None, detail: str | None,
           resolved: str | None, width: int | None, height: int | None, fmt: str | None,
           tokens: int | None, upper_bound: bool = False, note: str | None = None,
           error: VisionTokensError | None = None) -> RequestImage:
    return _new(RequestImage, (pointer, source, url, file_id, detail, resolved, width, height,
                               fmt, tokens, upper_bound, note, error, None))


# --- the walk (spec 6) ------------------------------------------------------------------------

# An image found by the walk: (pointer, url, file_id, detail), a plain tuple for speed.
_Ref = tuple[str, Union[str, None], Union[str, None], Union[str, None]]


def _source(url: str | None) -> str:
    if url is None:
        return "file"
    return "data" if url.startswith("data:") else "url"


# The walk runs on every request a gateway sees: checks are inline and a JSON pointer is only
# built for an image or an error. Every key followed is a fixed name, so pointers need no
# escaping beyond what the indices give.

def _malformed(where: str, what: str, value: Any) -> MalformedRequestError:
    return MalformedRequestError(f"{where or '/'}: {what}, got {type(value).__name__}", where)


def _optional_str(part: dict[str, Any], key: str, where: str) -> str | None:
    value = part.get(key)
    if value is not None and not isinstance(value, str):
        raise _malformed(f"{where}/{key}", f"'{key}' must be a string", value)
    return value


def _load(body: Any) -> dict[str, Any]:
    if isinstance(body, (str, bytes, bytearray)):
        import json

        try:
            body = json.loads(body)
        except RecursionError:
            raise MalformedRequestError("the request body nests too deeply") from None
        except ValueError as error:
            raise MalformedRequestError(f"the request body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise _malformed("", "the request body must be a JSON object", body)
    return body


def _walk(body: dict[str, Any]) -> tuple[str, list[_Ref]]:
    if ("messages" in body) == ("input" in body):
        raise MalformedRequestError(
            "not a Chat Completions ('messages') or Responses ('input') request body")
    refs: list[_Ref] = []
    if "messages" in body:
        messages = body["messages"]
        if not isinstance(messages, list):
            raise _malformed("/messages", "'messages' must be a list", messages)
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise _malformed(f"/messages/{i}", "a message must be an object", message)
            content = message.get("content")
            if content is not None and not isinstance(content, str):
                _content_parts(content, f"/messages/{i}/content", refs, "image_url")
        return "chat", refs
    items = body["input"]
    if isinstance(items, str):
        return "responses", refs
    if not isinstance(items, list):
        raise _malformed("/input", "'input' must be a string or a list", items)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _malformed(f"/input/{i}", "an input item must be an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            content = item.get("content")
            if content is not None and not isinstance(content, str):
                _content_parts(content, f"/input/{i}/content", refs, "input_image")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            if isinstance(output, list):  # a string output holds no image
                _content_parts(output, f"/input/{i}/output", refs, "input_image")
        elif kind == "computer_call_output":
            shot = item.get("output")
            if not isinstance(shot, dict):
                raise _malformed(f"/input/{i}/output",
                                 "a computer_call_output's 'output' must be an object", shot)
            _add(refs, _responses_image(shot, f"/input/{i}/output"))
    return "responses", refs


def _add(refs: list[_Ref], ref: _Ref) -> None:
    """Every image the walk finds goes through here, wherever it sits, so the limit counts
    them all; the walk ends before anything is fetched, so no request fetches more."""
    if len(refs) >= MAX_IMAGES:
        raise TooManyImagesError(f"the request holds more than {MAX_IMAGES} images (spec 5)")
    refs.append(ref)


def _content_parts(content: Any, where: str, refs: list[_Ref], image_type: str) -> None:
    if not isinstance(content, list):
        raise _malformed(where, "'content' must be a string or a list of parts", content)
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise _malformed(f"{where}/{j}", "a content part must be an object", part)
        if part.get("type") == image_type:
            _add(refs, _chat_image(part, f"{where}/{j}") if image_type == "image_url"
                 else _responses_image(part, f"{where}/{j}"))


def _chat_image(part: dict[str, Any], where: str) -> _Ref:
    image = part.get("image_url")
    if isinstance(image, str):  # older clients: "image_url": "https://..."
        return (where, image, None, None)
    if not isinstance(image, dict):
        raise _malformed(f"{where}/image_url",
                         "'image_url' must be an object with a 'url', or a string", image)
    url = image.get("url")
    if not isinstance(url, str):
        raise _malformed(f"{where}/image_url/url", "'url' must be a string", url)
    return (where, url, None, _optional_str(image, "detail", f"{where}/image_url"))


def _responses_image(part: dict[str, Any], where: str) -> _Ref:
    url = _optional_str(part, "image_url", where)
    file_id = _optional_str(part, "file_id", where)
    if url is None and file_id is None:
        raise MalformedRequestError(f"{where}: an image needs an 'image_url' or a 'file_id'", where)
    return (where, url, file_id, _optional_str(part, "detail", where))


# --- sizes ---------------------------------------------------------------------------------------
# A size: (info, payload bytes, note, cause, error), a plain tuple. info is the ImageInfo, or
# None when the size is unknown (note says why, cause holds the fetch error) or the image is
# invalid (error).

def _known(info: ImageInfo, payload: int = 0) -> tuple[Any, ...]:
    return (info, payload, None, None, None)


def _unknown(note: str, cause: BaseException | None = None) -> tuple[Any, ...]:
    return (None, 0, note, cause, None)


def _invalid(error: VisionTokensError) -> tuple[Any, ...]:
    return (None, 0, None, None, error)


def _without_io(ref: tuple[Any, ...], fetcher: Fetcher | None) -> tuple[Any, ...] | None:
    """The size when it needs no fetch and no resolver: a data URL, or a URL that we may not
    or will not fetch; None when it does."""
    pointer, url, file_id, _ = ref
    if url is None:
        return None
    if url.startswith("data:"):
        try:
            info = _header.image_info(url)
        except VisionTokensError as error:
            return _invalid(error)
        return _known(info, decoded_size(len(url) - url.find(",") - 1, url[-2:]))
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        return _invalid(MalformedRequestError(
            f"{pointer}: image URLs are http(s) or data:image/... URLs, not {scheme!r}", pointer))
    if fetcher is None:
        return _unknown("not fetched (fetching is off)")
    return None


def _resolved(file_id: str, value: Any) -> tuple[Any, ...]:
    if value is None:
        return _unknown(f"resolve_file gave no size for {file_id!r}")
    if isinstance(value, ImageInfo):
        return _known(value)
    if isinstance(value, tuple) and len(value) == 2:
        from ._arguments import checked_dimension

        try:
            width, height = (checked_dimension("width", value[0]),
                             checked_dimension("height", value[1]))
        except VisionTokensError as error:
            return _invalid(error)
        return _known(ImageInfo(width, height, "", False))
    try:
        info = _header.image_info(value)
    except VisionTokensError as error:
        return _invalid(error)
    except OSError as error:
        return _unknown(f"resolve_file's path for {file_id!r} is unreadable: {error}", error)
    return _known(info, len(value) if isinstance(value, (bytes, bytearray, memoryview)) else 0)


def _sizes(refs: list[tuple[Any, ...]], fetcher: Fetcher | None,
           resolve_file: FileResolver | None) -> list[tuple[Any, ...]]:
    sizes = []
    for ref in refs:
        size = _without_io(ref, fetcher)
        if size is None and ref[1] is not None:
            try:
                info, total = fetcher.fetch(ref[1])  # type: ignore[union-attr]
                size = _known(info, total or 0)
            except FetchError as error:
                size = _unknown(f"fetch failed: {error}", error)
            except VisionTokensError as error:
                size = _invalid(error)
        elif size is None:
            if resolve_file is None:
                size = _unknown("a Files API id, and no resolve_file")
            else:
                value = resolve_file(ref[2])
                if _awaitable(value):
                    close = getattr(value, "close", None)
                    if close is not None:
                        close()
                    raise InvalidArgumentError("resolve_file is async: use count_request_async")
                size = _resolved(ref[2], value)
        sizes.append(size)
    return sizes


async def _sizes_async(refs: list[tuple[Any, ...]], fetcher: Fetcher | None,
                       resolve_file: FileResolver | None, max_concurrency: int) -> list[tuple[Any, ...]]:
    import asyncio

    # At most max_concurrency fetches and resolve_file calls of this request at once: 1,500
    # URLs fetched together exhausted the process's file descriptors. (The Fetcher has a
    # limit of its own, over every request that shares it.)
    slots = asyncio.Semaphore(max_concurrency)

    async def one(ref: tuple[Any, ...]) -> tuple[Any, ...]:
        size = _without_io(ref, fetcher)
        if size is not None:
            return size
        async with slots:
            return await _io(ref)

    async def _io(ref: tuple[Any, ...]) -> tuple[Any, ...]:
        if ref[1] is not None:
            try:
                info, total = await fetcher.fetch_async(ref[1])  # type: ignore[union-attr]
                return _known(info, total or 0)
            except FetchError as error:
                return _unknown(f"fetch failed: {error}", error)
            except VisionTokensError as error:
                return _invalid(error)
        if resolve_file is None:
            return _unknown("a Files API id, and no resolve_file")
        value = resolve_file(ref[2])
        if _awaitable(value):
            value = await value
        return _resolved(ref[2], value)

    return list(await asyncio.gather(*(one(ref) for ref in refs)))  # fetched concurrently


def _awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return hasattr(value, "__await__")


# --- one image --------------------------------------------------------------------------------

def image_info(source: ImageSource, *, max_read: int = DEFAULT_MAX_READ) -> ImageInfo:
    """Width, height, format and animation of an image, read from its header only: bytes, a
    path, a binary file or a ``data:image/...;base64,`` URL (spec 5). A file is read up to
    ``max_read`` bytes at most."""
    info: ImageInfo = _header.image_info(source, max_read=max_read)
    return info


def count_image(source: ImageSource, model: str, detail: str = "auto", *, ruleset: str | None = None,
                input_fidelity: str | None = None,
                undecided_animation: UndecidedAnimation = "still") -> ImageCost:
    """What an image costs, its size read from its header: bytes, a path, a binary file or
    a ``data:image/...;base64,`` URL. An animated GIF is refused (spec 5)."""
    undecided_animation_option(undecided_animation)
    info = _header.image_info(source)
    if refused_animation(info, undecided_animation):
        raise animation_error(info, f"GIF ({info.width}x{info.height})")
    cost: ImageCost = _tokens.explain_image_tokens(info.width, info.height, model, detail,
                                                   ruleset=ruleset, input_fidelity=input_fidelity)
    return cost


# --- putting it together -------------------------------------------------------------------------

def _options(fetch: Any, on_unknown: str, on_violation: str,
             undecided_animation: UndecidedAnimation = "still") -> Fetcher | None:
    undecided_animation_option(undecided_animation)
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


def _count(body: dict[str, Any], api: str, refs: list[tuple[Any, ...]],
           sizes: list[tuple[Any, ...]], ruleset: str | None,
           on_unknown: str, on_violation: str,
           undecided_animation: UndecidedAnimation = "still") -> RequestCount:
    model_name = body.get("model")
    if not refs:
        return _new(RequestCount, (model_name if isinstance(model_name, str) else None, api, 0,
                                   (), (), 0, False))
    if not isinstance(model_name, str):
        raise _malformed("/model", "'model' must be a string", model_name)
    model, count, levels = _resolved_model(model_name, ruleset)
    images, violations, total, payload = [], [], 0, 0
    for (pointer, url, file_id, detail_given), (info, size_bytes, note, cause, error) in zip(refs, sizes):
        source = _source(url)
        if source != "url":
            url = None  # a data URL is megabytes: the pointer locates it
        detail = "auto" if detail_given is None else detail_given
        payload += size_bytes
        try:
            if error is not None:
                pass
            elif info is None:
                if on_unknown == "error":
                    unknown = ImageSizeUnknownError(
                        f"{pointer}: the image's size is unknown: {note}", pointer)
                    raise unknown from cause
                tokens = max_image_tokens(model.id, detail, ruleset=model.ruleset)
                images.append(_image(pointer, source, url, file_id, detail_given,
                                     model.detail_params(detail).level, None, None, None, tokens,
                                     True, note))
                total += tokens
                continue
            elif refused_animation(info, undecided_animation):
                error = animation_error(info, pointer)
            else:
                tokens = count(info.width, info.height, detail)
                level = levels.get(detail)
                if level is None:  # (count accepted the detail, so it has a level)
                    level = levels[detail] = model.detail_params(detail).level
                images.append(_new(RequestImage, (
                    pointer, source, url, file_id, detail_given, level, info.width, info.height,
                    info.format or None, tokens, False, None, None, None)))
                total += tokens
                continue
        except ImageSizeUnknownError:
            raise
        except VisionTokensError as failure:  # a bad detail, the patch limit ...
            error = failure
        if not str(error).startswith(pointer):
            error = error.located(pointer)
        if on_violation == "raise":
            raise error
        violations.append(error)
        images.append(_image(pointer, source, url, file_id, detail_given, None, None, None, None,
                             None, error=error))
    if payload > MAX_PAYLOAD:
        too_large = PayloadTooLargeError(
            f"the request's images hold {payload} bytes, over the {MAX_PAYLOAD} allowed (spec 5)")
        if on_violation == "raise":
            raise too_large
        violations.append(too_large)
    return _new(RequestCount, (model.id, api, total, tuple(images), tuple(violations), 0, False))


def _resolved_model(name: str, ruleset: str | None) -> tuple[Any, Any, dict[str, str]]:
    """(ModelSpec, its fastest count, detail -> level) by request model name: resolved once
    per name, in the registry's one cache; levels fill in as details are seen."""
    key = ("request", IMPLEMENTATION, name, ruleset)
    hit = _registry.MEMO.get(key)
    if hit is None:  # filled under the registry's lock: never from tables a change replaced
        hit = _registry.memoised(key, _model_record, name, ruleset)
    return hit  # type: ignore[return-value]


def _model_record(name: str, ruleset: str | None) -> tuple[Any, Any, dict[str, str]]:
    model = _tokens.get_model(name, ruleset=ruleset)
    return (model.spec, model.count, {})


def count_request(body: Any, *, ruleset: str | None = None, fetch: bool | Fetcher | None = None,
                  resolve_file: FileResolver | None = None, on_unknown: str = "error",
                  on_violation: str = "raise",
                  undecided_animation: UndecidedAnimation = "still",
                  content_type: str | None = None, api: str | None = None) -> RequestCount:
    """The image tokens of a Chat Completions, Responses or Images API request body (a dict,
    its JSON text or bytes, or multipart/form-data bytes with their ``content_type``), image
    by image. See the README for every option."""
    fetcher = _options(fetch, on_unknown, on_violation, undecided_animation)
    body, images = _images_api.classify(body, content_type, api, _load)
    if images is not None:  # spec 6.2: the Images API, walked in _images_api
        counted: RequestCount = images.count(
            _sizes(images.refs, fetcher, resolve_file), ruleset, on_unknown, on_violation,
            RequestCount, RequestImage, undecided_animation=undecided_animation)
        return counted
    kind, refs = _walk(body)
    result = _count(body, kind, refs, _sizes(refs, fetcher, resolve_file), ruleset, on_unknown,
                    on_violation, undecided_animation)
    with_tool: RequestCount = _images_api.with_generation_tool(body, result, ruleset, on_violation)
    return with_tool


async def count_request_async(body: Any, *, ruleset: str | None = None, fetch: bool | Fetcher | None = None,
                              resolve_file: FileResolver | None = None, on_unknown: str = "error",
                              on_violation: str = "raise",
                              undecided_animation: UndecidedAnimation = "still",
                              content_type: str | None = None, api: str | None = None,
                              max_concurrency: object = 16) -> RequestCount:
    """count_request for async code: remote images are fetched concurrently, at most
    ``max_concurrency`` (an int) at once, and resolve_file may be a coroutine function."""
    # (annotated object, not int: compiled, Cython would truncate 1.5 to 1 before the check)
    fetcher = _options(fetch, on_unknown, on_violation, undecided_animation)
    if (not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool)
            or max_concurrency < 1):
        raise InvalidArgumentError(f"max_concurrency must be an int >= 1, got {max_concurrency!r}")
    body, images = _images_api.classify(body, content_type, api, _load)
    if images is not None:  # spec 6.2: the Images API, walked in _images_api
        sizes = await _sizes_async(images.refs, fetcher, resolve_file, max_concurrency)
        counted: RequestCount = images.count(sizes, ruleset, on_unknown, on_violation,
                                             RequestCount, RequestImage,
                                             undecided_animation=undecided_animation)
        return counted
    kind, refs = _walk(body)
    sizes = await _sizes_async(refs, fetcher, resolve_file, max_concurrency)
    result = _count(body, kind, refs, sizes, ruleset, on_unknown, on_violation, undecided_animation)
    with_tool: RequestCount = _images_api.with_generation_tool(body, result, ruleset, on_violation)
    return with_tool
