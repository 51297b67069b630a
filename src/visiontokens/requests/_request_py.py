# cython: freethreading_compatible=True, annotation_typing=False
"""count_request: the image tokens of a Chat Completions or Responses request, image by image.

The walk (spec 6) only follows the paths where images live, so its work is bounded by the
body's size whatever its shape; every value it reads is type-checked and a wrong one is a
MalformedRequestError naming its JSON pointer. Sizes come from the image headers (spec 5),
from a fetch when the caller opts in, or from a file resolver; the calculator does the rest.
Bodies may come as the official SDK builds them (spec 6.1): SDK objects (pydantic models) are
read as the SDK serialises them, and any iterable stands for a JSON list. Raw bytes are parsed
with jiter (imported on first use), several times faster than json.loads.

Plain Python, which setup.py also compiles with Cython as is, as the module ``_request_c``:
a gateway runs this on every request, and compiled it takes half the time; one source keeps
the twins in step. Records are plain tuples and NamedTuples built
directly, since this machine spends 2-3 us building a frozen dataclass.
Compiled, annotations are not C types (annotation_typing=False): a ``str`` or ``bool``
annotation would make Cython refuse a wrong type with a bare TypeError, or turn any object
into a bool, before our own checks run; both twins must raise the same typed errors.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Awaitable, Callable, Literal, NamedTuple, TypeGuard, Union

from . import images_api as _images_api
from . import anthropic as _anthropic
from . import gemini as _gemini
from ._shapes import BODY_BUFFERS as _BODY_BUFFERS
from .pricing import PUBLIC_SOURCE, ImageRef, SkippedPart, malformed as _malformed, sdk_dict as _sdk_dict
from .pricing import unreadable as _unreadable
from ._value_limit import SCAN_MAX_VALUES, TooDense
from .. import rules
from .. import _spec
from ..rules import UndocumentedPolicy
from .._extensions import lower
from .._errors import (
    ArgumentTypeError,
    FetchError,
    ImageSizeUnknownError,
    InvalidArgumentError,
    MalformedRequestError,
    TooManyImagesError,
    VisionTokensError,
    undecided_animation_option,
    check_payload,
    choice_option,
    quoted,
    violation,
    with_hint,
)
from ..images.sources import DEFAULT_MAX_READ, ImageInfo, animation_error, refused_animation
from ..images.sources import MAX_DATA_URL_HEADER as _MAX_DATA_URL_HEADER
from .._results import ImageCost

if TYPE_CHECKING:  # httpx loads only when a caller fetches: the import stays light
    from ..images.fetch import Fetcher

try:  # setup.py also compiles this file as is, as the module _request_c
    import cython

    IMPLEMENTATION = "cython" if cython.compiled else "python"
except ImportError:  # a pure install need not have Cython
    IMPLEMENTATION = "python"

# The lower twins, of this twin's own kind: the pure walk runs on the pure parser and
# calculator (so the pure stack is pure end to end, tested in one process), the compiled one
# on the compiled ones. The Images API walk (images_api, one module for both) gets them from
# here, in _LOWER.
_header = lower("header", IMPLEMENTATION)  # the image-header parser
_tokens = lower("tokens", IMPLEMENTATION)  # the calculator
_output = lower("output", IMPLEMENTATION)  # the output-token calculator
_LOWER = _images_api.Lower(_header, _tokens, _output)
# The in-place request scan (issue 20): a bytes body is validated and read where it lies; its
# objects and arrays come out as nodes, its long strings (data URLs) as BodyString windows.
_scan = lower("scan", IMPLEMENTATION)
_ObjectNode, _ArrayNode, _BodyString = _scan.ObjectNode, _scan.ArrayNode, _scan.BodyString
#: what a gateway reads a several-chunk body into, to count it in place (the middleware)
BodyBuffer = _scan.BodyBuffer
_TEXT = (str, _BodyString)  # a JSON string, as the walk meets it in either input
#: the bodies read in place by the scan: bytes-like, or a gateway's BodyBuffer (either twin's)
_IN_PLACE = (bytes, bytearray, memoryview) + _BODY_BUFFERS
_MISSING = object()

# spec 5: the request limits. The payload counted is the images' own bytes.
MAX_IMAGES, MAX_PAYLOAD = _spec.MAX_IMAGES, _spec.MAX_PAYLOAD

#: undecided_animation=: a GIF whose data ends before a second image or its trailer is counted
#: as the still image it is so far ("still", the default), or refused ("refuse"). (Literal, not
#: str: the compiled twin would turn a wrong type into a bare TypeError before our check.)
UndecidedAnimation = Literal["still", "refuse"]
#: What an image of unknown size costs: an ImageSizeUnknownError ("error", the default), or the
#: most any image can cost on the model ("upper_bound").
OnUnknown = Literal["error", "upper_bound"]
#: What a violation (an image or request the API would refuse) does: raise it ("raise", the
#: default), or keep it in ``RequestCount.violations`` and on its image ("collect").
OnViolation = Literal["raise", "collect"]

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
    # spec 3.5, undocumented="assume": the documented model this figure was counted like
    assumed_from: str | None = None


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
    skipped: tuple[SkippedPart, ...] = ()  # parts not counted: files, the other API's images

    @property
    def upper_bound(self) -> bool:
        """True when some image counts at its most (its size was not known)."""
        return any(image.upper_bound for image in self.images)


# Built on every request a gateway sees, so built directly: a NamedTuple's generated
# __new__ is a Python function with keyword handling, several times the cost of the tuple.
_new = tuple.__new__


# --- the walk (spec 6) ------------------------------------------------------------------------

# An image found by the walk: the walker contract's ImageRef (requests/pricing.py), built as a
# plain tuple in its field order: compiled, a plain tuple is built inline and indexed directly,
# while a NamedTuple instance costs a call to tuple.__new__ to build and, being a tuple
# subclass, reaches its items through the generic __getitem__ slot (~0.9k instructions an
# item read, measured with callgrind). The pricing loop reads refs by position either way.
_Ref = ImageRef

#: How many characters of a URL an error or a note quotes (a data URL is megabytes).
URL_QUOTE = 60


def _clip(url: str) -> str:
    return url if len(url) <= URL_QUOTE else url[:URL_QUOTE] + "..."


def _is_data_url(url: Any) -> bool:
    # URL schemes are case-insensitive (RFC 3986 3.1): "DATA:" is a data URL too.
    if type(url) is not str:  # a BodyString: its first characters only
        return bool(url.head(5).lower() == "data:")
    return url.startswith("data:") or url[:5].lower() == "data:"


def _is_raw_base64(url: Any) -> bool:
    """spec 6.1: Chat's image_url.url may be the image's base64 without "data:". A URL has a
    scheme, and ':' is not a base64 character, so no ':' near the start means base64."""
    if type(url) is not str:  # a BodyString
        return ":" not in url.head(64)
    return url.find(":", 0, 64) < 0


# The walk runs on every request a gateway sees: checks are inline and a JSON pointer is only
# built for an image or an error. Every key followed is a fixed name, so pointers need no
# escaping beyond what the indices give (and prompt variable names, escaped per RFC 6901).

def _optional_text(part: dict[str, Any], key: str, where: str) -> Any:
    """A string member or None: a str, or a BodyString from a scanned body (a data URL)."""
    value = part.get(key)
    if value is not None and not isinstance(value, _TEXT):
        raise _malformed(f"{where}/{key}", f"'{key}' must be a string", value)
    return value


def _optional_str(part: dict[str, Any], key: str, where: str) -> str | None:
    value = _optional_text(part, key, where)
    if value is None or type(value) is str:
        return value
    return value.str()  # type: ignore[no-any-return]


# --- bodies as the SDK builds them (spec 6.1) ---------------------------------------------------

#: The most items read from a one-shot iterator (a generator) standing for a JSON list.
MAX_ITERATOR_ITEMS = 1_000_000


def _as_dict(value: Any, where: str, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if type(value) is _ObjectNode:  # a scanned body's object: read through get, like a dict
        return value  # type: ignore[no-any-return]
    converted = _sdk_dict(value, where)
    if converted is None:
        raise _malformed(where, what, value)
    return converted


def _as_list(value: Any, parent: dict[str, Any], key: str, where: str) -> list[Any] | None:
    """A JSON list given as any iterable (a tuple, a generator ...), as the SDK sends it;
    None when ``value`` is not one. A one-shot iterator is read once and the list it gave is
    put back in its place, so the body still sends what was counted."""
    if isinstance(value, list):
        return value
    if type(value) is _ArrayNode:  # a scanned body's array: iterated once, never listed
        return value  # type: ignore[no-any-return]
    if isinstance(value, (str, _BodyString, bytes, bytearray, dict, Mapping)) or _sdk_dict_like(value):
        return None
    try:
        iterator = iter(value)
    except TypeError:
        return None
    except Exception as error:
        raise _unreadable(where, value, error) from None
    one_shot = iterator is value
    items: list[Any] = []
    try:
        for item in iterator:
            if len(items) == MAX_ITERATOR_ITEMS:
                raise MalformedRequestError(
                    f"an iterable of more than {MAX_ITERATOR_ITEMS} items", where)
            items.append(item)
    except MalformedRequestError:
        raise
    except Exception as error:  # whatever the iterable raises is a bad body, told as ours
        raise _unreadable(where, value, error) from None
    if one_shot:
        parent[key] = items
    return items


def _sdk_dict_like(value: Any) -> bool:
    return hasattr(type(value), "model_fields")


def _pointer_key(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")  # RFC 6901


def _load(body: Any, nodes: bool = True) -> dict[str, Any]:
    """The body as a dict. Bytes are scanned in place (issue 20): a Chat or Responses body's
    top level with its values as nodes (``nodes``), anything else as _plain makes it."""
    if isinstance(body, _IN_PLACE):
        top = _scanned(body)
        if nodes and ("messages" in top or "input" in top or "contents" in top
                      or not isinstance(top.get("prompt"), _TEXT)):  # (images_api._shape)
            return top
        return _plain(top)
    if isinstance(body, str):
        body = _parse_json(body)
    if not isinstance(body, dict):
        converted = _sdk_dict(body, "")
        if converted is None:
            raise _malformed("", "the request body must be a JSON object", body)
        return converted
    loaded: dict[str, Any] = body
    return loaded


def _scanned(body: Any) -> dict[str, Any]:
    """A bytes body read in place: validated by the scan (its errors are the body's), then
    its top-level members in a dict (the last of a repeated key wins, as in json.loads),
    their values nodes, scalars or BodyStrings. One pass over the top level: the walk then
    looks keys up in the dict, not by rereading the body."""
    root = _scan.Document(body, max_values=SCAN_MAX_VALUES.get()).root
    if type(root) is not _ObjectNode:
        raise _malformed("", "the request body must be a JSON object", root)
    return dict(root.items())


#: The members the Images API's JSON walk reads whole (images_api._from_json); of the others
#: it reads at most the type (a string field given an object is an error naming "dict").
_IMAGES_READ = ("images", "mask")


def _plain(top: dict[str, Any]) -> dict[str, Any]:
    """A scanned body's top level as the Images API's walk (which reads dicts) needs it: its
    'images' and 'mask' as plain values (json.loads's), long strings as str, any other object
    or array as an empty one of its type, never built (a dense 'x': [{}, {}, ...] stays in
    place: the body's memory bound holds)."""
    plain = {}
    for key, value in top.items():
        if type(value) is _ObjectNode or type(value) is _ArrayNode:
            if key in _IMAGES_READ:
                value = value.value()
            else:
                value = {} if type(value) is _ObjectNode else []
        elif type(value) is _BodyString:
            value = value.str()
        plain[key] = value
    return plain


#: The deepest a JSON body may nest (arrays and objects). Our own rule, the same whichever
#: parser reads the body and however deep the caller's stack already is: json.loads failed by
#: Python's recursion limit, so a body ~1,000 levels deep was "too deep" or "not JSON" by the
#: caller's stack (a fuzz finding), and jiter stops at its own limit (201 arrays, 200 objects
#: in jiter 0.x). Images sit at most 6 levels down (spec 6); no API body nests 200 deep.
MAX_DEPTH = 200
_TOO_DEEP = f"the request body nests deeper than {MAX_DEPTH} levels"


def _parse_json(text: Any) -> Any:
    """JSON text or bytes to Python values. jiter (pydantic's parser) is several times faster
    than json.loads on large bodies (issue 10); anything jiter refuses (nesting deeper than its
    limit, a lone surrogate escape, bad JSON ...) goes to json.loads, so the values and the
    errors are json.loads's whichever parser ran. Nesting deeper than MAX_DEPTH is an error
    on either path, checked by us, never left to a parser's limit or the stack."""
    global _jiter
    if _jiter is None:
        try:
            import jiter
        except ImportError:  # a dependency, but a body must still count without it
            _jiter = False
        else:
            _jiter = jiter
    if _jiter:
        try:
            # jiter reads bytes only: a str is encoded, a bytearray or memoryview copied
            data = text if isinstance(text, bytes) else (
                text.encode() if isinstance(text, str) else bytes(text))
            value = _jiter.from_json(data)
        except (ValueError, TypeError, UnicodeError):
            pass
        else:
            if _nests_deeper(value, MAX_DEPTH):
                raise MalformedRequestError(_TOO_DEEP)
            return value
    import json

    try:
        if not isinstance(text, str):  # as json.loads decodes bytes (UTF-8, -16 or -32)
            data = bytes(text) if not isinstance(text, bytes) else text
            text = data.decode(json.detect_encoding(data), "surrogatepass")
        # json.loads recurses once per level: the depth is checked on the text first, so it
        # never meets the recursion limit on a body our rule refuses
        if _text_nests_deeper(text, MAX_DEPTH):
            raise MalformedRequestError(_TOO_DEEP)
        return json.loads(text)
    except MalformedRequestError:  # (a ValueError too: not to be caught as "not JSON")
        raise
    except RecursionError:  # within MAX_DEPTH: only when the caller's stack is nearly full
        raise MalformedRequestError(
            "the request body nests too deeply for the stack left to parse it") from None
    except ValueError as error:
        raise MalformedRequestError(f"the request body is not JSON: {error}") from None


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests more than ``limit`` arrays and objects (1: a flat object).
    Iterative, and it visits containers only past the top level's scalars."""
    if type(value) is not dict and type(value) is not list:
        return False
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        for child in (node.values() if type(node) is dict else node):
            if type(child) is dict or type(child) is list:
                pending.append((child, depth + 1))
    return False


# A JSON string, or an unterminated one running to the end: every match attempt at a quote
# succeeds and nothing backtracks (possessive), so a text of escaped quotes stays linear.
_STRINGS = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]++")


def _text_nests_deeper(text: str, limit: int) -> bool:
    """Whether JSON text opens more than ``limit`` arrays and objects at once, strings
    skipped; linear in the text (two regular-expression passes and a loop over brackets)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    depth = 0
    for bracket in brackets:
        if bracket == "[" or bracket == "{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


_jiter: Any = None


# --- where images are (spec 6, 6.1) -------------------------------------------------------------

_CHAT_IMAGE, _RESPONSES_IMAGE = "image_url", "input_image"
_FILE_REASON = ("a file, not an image under the vision guide (a PDF's pages are billed by "
                "the file-inputs guide)")  # spec 6.1
#: Parts that are not counted, and why; each one is noted in RequestCount.skipped (spec 6.1).
_SKIPPED = {
    "chat": {"file": _FILE_REASON, "input_file": _FILE_REASON,
             "input_image": "a Responses image part in a Chat Completions body: not counted",
             "image": ("an Anthropic image block in a Chat Completions body: not counted "
                       "(count the body with api='anthropic.messages')")},
    "responses": {"input_file": _FILE_REASON, "file": _FILE_REASON,
                  "image_url": "a Chat Completions image part in a Responses body: not counted"},
}
#: A Responses body may leave out 'input' when one of these carries the conversation (spec 6.1).
_RESPONSES_WITHOUT_INPUT = ("prompt", "conversation", "previous_response_id")


def _walk(body: dict[str, Any]) -> tuple[str, list[_Ref], list[SkippedPart]]:
    has_messages, has_input = "messages" in body, "input" in body
    if has_messages == has_input and (has_messages or not any(
            key in body for key in _RESPONSES_WITHOUT_INPUT)):
        raise MalformedRequestError(
            "not a Chat Completions ('messages') or Responses ('input', 'prompt', "
            "'conversation' or 'previous_response_id') request body")
    refs: list[_Ref] = []
    skipped: list[SkippedPart] = []
    if has_messages:
        messages = _as_list(body["messages"], body, "messages", "/messages")
        if messages is None:
            raise _malformed("/messages", "'messages' must be a list", body["messages"])
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                message = _as_dict(message, f"/messages/{i}", "a message must be an object")
            content = message.get("content")
            if (content is not None and not isinstance(content, str)
                    and type(content) is not _BodyString):
                _content_parts(content, message, "content", f"/messages/{i}/content", refs,
                               skipped, "chat")
        return "chat", refs, skipped
    if has_input:
        _input_items(body, refs, skipped)
    prompt = body.get("prompt")
    if prompt is not None:
        _prompt_variables(prompt, refs, skipped)
    return "responses", refs, skipped


def _input_items(body: dict[str, Any], refs: list[_Ref], skipped: list[SkippedPart]) -> None:
    items = body["input"]
    if isinstance(items, _TEXT):
        return
    items = _as_list(items, body, "input", "/input")
    if items is None:
        raise _malformed("/input", "'input' must be a string or a list", body["input"])
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            item = _as_dict(item, f"/input/{i}", "an input item must be an object")
        kind = item.get("type", "message")
        if not isinstance(kind, _TEXT):  # (a list or an object is no type, nor a dict key)
            if kind is None:
                continue  # as an item of a type we do not know: no image here
            raise _malformed(f"/input/{i}/type", "'type' must be a string", kind)
        if kind == "message":
            content = item.get("content")
            if content is not None and not isinstance(content, _TEXT):
                _content_parts(content, item, "content", f"/input/{i}/content", refs, skipped,
                               "responses")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            if output is not None and not isinstance(output, _TEXT):  # a string holds no image
                # (_as_list puts a one-shot iterator's list back in the item: the same object)
                listed = _as_list(output, item, "output", f"/input/{i}/output")
                if listed is not None:
                    _content_parts(listed, item, "output", f"/input/{i}/output", refs,
                                   skipped, "responses")
        elif kind == "computer_call_output":
            shot = item.get("output")
            shot = _as_dict(shot, f"/input/{i}/output",
                            "a computer_call_output's 'output' must be an object")
            _add(refs, _responses_image(shot, f"/input/{i}/output"))


def _prompt_variables(prompt: Any, refs: list[_Ref], skipped: list[SkippedPart]) -> None:
    """spec 6.1: a stored prompt's variables may be input_image parts: they are input images."""
    prompt = _as_dict(prompt, "/prompt", "'prompt' must be an object")
    variables = prompt.get("variables")
    if variables is None:
        return
    variables = _as_dict(variables, "/prompt/variables", "'variables' must be an object")
    if type(variables) is _ObjectNode:  # as a dict holds it: the last of a repeated name
        variables = dict(variables.items())
    for name, value in variables.items():
        if isinstance(value, _TEXT):
            continue
        where = f"/prompt/variables/{_pointer_key(str(name))}"
        value = _as_dict(value, where, "a prompt variable must be a string or an input part")
        kind = value.get("type")
        if not isinstance(kind, _TEXT):  # (a list or an object is no type, nor a dict key)
            if kind is None:
                continue
            raise _malformed(f"{where}/type", "'type' must be a string", kind)
        if kind == _RESPONSES_IMAGE:
            _add(refs, _responses_image(value, where))
        elif kind in _SKIPPED["responses"]:
            skipped.append(_new(SkippedPart, (where, kind, _SKIPPED["responses"][kind])))


def _add(refs: list[_Ref], ref: _Ref) -> None:
    """Every image the walk finds goes through here, wherever it sits, so the limit counts
    them all; the walk ends before anything is fetched, so no request fetches more."""
    if len(refs) >= MAX_IMAGES:
        raise TooManyImagesError(f"the request holds more than {MAX_IMAGES} images")
    refs.append(ref)


def _content_parts(content: Any, parent: dict[str, Any], key: str, where: str, refs: list[_Ref],
                   skipped: list[SkippedPart], api: str) -> None:
    if not isinstance(content, list):
        given = content
        content = _as_list(content, parent, key, where)
        if content is None:
            raise _malformed(where, "'content' must be a string or a list of parts", given)
    image_type = _CHAT_IMAGE if api == "chat" else _RESPONSES_IMAGE
    not_counted = _SKIPPED[api]
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            part = _as_dict(part, f"{where}/{j}", "a content part must be an object")
        kind = part.get("type")
        if kind == image_type:
            ref = (_chat_image(part, f"{where}/{j}") if image_type == _CHAT_IMAGE
                   else _responses_image(part, f"{where}/{j}"))
            if len(refs) >= MAX_IMAGES:  # _add, inline: the walk's one hot call per image
                _add(refs, ref)
            refs.append(ref)
        elif not isinstance(kind, str):  # (a list or an object is no type, nor a dict key)
            # (a BodyString, 1 KB or more, is a string and no part type we know)
            if kind is not None and type(kind) is not _BodyString:
                raise _malformed(f"{where}/{j}/type", "'type' must be a string", kind)
        elif kind in not_counted:
            skipped.append(_new(SkippedPart, (f"{where}/{j}", kind, not_counted[kind])))


def _chat_image(part: dict[str, Any], where: str) -> _Ref:
    image: Any = part.get("image_url")
    if isinstance(image, _TEXT):  # older clients: "image_url": "https://..."
        return _url_ref(where, _with_header(image) if _is_raw_base64(image) else image, None)
    if not isinstance(image, dict) and type(image) is not _ObjectNode:
        image = _sdk_dict(image, f"{where}/image_url")
        if image is None:
            raise _malformed(f"{where}/image_url",
                             "'image_url' must be an object with a 'url', or a string",
                             part.get("image_url"))
    url = image.get("url")
    if not isinstance(url, _TEXT):
        raise _malformed(f"{where}/image_url/url", "'url' must be a string", url)
    if (":" not in url[:64]) if type(url) is str else _is_raw_base64(url):  # (inline for a str)
        # spec 6.1: the SDK lets Chat send the base64 alone; read it as the data URL it
        # stands for (the format comes from the bytes, never from this header).
        url = _with_header(url)
    detail = image.get("detail")
    if detail is not None and type(detail) is not str:  # (the pointer only for the rare case)
        detail = _optional_str(image, "detail", f"{where}/image_url")
    return _url_ref(where, url, detail)


def _url_ref(where: str, url: Any, detail: str | None, options: Any = None) -> _Ref:
    # a BodyString stays where it lies: its header is read in place; so does Chat's raw
    # base64 (a pair: the header it is read with, then the BodyString; see _with_header)
    if (type(url) is tuple or (url[:5] == "data:" if type(url) is str else False)
            or _is_data_url(url)):
        return (where, "data_url", url, detail, options)  # type: ignore[return-value]  # (see _Ref)
    # a URL a result carries whole: a str (a BodyString only when 1 KB or longer)
    return (where, "url", url if type(url) is str else url.str(),  # type: ignore[return-value]
            detail, options)


_BASE64_HEADER = "data:image/*;base64,"


def _with_header(base64: Any) -> Any:
    """Chat's raw base64 as the data URL it stands for (spec 6.1): a str, or for a BodyString
    (1 KB or more, left in the body) the pair (header, base64), read in place as that URL:
    the same result and errors, their positions counted from the URL's start."""
    if type(base64) is str:
        return _BASE64_HEADER + base64
    return (_BASE64_HEADER, base64)


def _responses_image(part: dict[str, Any], where: str) -> _Ref:
    # _optional_text and _optional_str, called only for a value that is not a str or None:
    # the same checks, without three calls an image on the path every Responses body takes
    url = part.get("image_url")
    if url is not None and type(url) is not str:
        url = _optional_text(part, "image_url", where)
    file_id = part.get("file_id")
    if file_id is not None and type(file_id) is not str:
        file_id = _optional_str(part, "file_id", where)
    if url is None and file_id is None:
        raise MalformedRequestError("an image needs an 'image_url' or a 'file_id'", where)
    detail = part.get("detail")
    if detail is not None and type(detail) is not str:
        detail = _optional_str(part, "detail", where)
    if url is None:
        return (where, "file_id", file_id, detail, None)  # type: ignore[return-value]  # (see _Ref)
    # (a part with both: the URL is what is read; the id is kept for the record)
    return _url_ref(where, url, detail, None if file_id is None else {"file_id": file_id})


# --- sizes ---------------------------------------------------------------------------------------
# A size: (info, payload bytes, note, cause, error), a plain tuple. info is the ImageInfo, or
# None when the size is unknown (note says why, cause holds the fetch error) or the image is
# invalid (error).

def _known(info: ImageInfo, payload: int = 0) -> tuple[Any, ...]:
    return (info, payload, None, None, None)


#: The note of a Files API id counted without a resolver: its error carries the hint as data
#: (the command line has no resolver to offer, and says so).
NO_RESOLVER = "a Files API id, and no resolve_file"


def _unknown(note: str, cause: BaseException | None = None) -> tuple[Any, ...]:
    return (None, 0, note, cause, None)


def _invalid(error: VisionTokensError) -> tuple[Any, ...]:
    return (None, 0, None, None, error)


# The header twin's two calls on a data URL, bound once (the module attribute costs a lookup)
_parse_data_url, _decoded_size = _header.parse_data_url, _header.decoded_size


def _without_io(ref: tuple[Any, ...], fetcher: Fetcher | None) -> tuple[Any, ...] | None:
    """The size when it needs no fetch and no resolver: a data URL, or a URL that we may not
    or will not fetch; None when it does."""
    # (unpacked, not indexed: a walker's ImageRef is a tuple subclass, see _Ref)
    pointer, kind, url, _detail, _options = ref
    if kind == "file_id" or kind == "file_uri":
        return None
    if kind == "base64":  # (media type, base64[, url_safe]): read in place, as a data URL's
        text = url[1]  # payload is
        url_safe = len(url) > 2 and url[2]  # Gemini's: the URL-safe alphabet read too
        if type(text) is not str:  # a BodyString: read in the body, never copied whole
            return _body_base64(text, url[0], 0, url_safe)
        try:
            info = _header.parse_base64(text, url[0], url_safe=url_safe)
        except VisionTokensError as error:
            return _invalid(error)
        return _known(info, _header.decoded_size(len(text), text[-2:]))
    if kind == "data_url":
        if type(url) is tuple:  # Chat's raw base64 in the body, read as its data URL's payload
            return _body_base64(url[1], _RAW_MEDIA_TYPE, len(url[0]))
        if type(url) is not str:  # a BodyString: read in place, never copied whole
            return _body_data_url(url)
        try:
            info = _parse_data_url(url)
        except VisionTokensError as error:
            return _invalid(error)
        # (_known's tuple, built here: the one size read for nearly every image)
        return (info, _decoded_size(len(url) - url.find(",") - 1, url[-2:]), None, None, None)
    scheme, colon, _ = url[:URL_QUOTE].partition(":")
    if not colon or scheme.lower() not in ("http", "https"):
        what = f"{scheme.lower()!r}" if colon else f"{_clip(url)!r}"
        return _invalid(MalformedRequestError(
            f"image URLs are http(s) or data:image/... URLs, not {what}", pointer))
    if fetcher is None:
        return _unknown("not fetched (fetching is off)")
    return None


def _body_data_url(text: Any) -> tuple[Any, ...]:
    """A data URL in a scanned body: its header read from the body's bytes; its decoded size
    from its length and last two characters (the same figures as for the equal str). Only
    the bytes the header parser reads are copied in from a gateway's BodyBuffer."""
    view, fill = text.header_view()
    try:
        info = _header.data_url_info(view, ascii=text.isascii(), fill=fill)
    except VisionTokensError as error:
        return _invalid(error)
    # (ASCII, or data_url_info refused it: characters are bytes; the comma is in the header)
    comma = bytes(view[:_MAX_DATA_URL_HEADER]).find(b",")
    return _known(info, _header.decoded_size(len(view) - comma - 1, bytes(view[-2:])))


#: The media type of Chat's raw base64, as _BASE64_HEADER declares it: any image (the
#: format comes from the bytes).
_RAW_MEDIA_TYPE = "image/*"


def _body_base64(text: Any, media_type: str, shift: int, url_safe: bool = False) -> tuple[Any, ...]:
    """Raw base64 in a scanned body (an Anthropic base64 source, a Gemini inline blob, Chat's
    bare base64): its header read from the body's bytes, as parse_base64 reads the equal str
    (errors' positions ``shift`` on); its decoded size from its length and last two bytes."""
    view, fill = text.header_view()  # (as _body_data_url's)
    try:
        info = _header.base64_info(view, media_type, ascii=text.isascii(), shift=shift,
                                   url_safe=url_safe, fill=fill)
    except VisionTokensError as error:
        return _invalid(error)
    # (ASCII, or base64_info refused it: characters are bytes)
    return _known(info, _header.decoded_size(len(view), bytes(view[-2:])))


def _resolved(file_id: str, value: Any) -> tuple[Any, ...]:
    if value is None:
        return _unknown(f"resolve_file gave no size for {quoted(file_id)}")
    if isinstance(value, ImageInfo):
        return _known(value)
    if isinstance(value, tuple) and len(value) == 2:
        from ..calc.arguments import checked_dimension

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
        return _unknown(f"resolve_file's path for {quoted(file_id)} is unreadable: {error}", error)
    return _known(info, len(value) if isinstance(value, (bytes, bytearray, memoryview)) else 0)


def _sizes(refs: list[ImageRef], fetcher: Fetcher | None,
           resolve_file: FileResolver | None) -> list[tuple[Any, ...]]:
    sizes = []
    for ref in refs:
        # A data URL given as a str (nearly every image a gateway sees) read here, as
        # _without_io reads it, without the call; a walker's ImageRef (a tuple subclass) and
        # every other kind go through _without_io.
        if type(ref) is tuple and ref[1] == "data_url" and type(ref[2]) is str:
            url = ref[2]
            try:
                info = _parse_data_url(url)
            except VisionTokensError as error:
                sizes.append(_invalid(error))
                continue
            sizes.append((info, _decoded_size(len(url) - url.find(",") - 1, url[-2:]),
                          None, None, None))
            continue
        size = _without_io(ref, fetcher)
        if size is None and ref[1] == "url":
            try:
                info, total = fetcher.fetch(ref[2])  # type: ignore[union-attr]
                size = _known(info, total or 0)
            except FetchError as error:
                size = _unknown(_fetch_failed(ref[2], error), error)
            except VisionTokensError as error:
                size = _invalid(error)
        elif size is None:
            if resolve_file is None:
                size = _unknown(NO_RESOLVER)
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


async def _sizes_async(refs: list[ImageRef], fetcher: Fetcher | None,
                       resolve_file: FileResolver | None, max_concurrency: int) -> list[tuple[Any, ...]]:
    # Sizes that need no I/O (data URLs: nearly every image a gateway sees) are read here,
    # without a task each: tasks cost time, and keep the body's strings alive longer.
    sizes: list[Any] = [_without_io(ref, fetcher) for ref in refs]
    waiting = [k for k, size in enumerate(sizes) if size is None]
    if waiting:
        import asyncio

        # At most max_concurrency fetches and resolve_file calls of this request at once: 1,500
        # URLs fetched together exhausted the process's file descriptors. (The Fetcher has a
        # limit of its own, over every request that shares it.)
        slots = asyncio.Semaphore(max_concurrency)
        done = await asyncio.gather(*[_size_in_slot(slots, refs[k], fetcher, resolve_file)
                                      for k in waiting])  # fetched concurrently
        for k, size in zip(waiting, done):
            sizes[k] = size
    return sizes


async def _size_in_slot(slots: Any, ref: tuple[Any, ...], fetcher: Fetcher | None,
                        resolve_file: FileResolver | None) -> tuple[Any, ...]:
    async with slots:
        return await _size_async(ref, fetcher, resolve_file)


# A module-level coroutine, not a closure: compiled, a closure's scope forms a reference cycle
# that keeps the parsed body's strings alive until the collector runs (a page fault per 4 KB
# on the next request's parse).
async def _size_async(ref: tuple[Any, ...], fetcher: Fetcher | None,
                      resolve_file: FileResolver | None) -> tuple[Any, ...]:
    if ref[1] == "url":
        try:
            info, total = await fetcher.fetch_async(ref[2])  # type: ignore[union-attr]
            return _known(info, total or 0)
        except FetchError as error:
            return _unknown(_fetch_failed(ref[2], error), error)
        except VisionTokensError as error:
            return _invalid(error)
    if resolve_file is None:
        return _unknown(NO_RESOLVER)
    value = resolve_file(ref[2])
    if _awaitable(value):
        value = await value
    return _resolved(ref[2], value)


def _fetch_failed(url: str, error: FetchError) -> str:
    # the fetcher's message quotes the URL whole; a note quotes its start only
    return f"fetch failed: {str(error).replace(repr(url), repr(_clip(url)))}"


def _awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return hasattr(value, "__await__")


# --- one image --------------------------------------------------------------------------------

def image_info(source: ImageSource, *, max_read: int = DEFAULT_MAX_READ) -> ImageInfo:
    """Width, height, format and animation of an image, read from its header only: bytes, a
    path, a binary file or a ``data:image/...;base64,`` URL. A file is read up to
    ``max_read`` bytes at most."""
    info: ImageInfo = _header.image_info(source, max_read=max_read)
    return info


def count_image(source: ImageSource, model: str, detail: str = "auto", *, ruleset: str | None = None,
                input_fidelity: str | None = None,
                undecided_animation: UndecidedAnimation = "still") -> ImageCost:
    """What an image costs, its size read from its header: bytes, a path, a binary file or
    a ``data:image/...;base64,`` URL. An animated GIF is refused, as the API refuses it."""
    undecided_animation_option(undecided_animation)
    info = _header.image_info(source)
    if refused_animation(info, undecided_animation):
        raise animation_error(info, f"GIF ({info.width}x{info.height})")
    cost: ImageCost = _tokens.explain_image_tokens(info.width, info.height, model, detail,
                                                   ruleset=ruleset, input_fidelity=input_fidelity)
    return cost


# --- putting it together -------------------------------------------------------------------------

def _options(fetch: Any, on_unknown: str, on_violation: str,
             undecided_animation: UndecidedAnimation = "still", undocumented: Any = "error",
             enforce_patch_limit: Any = True) -> Fetcher | None:
    # The defaults skip the shared checks' calls: every request a gateway sees pays for them.
    if not (type(undecided_animation) is str and undecided_animation == "still"):
        undecided_animation_option(undecided_animation)
    if not (type(on_unknown) is str and on_unknown in ("error", "upper_bound")):
        choice_option("on_unknown", on_unknown, ("error", "upper_bound"))
    if not (type(on_violation) is str and on_violation in ("raise", "collect")):
        choice_option("on_violation", on_violation, ("raise", "collect"))
    if not (enforce_patch_limit is True and type(undocumented) is str and undocumented == "error"):
        rules.check_policies(undocumented, enforce_patch_limit)
    if fetch is None or fetch is False:
        return None
    from ..images.fetch import Fetcher

    if fetch is True:
        return _default_fetcher()
    if isinstance(fetch, Fetcher):
        return fetch
    raise ArgumentTypeError(f"fetch must be None, True or a Fetcher, got {type(fetch).__name__} "
                            f"{quoted(fetch)}", argument="fetch")


def _check_resolver(resolve_file: Any) -> None:
    # checked up front, not when the first file id is met (a bare TypeError then, or never)
    if resolve_file is not None and not callable(resolve_file):
        raise ArgumentTypeError(
            f"resolve_file must be a callable or None, got {type(resolve_file).__name__}",
            argument="resolve_file")


_DEFAULT_FETCHER: Fetcher | None = None


def _default_fetcher() -> Fetcher:
    from ..images.fetch import Fetcher

    global _DEFAULT_FETCHER
    if _DEFAULT_FETCHER is None:
        _DEFAULT_FETCHER = Fetcher()
    return _DEFAULT_FETCHER


def _count(body: dict[str, Any], api: str, refs: list[ImageRef],
           sizes: list[tuple[Any, ...]], ruleset: str | None, on_unknown: str, on_violation: str,
           undecided_animation: UndecidedAnimation = "still",
           skipped: tuple[SkippedPart, ...] = (), undocumented: str = "error",
           enforce_patch_limit: bool = True, model_given: str | None = None) -> RequestCount:
    model_name: Any = body.get("model") if model_given is None else model_given
    if type(model_name) is _BodyString:  # (1 KB or more: the name an error quotes)
        model_name = model_name.str()
    if not refs:
        return _new(RequestCount, (model_name if isinstance(model_name, str) else None, api, 0,
                                   (), (), 0, False, skipped))
    if not isinstance(model_name, str):
        raise _malformed("/model", "'model' must be a string", model_name)
    model, count, levels, most = _resolved_model(model_name, ruleset, undocumented,
                                                 enforce_patch_limit)
    if model.provider != "openai":
        # providers 1.7, 2.2, 3.3: an OpenAI-shaped body routed to another provider's model
        # (LiteLLM, OpenRouter, vLLM, the providers' OpenAI-compatible endpoints) is counted
        # by that model's rule, and OpenAI's "detail" does not apply: Anthropic's endpoint
        # ignores it (DOCUMENTED for Claude); for Gemini, Mistral and Qwen it is ASSUMED
        # ignored (the model's default media resolution), as no mapping is documented.
        refs = [ref if ref[3] is None else _new(ImageRef, (ref[0], ref[1], ref[2], None, ref[4]))
                for ref in refs]
    violations: list[VisionTokensError] = []
    images: list[RequestImage] = []
    total = price(model, count, levels, refs, sizes, on_unknown, on_violation,
                  undecided_animation, violations, images, most)
    return _new(RequestCount, (model.id, api, total, tuple(images), tuple(violations), 0, False,
                               skipped))


#: The APIs walked by their own walkers, by their count_request(api=...) names.
_WALKERS = {_anthropic.API: _anthropic, _gemini.API: _gemini}


def _count_walked(walked: Any, sizes: list[tuple[Any, ...]], model_given: str | None,
                  ruleset: str | None, on_unknown: str, on_violation: str,
                  undecided_animation: UndecidedAnimation, undocumented: str,
                  enforce_patch_limit: bool) -> RequestCount:
    """An Anthropic Messages or Gemini generateContent request (providers 1.7, 2.4): its
    documented limits (providers 1.3, 2.3) over the walked and sized images, then the one
    pricing loop. The model is ``model=`` when given, else the body's."""
    api, refs, options = walked.api, walked.images, walked.options
    name = walked.model if model_given is None else model_given
    skipped = tuple(walked.skipped)
    if name is None and refs:
        raise MalformedRequestError(
            "the request names no model: pass model= (a generateContent body has its model "
            "in the URL path)", "/model")
    if api == _anthropic.API:
        sizes, limits = _anthropic.check_limits(
            refs, sizes, name, options, options.get("request_bytes"),
            _Resize(name, ruleset, undocumented, enforce_patch_limit))
    else:
        sizes, limits = _gemini.check_limits(refs, sizes, options, options.get("request_bytes"))
    violations: list[VisionTokensError] = []
    images: list[RequestImage] = []
    total = 0
    model_id = name
    if refs:
        model, count, levels, most = _resolved_model(str(name), ruleset, undocumented,
                                                     enforce_patch_limit)
        model_id = model.id
        total = price(model, count, levels, refs, sizes, on_unknown, on_violation,
                      undecided_animation, violations, images, most)
    for error in limits:  # the whole request's limits, after its images'
        violation(error, "", on_violation, violations)
    return _new(RequestCount, (model_id, api, total, tuple(images), tuple(violations), 0, False,
                               skipped))


class _Resize:
    """Whether the model would resize a width x height image (providers 1.2: an image with
    oversized_image "error" that would be resized is refused)."""

    __slots__ = ("name", "ruleset", "undocumented", "enforce_patch_limit")

    def __init__(self, name: Any, ruleset: Any, undocumented: str, enforce_patch_limit: bool):
        self.name, self.ruleset = name, ruleset
        self.undocumented, self.enforce_patch_limit = undocumented, enforce_patch_limit

    def __call__(self, width: int, height: int) -> bool:
        cost = _tokens.explain_image_tokens(width, height, self.name, ruleset=self.ruleset,
                                            undocumented=self.undocumented,
                                            enforce_patch_limit=self.enforce_patch_limit)
        return bool(cost.resized_width != width or cost.resized_height != height)


def _body_bytes(body: Any) -> int | None:
    """The size of a body given as JSON text (a str's length: at most its UTF-8 size), else None."""
    if isinstance(body, (bytes, bytearray, str)):
        return len(body)
    if isinstance(body, memoryview):
        return body.nbytes
    if isinstance(body, _BODY_BUFFERS):
        return len(body)
    return None


def _check_model(model: Any) -> None:
    if model is not None and not isinstance(model, str):
        raise ArgumentTypeError(f"model must be a str or None, got {type(model).__name__}",
                                argument="model")


def _no_model_for_images(model: Any) -> None:
    if model is not None:
        raise InvalidArgumentError("model= is not taken for an Images API body: its 'model' "
                                   "field names the model", argument="model")


def price(model: Any, count: Callable[[int, int, str], int], levels: dict[str, str],
          refs: list[ImageRef], sizes: list[tuple[Any, ...]], on_unknown: str,
          on_violation: str, undecided_animation: str, violations: list[VisionTokensError],
          images: list[RequestImage], most: Callable[[str], int], rule: str | None = None,
          assumed: Any = False) -> int:
    """THE pricing loop: every walker's images (the walker contract, requests/pricing.py)
    with their sizes, priced by a resolved model into ``images`` (RequestImage records);
    returns the total. ``model`` is the resolved model's spec (detail levels, id), ``count``
    its fastest count (width, height, detail), ``levels`` a detail -> level cache, ``most``
    the upper bound at a detail. Sizes known are counted; unknown ones raise
    ImageSizeUnknownError (on_unknown="error") or count at ``most``, exactly when the level
    needs no size (spec 3.4); invalid and animated images (spec 5) and the payload limit are
    violations, raised or collected. ``rule`` names the rule on each record; ``assumed``
    (False: the model's own) the documented model an undocumented one is counted like."""
    if assumed is False:
        assumed = model.assumed_from  # spec 3.5: every figure of an assumed model says so
    total = payload = 0
    for ref, (info, size_bytes, note, cause, error) in zip(refs, sizes):
        pointer, kind, value, detail_given, options = ref
        source = PUBLIC_SOURCE[kind]
        url = value if kind == "url" else None  # a data URL is megabytes: the pointer locates it
        if kind == "file_id" or kind == "file_uri":
            file_id = value
        else:
            file_id = None if options is None else options.get("file_id")
        detail = "auto" if detail_given is None else detail_given
        payload += size_bytes
        try:
            if error is not None:
                pass
            elif info is None:
                params = model.detail_params(detail)  # a bad detail is the image's error
                if params.scheme == "flat" or params.scheme == "fixed":
                    # spec 3.4: tile-model low costs the base whatever the size: exact, no
                    # size needed, no bound (so do fixed budgets: Gemini 3's levels, Gemini
                    # 2.5 low and medium, providers 2.1; Nova 2 Lite, providers 5)
                    images.append(_new(RequestImage, (
                        pointer, source, url, file_id, detail_given, params.level, None, None,
                        None, params.base, False, note, None, rule, assumed)))
                    total += params.base
                    continue
                if on_unknown == "error":
                    unknown = ImageSizeUnknownError(f"the image's size is unknown: {note}", pointer)
                    if note == NO_RESOLVER:
                        with_hint(unknown, "resolve_file", None, "no resolve_file")
                    raise unknown from cause
                tokens = most(detail)
                images.append(_new(RequestImage, (
                    pointer, source, url, file_id, detail_given, params.level, None, None, None,
                    tokens, True, note, None, rule, assumed)))
                total += tokens
                continue
            else:
                # an ImageInfo, unpacked once: each of its attributes is a descriptor call
                width, height, image_format, _animated, _undecided = info
                # (the rule is refused_animation's; testing the format first saves a call a still)
                if image_format == "gif" and refused_animation(info, undecided_animation):
                    error = animation_error(info, None)  # (located at its pointer below)
                else:
                    tokens = count(width, height, detail)
                    level = levels.get(detail)
                    if level is None:  # (count accepted the detail, so it has a level)
                        level = levels[detail] = model.detail_params(detail).level
                    images.append(_new(RequestImage, (
                        pointer, source, url, file_id, detail_given, level, width, height,
                        image_format or None, tokens, False, None, None, rule, assumed)))
                    total += tokens
                    continue
        except ImageSizeUnknownError:
            raise
        except VisionTokensError as failure:  # a bad detail, the patch limit ...
            error = failure
        error = violation(error, pointer, on_violation, violations)
        images.append(_new(RequestImage, (pointer, source, url, file_id, detail_given, None,
                                          None, None, None, None, False, None, error, rule,
                                          assumed)))
    check_payload(payload, MAX_PAYLOAD, on_violation, violations)
    return total


#: This walk's namespace of the one cache (each twin of the walk has its own).
_MODELS = rules.namespace(f"request.{IMPLEMENTATION}")


def _resolved_model(name: str, ruleset: str | None, undocumented: str = "error",
                    enforce_patch_limit: bool = True) -> tuple[Any, Any, dict[str, str], Any]:
    """(ModelSpec, its fastest count, detail -> level, its max_tokens) by request model name:
    resolved once per name and policy, in the one cache; levels fill in as details are seen."""
    if ruleset is not None and type(ruleset) is not str:  # get_model raises our error for it
        return _model_record(name, ruleset, undocumented, enforce_patch_limit)
    key = (name, ruleset, undocumented, enforce_patch_limit)
    hit = _MODELS.get(key)
    if hit is None:  # filled under the cache's lock: never from tables a change replaced
        hit = rules.memoised(_MODELS, key, _model_record, name, ruleset, undocumented,
                             enforce_patch_limit)
    return hit  # type: ignore[return-value]


def _model_record(name: str, ruleset: str | None, undocumented: str,
                  enforce_patch_limit: bool) -> tuple[Any, Any, dict[str, str], Any]:
    model = _tokens.get_model(name, ruleset=ruleset, undocumented=undocumented,
                              enforce_patch_limit=enforce_patch_limit)
    return (model.spec, model.count, {}, model.max_tokens)


def count_request(body: Any, *, ruleset: str | None = None, fetch: bool | Fetcher | None = None,
                  resolve_file: FileResolver | None = None, on_unknown: OnUnknown = "error",
                  on_violation: OnViolation = "raise",
                  undecided_animation: UndecidedAnimation = "still",
                  content_type: str | None = None, api: str | None = None,
                  undocumented: UndocumentedPolicy = "error",
                  enforce_patch_limit: bool = True, model: str | None = None) -> RequestCount:
    """The image tokens of a Chat Completions, Responses, Images API, Anthropic Messages or
    Gemini generateContent request body, image by image.

    - ``body``: a dict (SDK objects inside are read as the SDK sends them), its JSON text, or
      bytes / bytearray / memoryview (read in place), or multipart/form-data bytes; or the
      ``BodyBuffer`` a gateway read the body into, chunk by chunk.
    - ``ruleset``: the dated ruleset (default: the newest).
    - ``fetch``: None/False never fetches (a remote image's size is then unknown); True
      fetches with a default :class:`Fetcher` (public addresses only); or a Fetcher.
    - ``resolve_file``: a callable turning a Files API id into the image (bytes, a path, a
      (width, height) pair or an ImageInfo), or None.
    - ``on_unknown``: "error" raises ImageSizeUnknownError for an image of unknown size;
      "upper_bound" counts it at the most any image can cost on the model.
    - ``on_violation``: "raise" raises what the API would refuse; "collect" records it.
    - ``undecided_animation``: a GIF cut short before it can tell is "still" or refused.
    - ``content_type``: the body's content type (multipart/form-data with its boundary).
    - ``api``: the endpoint ("chat", "responses", "images.generations", "images.edits",
      "anthropic.messages", "gemini.generate_content"); default: told by the body's shape.
    - ``undocumented``: "assume" counts a known undocumented model like its closest
      documented one (every figure says so); "error" refuses it.
    - ``enforce_patch_limit``: False drops the 30,000-patch rejection.
    - ``model``: the model the request is served by, when not the body's (a generateContent
      body names none; a gateway's alias).
    """
    fetcher = _options(fetch, on_unknown, on_violation, undecided_animation, undocumented,
                       enforce_patch_limit)
    if resolve_file is not None:
        _check_resolver(resolve_file)
    if model is not None:
        _check_model(model)
    body, images, walked = _classified(body, content_type, api)
    if walked is not None:  # Anthropic Messages, Gemini generateContent
        walked_refs: list[Any] = walked.images
        return _count_walked(walked, _sizes(walked_refs, fetcher, resolve_file), model,
                             ruleset, on_unknown, on_violation, undecided_animation,
                             undocumented, enforce_patch_limit)
    if images is not None:  # spec 6.2: the Images API, walked in _images_api
        _no_model_for_images(model)
        counted: RequestCount = images.count(
            _sizes(images.refs, fetcher, resolve_file), ruleset, on_unknown, on_violation,
            RequestCount, RequestImage, price, undocumented=undocumented,
            undecided_animation=undecided_animation, enforce_patch_limit=enforce_patch_limit)
        return counted
    kind, refs, skipped = _walk(body)
    result = _count(body, kind, refs, _sizes(refs, fetcher, resolve_file), ruleset, on_unknown,
                    on_violation, undecided_animation, tuple(skipped), undocumented,
                    enforce_patch_limit, model)
    return _with_tool(body, result, ruleset, on_violation, undocumented)


def _classified(body: Any, content_type: Any, api: Any) -> tuple[dict[str, Any], Any, Any]:
    """(body, the ImagesRequest of an Images API body or None, the Walked of an Anthropic
    Messages or Gemini body or None). _images_api.classify, without its call for the bodies
    a gateway sees most: JSON with 'messages' or 'input' and nothing said about it is Chat,
    Responses or Anthropic Messages (messages_body tells, at the cost of one look for an
    OpenAI body), and JSON with 'contents' is Gemini's, never the Images API."""
    if api is None and content_type is None:
        size = _body_bytes(body)
        body = _load(body)
        if "messages" in body:
            if messages_body(body):  # (a bytes body's nodes: the walkers read them in place)
                return body, None, _walked(_anthropic, body, size)
            return body, None, None
        if "input" in body:
            return body, None, None
        if "contents" in body:
            return body, None, _walked(_gemini, body, size)
    elif type(api) is str and api in _WALKERS:
        if content_type is not None and _images_api.multipart_boundary(content_type) is not None:
            raise InvalidArgumentError(f"a multipart/form-data body is an images.edits request, "
                                       f"not {api}", argument="api")
        size = _body_bytes(body)
        body = _scanned(body) if isinstance(body, _IN_PLACE) else _load(body)
        return body, None, _walked(_WALKERS[api], body, size)
    # (the Images API's walk reads plain values: a bytes body named as one is loaded so)
    body, images = _images_api.classify(
        body, content_type, api, _load if api is None or api == "chat" or api == "responses"
        else _load_plain, _LOWER)
    return body, images, None


_ANTHROPIC_BLOCKS, _CHAT_PARTS, _CHAT_ROLES = (_anthropic.ANTHROPIC_BLOCKS,
                                               _anthropic.CHAT_PARTS, _anthropic.CHAT_ROLES)


def messages_body(body: dict[str, Any]) -> bool:
    """Whether a body with ``messages`` (and no ``api=``) is an Anthropic Messages body.

    The rule: a top-level ``system`` (Chat Completions has none), or a content block of a type
    only the Messages API has (``image`` with a ``source``, ``tool_result``, ``document`` ...),
    makes it a Messages body; a Chat-only sign (a message whose role is system, developer,
    tool or function, a part of type ``image_url``, ``input_audio`` or ``file``) found first
    makes it Chat Completions, as is every body with neither. The scan stops at the first
    sign, so an OpenAI body costs a look or two. A Chat body that also holds Anthropic blocks
    is counted as Chat; its Anthropic image blocks are noted as skipped.

    (Here, not in ``anthropic``, to run compiled: it runs on every Chat body a gateway sees.
    The block types, part types and roles are ``anthropic``'s.)"""
    if "system" in body:
        return True
    messages: Any = body.get("messages")
    if type(messages) is not list and type(messages) is not _ArrayNode:
        return False
    for message in messages:
        if type(message) is not dict and type(message) is not _ObjectNode:
            return False
        role = message.get("role")
        if type(role) is str and role in _CHAT_ROLES:  # (a list is no role, nor hashable)
            return False
        content = message.get("content")
        if type(content) is not list and type(content) is not _ArrayNode:
            continue
        for part in content:
            if type(part) is not dict and type(part) is not _ObjectNode:
                continue
            kind = part.get("type")
            if type(kind) is not str:
                continue
            if kind in _CHAT_PARTS:
                return False
            if kind in _ANTHROPIC_BLOCKS and (kind != "image" or (
                    "source" in part if type(part) is dict
                    else part.get("source", _MISSING) is not _MISSING)):
                return True
    return False


def _walked(walker: Any, body: dict[str, Any], size: int | None) -> Any:
    walked = walker.walk(body)
    walked.options["request_bytes"] = size
    return walked


#: count_request_async scans and walks a bytes body on a thread when the scan may read this
#: many bytes of it or more: its size, or less for a gateway's BodyBuffer (_scan.read_bound).
OFF_LOOP_BYTES = 1 << 20
#: ... and a smaller one too when it holds more JSON values than this: what a walk costs
#: grows with the values, not the bytes (1 MB of ``[{}, {}, ...]`` walks in a quarter of a
#: second). The scan stops at the limit (TooDense) and the thread starts over.
LOOP_MAX_VALUES = 10_000


def _classified_whole(body: Any, content_type: str | None,
                      api: str | None) -> list[tuple[dict[str, Any], Any, Any]]:
    """_classified with no limit on the scan's values, whatever the caller's context holds,
    in a list of one for the caller to empty: the event loop holds the thread's future, and
    with it this result, until the awaiting task next waits, and the result reads the body
    (a gateway could not reuse the buffer it counted the body in)."""
    SCAN_MAX_VALUES.set(-1)  # (in the thread's own copy of the context)
    return [_classified(body, content_type, api)]


def _load_plain(body: Any) -> dict[str, Any]:
    return _load(body, False)


def _with_tool(body: dict[str, Any], result: RequestCount, ruleset: Any, on_violation: str,
               undocumented: str) -> RequestCount:
    if result.api != "responses" or "tools" not in body:  # (nothing it would add)
        return result
    tools = body["tools"]
    if type(tools) is _ArrayNode or type(tools) is _ObjectNode:  # a scanned body's: small
        body = {"tools": tools.value()}
    with_tool: RequestCount = _images_api.with_generation_tool(body, result, ruleset, on_violation,
                                                               undocumented, _LOWER)
    return with_tool


async def count_request_async(body: Any, *, ruleset: str | None = None, fetch: bool | Fetcher | None = None,
                              resolve_file: FileResolver | None = None, on_unknown: OnUnknown = "error",
                              on_violation: OnViolation = "raise",
                              undecided_animation: UndecidedAnimation = "still",
                              content_type: str | None = None, api: str | None = None,
                              undocumented: UndocumentedPolicy = "error",
                              enforce_patch_limit: bool = True,
                              max_concurrency: object = 16,
                              model: str | None = None) -> RequestCount:
    """:func:`count_request` for async code, with the same parameters: remote images are
    fetched concurrently, at most ``max_concurrency`` (an int) at once, ``resolve_file`` may be
    a coroutine function, and a byte body of 1 MiB or more, or of more than 10,000 JSON
    values, is scanned and walked on a thread, off the event loop (but for a body the ASGI
    middleware read: its base64 was checked as it arrived, so megabytes of images stay on
    the loop)."""
    fetcher = _options(fetch, on_unknown, on_violation, undecided_animation, undocumented,
                       enforce_patch_limit)
    _check_resolver(resolve_file)
    if (not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool)
            or max_concurrency < 1):
        raise InvalidArgumentError(f"max_concurrency must be an int >= 1, got {quoted(max_concurrency)}",
                                   argument="max_concurrency")
    if model is not None:
        _check_model(model)
    if isinstance(body, _IN_PLACE):
        # a large or dense body is scanned on a thread, off the event loop: the scan releases
        # the GIL, so the loop serves other requests meanwhile (issue 20)
        classified: tuple[dict[str, Any], Any, Any] | None = None
        if _scan.read_bound(body) < OFF_LOOP_BYTES:
            limit = SCAN_MAX_VALUES.set(LOOP_MAX_VALUES)
            try:
                classified = _classified(body, content_type, api)
            except TooDense:
                pass
            finally:
                SCAN_MAX_VALUES.reset(limit)
        if classified is None:
            import asyncio

            classified = (await asyncio.to_thread(_classified_whole, body, content_type, api)).pop()
        body, images, walked = classified
    else:
        body, images, walked = _classified(body, content_type, api)
    if walked is not None:  # Anthropic Messages, Gemini generateContent
        walked_refs: list[Any] = walked.images
        sizes = await _sizes_async(walked_refs, fetcher, resolve_file, max_concurrency)
        return _count_walked(walked, sizes, model, ruleset, on_unknown, on_violation,
                             undecided_animation, undocumented, enforce_patch_limit)
    if images is not None:  # spec 6.2: the Images API, walked in _images_api
        _no_model_for_images(model)
        sizes = await _sizes_async(images.refs, fetcher, resolve_file, max_concurrency)
        counted: RequestCount = images.count(sizes, ruleset, on_unknown, on_violation,
                                             RequestCount, RequestImage, price,
                                             undocumented=undocumented,
                                             undecided_animation=undecided_animation,
                                             enforce_patch_limit=enforce_patch_limit)
        return counted
    kind, refs, skipped = _walk(body)
    sizes = await _sizes_async(refs, fetcher, resolve_file, max_concurrency)
    result = _count(body, kind, refs, sizes, ruleset, on_unknown, on_violation,
                    undecided_animation, tuple(skipped), undocumented, enforce_patch_limit,
                    model)
    return _with_tool(body, result, ruleset, on_violation, undocumented)
