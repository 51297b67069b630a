"""The Anthropic Messages API in count_request (``api="anthropic.messages"``).

:func:`walk` finds every image of a ``POST /v1/messages`` body (providers 1.7): image blocks
in ``messages[i].content``, image blocks inside a ``tool_result``'s content, and image blocks
inside a ``document`` whose source is ``{"type": "content", "content": [...]}`` (also inside a
tool result). Each image block has a ``base64`` (``media_type`` + ``data``), ``url`` or
``file`` (``file_id``) source, and may carry ``transformations.oversized_image``. It returns
the walker contract's records (``requests/pricing.py``); pricing prices them by the model's
rule (the Claude tiers, providers 1.1).

:func:`check_limits` turns the documented request limits (providers 1.3) into violations
with codes, between sizing and pricing: per-image ones become the image's error, whole-request
ones are returned. Labels (DOCUMENTED / ASSUMED) are on each constant.

How a body is told to be a Messages body when ``api=`` is not given: :func:`detect`.
"""

from __future__ import annotations

import re
from typing import Any

from .._errors import (
    ImageDimensionsTooLargeError,
    ImageTooLargeError,
    OversizedImageError,
    RequestTooLargeError,
    TooManyImagesError,
    UnsupportedImageFormatError,
    UnsupportedImageSourceError,
    VisionTokensError,
)
from ._shapes import (
    MAX_IMAGES_WALKED,
    ImageRef,
    SkippedPart,
    Walked,
    as_dict,
    as_list,
    block_type,
    is_text,
    malformed,
    optional_str,
    required_str,
    text,
)

API = "anthropic.messages"

# --- limits (providers 1.3) ----------------------------------------------------------------------

#: DOCUMENTED (providers 1.3): the media types an image source may declare.
FORMATS = ("image/jpeg", "image/png", "image/gif", "image/webp")
#: DOCUMENTED (providers 1.3): the most pixels per side of any image.
MAX_SIDE = 8000
#: DOCUMENTED (providers 1.3): a request with more than this many images (every image block,
#: tool results included; on Bedrock and Vertex document blocks too) gets a stricter limit.
MANY_IMAGES = 20
#: The stricter per-side limit of a many-image request. The docs give it as guidance ("keep
#: each side <= 2000 px") and name no other number; ASSUMED: the API enforces that number.
MANY_IMAGES_MAX_SIDE = 2000
#: DOCUMENTED (providers 1.3): images per request, 100 for models with a 200k-token context
#: window and 600 for all others. Which models have only 200k is ASSUMED (see max_images).
MAX_IMAGES_200K, MAX_IMAGES_OTHER = 100, 600
#: "MB" read as 2**20 bytes (ASSUMED: the reading that never refuses what the API takes).
MB = 2**20
#: DOCUMENTED (providers 1.3): base64 bytes per image: 10 MB on the Claude API, 5 MB on
#: Amazon Bedrock and Google Cloud Vertex AI. Measured as the base64 text's length.
MAX_BASE64_DIRECT, MAX_BASE64_CLOUD = 10 * MB, 5 * MB
#: DOCUMENTED (providers 1.3): request size, 32 MB on standard endpoints, 30 MB on Vertex.
#: Bedrock's own limit is not given: the standard one is applied (ASSUMED).
MAX_REQUEST_DIRECT, MAX_REQUEST_VERTEX = 32 * MB, 30 * MB

PLATFORMS = ("anthropic", "bedrock", "vertex")

#: Parts noted as not counted (RequestCount.skipped), and why.
DOCUMENT_REASON = "a document (PDF or text), not an image: billed by the PDF rules, not counted"


# --- the walk (providers 1.7) --------------------------------------------------------------------

def walk(body: dict[str, Any]) -> Walked:
    """The images of a Messages body, in body order, and the parts not counted."""
    if "messages" not in body:
        raise malformed("", "an Anthropic Messages body needs 'messages'", typed=False)
    model = body.get("model")
    if model is not None:
        if not is_text(model):
            raise malformed("/model", "'model' must be a string", model)
        model = text(model)
    system = body.get("system")
    if system is not None and not is_text(system):
        as_list(system, "/system", "'system' must be a string or a list of text blocks")
    walker = _Walker()
    messages = as_list(body["messages"], "/messages", "'messages' must be a list")
    for i, message in enumerate(messages):
        where = f"/messages/{i}"
        message = as_dict(message, where, "a message must be an object")
        content = message.get("content")
        if content is None or is_text(content):
            continue
        blocks = as_list(content, f"{where}/content",
                         "'content' must be a string or a list of content blocks")
        walker.blocks(blocks, f"{where}/content", 0)
    return Walked(API, model, walker.refs, walker.skipped,
                  {"documents": walker.documents, "document_bytes": walker.document_bytes})


class _Walker:
    __slots__ = ("refs", "skipped", "documents", "document_bytes")

    def __init__(self) -> None:
        self.refs: list[ImageRef] = []
        self.skipped: list[SkippedPart] = []
        self.documents = 0  # document blocks (they count towards the many-image limit on clouds)
        self.document_bytes = 0  # base64 text of documents (part of the request's size)

    def blocks(self, blocks: list[Any], where: str, depth: int) -> None:
        """depth 0: a message's content; 1: a tool result's or a document's content; 2: a
        document's content inside a tool result (nothing nests deeper, providers 1.7)."""
        for j, block in enumerate(blocks):
            at = f"{where}/{j}"
            block = as_dict(block, at, "a content block must be an object")
            kind = block_type(block, at)
            if kind == "image":
                if len(self.refs) >= MAX_IMAGES_WALKED:
                    raise TooManyImagesError(
                        f"the request holds more than {MAX_IMAGES_WALKED} images, more than "
                        f"any model takes")
                self.refs.append(image_ref(block, at))
            elif kind == "tool_result" and depth == 0:
                content = block.get("content")
                if content is not None and not is_text(content):
                    self.blocks(as_list(content, f"{at}/content",
                                        "a tool result's 'content' must be a string or a list "
                                        "of content blocks"), f"{at}/content", 1)
            elif kind == "document" and depth < 2:
                self.document(block, at, depth)

    def document(self, block: dict[str, Any], at: str, depth: int) -> None:
        self.documents += 1
        source = as_dict(block.get("source"), f"{at}/source",
                         "a document block's 'source' must be an object")
        kind = block_type(source, f"{at}/source")
        if kind == "content":  # providers 1.7: text and image blocks
            content = source.get("content")
            if content is not None and not is_text(content):
                self.blocks(as_list(content, f"{at}/source/content",
                                    "a content source's 'content' must be a string or a list "
                                    "of content blocks"), f"{at}/source/content", depth + 1)
            return
        if kind == "base64":
            data = source.get("data")
            if is_text(data):
                self.document_bytes += len(data)
        self.skipped.append(_skipped(at, "document", DOCUMENT_REASON))


def _skipped(pointer: str, kind: str, reason: str) -> SkippedPart:
    return SkippedPart(pointer, kind, reason)


def image_ref(block: dict[str, Any], where: str) -> ImageRef:
    """One image block (providers 1.7) as an ImageRef: ``base64`` -> ("base64",
    (media_type, data)), ``url`` -> ("url", url), ``file`` -> ("file_id", id). Claude has no
    detail level: detail is None; ``{"oversized_image": ...}`` is the per-image option."""
    source = as_dict(block.get("source"), f"{where}/source",
                     "an image block's 'source' must be an object")
    kind = block_type(source, f"{where}/source")
    options = None
    transformations = block.get("transformations")
    if transformations is not None:
        transformations = as_dict(transformations, f"{where}/transformations",
                                  "'transformations' must be an object")
        oversized = optional_str(transformations, "oversized_image", f"{where}/transformations")
        if oversized is not None:
            if oversized not in ("downsize", "error"):  # providers 1.2
                raise malformed(f"{where}/transformations/oversized_image",
                                f"'oversized_image' must be 'downsize' or 'error', got "
                                f"{oversized[:40]!r}", typed=False)
            options = {"oversized_image": oversized}
    if kind == "base64":
        media_type = required_str(source, "media_type", f"{where}/source",
                                  "a base64 source's 'media_type' must be a string")
        data = source.get("data")
        if type(data) is not str:
            if isinstance(data, str):
                data = str(data)
            elif not is_text(data):  # (a BodyString, a scanned body's base64, stays where it lies)
                # the SDK also takes a file or a path here, and base64-encodes it when it
                # sends: count the body it sends (its JSON), or the params with the base64
                raise malformed(f"{where}/source/data",
                                "a base64 source's 'data' must be a base64 string", data)
        return ImageRef(where, "base64", (media_type, data), None, options)
    if kind == "url":
        url = required_str(source, "url", f"{where}/source", "a url source's 'url' must be a string")
        return ImageRef(where, "url", url, None, options)
    if kind == "file":
        file_id = required_str(source, "file_id", f"{where}/source",
                               "a file source's 'file_id' must be a string")
        return ImageRef(where, "file_id", file_id, None, options)
    raise malformed(f"{where}/source/type",
                    f"an image source's 'type' must be 'base64', 'url' or 'file', got "
                    f"{str(kind)[:40]!r}", typed=False)


# --- which API a body with "messages" is for -----------------------------------------------------

#: Content block types only the Messages API has (providers 1.7; SDK MessageContentParam).
ANTHROPIC_BLOCKS = frozenset(("image", "tool_result", "tool_use", "document", "thinking",
                              "redacted_thinking", "search_result", "server_tool_use",
                              "container_upload"))
#: Part types and roles only Chat Completions has. (Which API a body is for is told by
#: ``_request_py.messages_body``, compiled with the walk: it runs on every Chat body.)
CHAT_PARTS = frozenset(("image_url", "input_audio", "file", "refusal"))
CHAT_ROLES = frozenset(("system", "developer", "tool", "function"))


# --- the model: platform and image limit ---------------------------------------------------------

_PREFIXES = re.compile(r"^(?:(?:anthropic|bedrock|vertex_ai|bedrock/converse|bedrock/invoke)/)+")
_REGION = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.")
_NEW = re.compile(r"^claude-(opus|sonnet|haiku|fable|mythos)-(\d+)(?:-(\d{1,2}))?(?:-|$)")
_OLD = re.compile(r"^claude-(\d+)(?:-(\d{1,2}))?-(opus|sonnet|haiku)")


def platform(model: str | None) -> str:
    """Where a model id is served, from its form (providers 1.4; the grammar is ASSUMED from
    observed ids): "bedrock" for ``anthropic.…``/``us.anthropic.…``/``…-v1:0`` and LiteLLM's
    ``bedrock/…``; "vertex" for ``…@20250929`` and ``vertex_ai/…``; else "anthropic"."""
    if not model:
        return "anthropic"
    name = model.lower()
    if name.startswith("bedrock/") or _REGION.match(name) or re.search(r"-v\d+:\d+$", name):
        return "bedrock"
    if name.startswith("vertex_ai/") or "@" in name:
        return "vertex"
    return "anthropic"


def _version(model: str) -> tuple[str, int, int] | None:
    """(family, major, minor) of a Claude id in any form, or None."""
    name = _REGION.sub("", _PREFIXES.sub("", model.lower()))
    name = re.sub(r"(?:@\d{8}|-v\d+:\d+|-\d{8})$", "", name).replace(".", "-")
    name = re.sub(r"-\d{8}$", "", name)
    found = _NEW.match(name)
    if found:
        return found[1], int(found[2]), int(found[3] or 0)
    found = _OLD.match(name)
    if found:
        return found[3], int(found[1]), int(found[2] or 0)
    return None


def max_images(model: str | None) -> int:
    """Images per request for a model (providers 1.3: 100 with a 200k-token context window,
    600 for all others). ASSUMED which models have only 200k: every Claude 3.x model, Haiku
    4.5 and older Haikus, Opus 4, 4.1 and 4.5; every other model (Sonnet 4 and later, which
    offer 1M, Opus 4.6 and later, ids not parsed) gets 600, so a gateway never refuses a
    request the API takes."""
    version = _version(model) if model else None
    if version is None:
        return MAX_IMAGES_OTHER
    family, major, minor = version
    if major < 4 or (family == "haiku" and major < 5) or (
            family == "opus" and major == 4 and minor <= 5):
        return MAX_IMAGES_200K
    return MAX_IMAGES_OTHER


# --- the limits as violations (providers 1.3) ----------------------------------------------------

def check_limits(refs: list[ImageRef], sizes: list[tuple[Any, ...]], model: str | None,
                 options: dict[str, Any], request_bytes: int | None,
                 needs_resize: Any = None) -> tuple[list[tuple[Any, ...]], list[VisionTokensError]]:
    """The documented limits (providers 1.3) over a walked and sized request: (sizes, with an
    image over a per-image limit turned into that image's error, and the whole-request
    violations). ``needs_resize(width, height)`` says whether the model would resize an image
    (for ``oversized_image: "error"``); ``request_bytes`` is the body's size when it came as
    JSON text, else None (then the base64 it holds stands for it: a lower bound)."""
    where = platform(model)
    cloud = where != "anthropic"
    per_image = MAX_BASE64_CLOUD if cloud else MAX_BASE64_DIRECT
    blocks = len(refs) + (options.get("documents", 0) if cloud else 0)
    many = blocks > MANY_IMAGES
    side = MANY_IMAGES_MAX_SIDE if many else MAX_SIDE
    out: list[tuple[Any, ...]] = []
    inline = options.get("document_bytes", 0)
    for ref, size in zip(refs, sizes):
        pointer, kind, value, _, image_options = ref
        error = size[4]
        if kind == "base64":
            inline += len(value[1])
        if error is None:
            error = _image_error(kind, value, size[0], image_options, where, per_image, side,
                                 many, needs_resize)
        out.append(size if error is None else (None, size[1], None, None,
                                               error if error.pointer else _at(error, pointer)))
    violations: list[VisionTokensError] = []
    most = max_images(model)
    if len(refs) > most:
        violations.append(TooManyImagesError(
            f"the request holds {len(refs)} images, over the {most} per request "
            f"{model or 'the model'} takes"))
    size_limit = MAX_REQUEST_VERTEX if where == "vertex" else MAX_REQUEST_DIRECT
    total = request_bytes if request_bytes is not None else inline
    if total > size_limit:
        violations.append(RequestTooLargeError(
            f"the request is {total} bytes, over the {size_limit} bytes "
            f"({size_limit // MB} MB) allowed"))
    return out, violations


def _at(error: VisionTokensError, pointer: str) -> VisionTokensError:
    error.pointer = pointer
    return error


def _image_error(kind: str, value: Any, info: Any, options: dict[str, Any] | None, where: str,
                 per_image: int, side: int, many: bool,
                 needs_resize: Any) -> VisionTokensError | None:
    if where != "anthropic" and kind != "base64":  # providers 1.3: base64 only on clouds
        return UnsupportedImageSourceError(
            f"{'Amazon Bedrock' if where == 'bedrock' else 'Google Cloud Vertex AI'} takes "
            f"base64 image sources only, not a {'URL' if kind == 'url' else 'Files API'} source")
    if kind == "base64":
        media_type, data = value
        if media_type.lower() not in FORMATS:
            return UnsupportedImageFormatError(
                f"the media type {media_type[:40]!r} is not one Claude takes "
                f"({', '.join(FORMATS)})")
        if len(data) > per_image:
            return ImageTooLargeError(
                f"the image's base64 is {len(data)} bytes, over the {per_image} bytes "
                f"({per_image // MB} MB) per image allowed"
                + (" on this platform" if per_image == MAX_BASE64_CLOUD else ""))
    if info is None:
        return None
    width, height = info.width, info.height
    if width > side or height > side:
        why = (f" in a request of more than {MANY_IMAGES} images (a many-image request)"
               if many and side == MANY_IMAGES_MAX_SIDE else "")
        return ImageDimensionsTooLargeError(
            f"the image is {width}x{height}, over the {side} px per side allowed{why}")
    if options is not None and options.get("oversized_image") == "error" and needs_resize is not None:
        if needs_resize(width, height):
            return OversizedImageError(
                f"the image is {width}x{height}, which the model would resize, and its "
                f"transformations say oversized_image: 'error'")
    return None
