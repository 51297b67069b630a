"""The Images API and image generation in count_request (spec 6.2).

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (JSON with
``images: [{image_url} | {file_id}]``, or ``multipart/form-data`` with ``image`` /
``image[]`` file parts) are walked here into one :class:`ImagesRequest`: the input images,
priced by the GPT Image 1 input rule (spec 3.3, with ``input_fidelity``), and the images the
request will generate, priced in output tokens by the output twin. The Responses
``image_generation`` tool adds what one call of it may generate, as an upper bound.

Multipart bodies are untrusted bytes: they are split by a small parser that only searches for
boundaries (``bytes.find``, linear), caps the number of parts and each part's header, copies
no file part, and reads each image only as far as its header (a zero-copy view for the
compiled parser). The request twins (``_request_py`` and its compiled copy) call in here and
pass their own result types, so one walk serves both.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .. import rules
from .._errors import (
    InvalidArgumentError,
    MalformedRequestError,
    TooManyImagesError,
    UnknownModelError,
    VisionTokensError,
    quoted,
)
from ..images.sources import ImageInfo
from ._shapes import BODY_BUFFERS
from .pricing import PUBLIC_SOURCE, ImageRef, malformed, sdk_dict

#: What ``count_request(api=...)`` accepts: which endpoint a body is for.
APIS = ("chat", "responses", "images.generations", "images.edits", "anthropic.messages",
        "gemini.generate_content")
EDIT_IMAGES_MAX = 16  # spec 6.2: an edit takes up to 16 input images
#: ASSUMED (spec 6.2): a mask is not billed as an image. The same is assumed for an edit's
#: "markup" image, which the spec does not name (the SDK documents it for GPT Image 2.5).
UNBILLED = ("mask", "markup")
MASK_RULE = "not billed (ASSUMED)"  # spec 6.2

# Multipart limits: an edits form has about twenty fields and up to 16 images.
PARTS_MAX = 256
PART_HEADER_MAX = 8192  # bytes of one part's header block
FIELD_MAX = 1024  # bytes of a form field this walk reads (model, size, quality ...)
BOUNDARY_MAX = 70  # RFC 2046
CONTENT_TYPE_MAX = 4096  # characters of a content type: a multipart one needs under a hundred



class Lower(NamedTuple):
    """The lower twins a walk runs on, handed in by the request twin calling (of its own
    kind: the pure walk is pure all the way down)."""

    header: Any  # the image-header parser
    tokens: Any  # the input calculator
    output: Any  # the output-token calculator


def _malformed(where: str, what: str) -> MalformedRequestError:
    return malformed(where, what, typed=False)


# --- which API a body is for ---------------------------------------------------------------------

def classify(body: Any, content_type: Any, api: Any,
             load: Callable[[Any], dict[str, Any]], lower: Lower) -> tuple[Any, ImagesRequest | None]:
    """(the body, loaded if it was JSON text, and an ImagesRequest when the body is an
    Images API request, else None). The endpoint is ``api`` when given, else told by the
    content type (multipart is an edit) and the body's shape: a string ``prompt`` and no
    ``messages`` or ``input`` is the Images API, an edit when it carries images."""
    if api is not None and api not in APIS:
        raise InvalidArgumentError(f"api must be one of {', '.join(APIS)} or None, got {quoted(api)}")
    boundary = multipart_boundary(content_type)
    if boundary is not None:
        if api not in (None, "images.edits"):
            raise InvalidArgumentError(
                f"a multipart/form-data body is an images.edits request, not {api}")
        return body, _from_form(_parse_form(body, boundary), lower)
    body = load(body)
    if api is None:
        api = _shape(body)
    if api in ("images.generations", "images.edits"):
        return body, _from_json(body, api, lower)
    if api == "chat" and "messages" not in body:
        raise MalformedRequestError("api='chat', but the body has no 'messages'")
    if api == "responses" and "messages" in body:
        raise MalformedRequestError("api='responses', but the body has 'messages' (Chat Completions)")
    return body, None


def _shape(body: dict[str, Any]) -> str | None:
    if "messages" in body or "input" in body or not isinstance(body.get("prompt"), str):
        return None  # Chat or Responses (whose "prompt" is a stored-prompt object)
    if "images" in body or "image" in body or "mask" in body:
        return "images.edits"
    return "images.generations"


def multipart_boundary(content_type: Any) -> str | None:
    """The boundary of a multipart/form-data content type; None for JSON or no content type."""
    if content_type is None:
        return None
    if not isinstance(content_type, str):
        raise InvalidArgumentError(f"content_type must be a str or None, got {type(content_type).__name__}")
    if len(content_type) > CONTENT_TYPE_MAX:
        raise MalformedRequestError(
            f"the content type has {len(content_type)} characters, over the {CONTENT_TYPE_MAX} read")
    media, _, parameters = content_type.partition(";")
    media = media.strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return None
    if media != "multipart/form-data":
        raise MalformedRequestError(
            f"count_request reads application/json and multipart/form-data bodies, not {quoted(media)}")
    for name, value in _parameters(parameters):
        if name == "boundary":
            if not 1 <= len(value) <= BOUNDARY_MAX:
                raise MalformedRequestError(
                    f"a multipart boundary has 1 to {BOUNDARY_MAX} characters, got {len(value)}")
            return value
    raise MalformedRequestError("the multipart/form-data content type has no boundary")


def _parameters(text: str) -> list[tuple[str, str]]:
    """``; name=value; name="quoted \\" value"`` as (lowercased name, value) pairs (RFC 2045
    parameters, as headers carry them). Linear in the text; a malformed tail is dropped."""
    pairs, at, end = [], 0, len(text)
    while at < end:
        semicolon = text.find(";", at)
        # '=' is looked for up to the next ';' only: searching the whole rest for every
        # parameter made ";;;...;" quadratic (200,000 semicolons took a second)
        equals = text.find("=", at, end if semicolon < 0 else semicolon)
        if equals < 0:  # a bare word without a value: skip it
            if semicolon < 0:
                break
            at = semicolon + 1
            continue
        name = text[at:equals].strip().lower()
        at = equals + 1
        while at < end and text[at] in " \t":
            at += 1
        if at < end and text[at] == '"':
            value, at = [], at + 1
            while at < end and text[at] != '"':
                if text[at] == "\\" and at + 1 < end:
                    at += 1
                value.append(text[at])
                at += 1
            pairs.append((name, "".join(value)))
            at = text.find(";", at)
            at = end if at < 0 else at + 1
        else:
            stop = text.find(";", at)
            stop = end if stop < 0 else stop
            pairs.append((name, text[at:stop].strip()))
            at = stop + 1
    return pairs


# --- multipart/form-data (RFC 7578), bounded -------------------------------------------------------

class _Part:
    __slots__ = ("name", "filename", "start", "end")

    def __init__(self, name: str, filename: str | None, start: int, end: int):
        self.name, self.filename, self.start, self.end = name, filename, start, end


class _Form:
    """A parsed form: its bytes and parts, each part's content as offsets into the bytes."""

    __slots__ = ("data", "parts")

    def __init__(self, data: bytes | bytearray, parts: list[_Part]):
        self.data, self.parts = data, parts


def _parse_form(body: Any, boundary: str) -> _Form:
    if isinstance(body, BODY_BUFFERS):  # a gateway's buffer: the bytes it holds
        body = body.view()
    if isinstance(body, memoryview):
        body = body.tobytes()  # a view has no find(); bytes and bytearray are read in place
    if not isinstance(body, (bytes, bytearray)):
        raise MalformedRequestError(
            f"a multipart/form-data body must be bytes, got {type(body).__name__}")
    try:
        delimiter = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedRequestError("the multipart boundary is not ASCII") from None
    data, size = body, len(body)
    if data.startswith(delimiter):
        at = len(delimiter)
    else:  # a preamble, then the first delimiter on a line of its own
        first = data.find(b"\r\n" + delimiter)
        if first < 0:
            raise MalformedRequestError("the multipart body has no part with its boundary")
        at = first + 2 + len(delimiter)
    parts: list[_Part] = []
    while True:
        if data.startswith(b"--", at):
            return _Form(data, parts)  # the close delimiter; an epilogue may follow
        line_end = data.find(b"\r\n", at, at + 1024)
        if line_end < 0 or data[at:line_end].strip(b" \t"):
            raise MalformedRequestError("a multipart boundary line must end right after the boundary")
        at = line_end + 2
        if data.startswith(b"\r\n", at):  # a part without headers
            header_end, start = at, at + 2
        else:
            header_end = data.find(b"\r\n\r\n", at, at + PART_HEADER_MAX)
            if header_end < 0:
                raise MalformedRequestError(
                    f"a multipart part's headers must end within {PART_HEADER_MAX} bytes")
            start = header_end + 4
        end = data.find(b"\r\n" + delimiter, start)
        if end < 0:
            raise MalformedRequestError("the multipart body ends inside a part (no closing boundary)")
        if len(parts) == PARTS_MAX:
            raise MalformedRequestError(f"the multipart body has more than {PARTS_MAX} parts")
        parts.append(_part(bytes(data[at:header_end]), start, end, len(parts)))
        at = end + 2 + len(delimiter)
        if at >= size:
            raise MalformedRequestError("the multipart body ends without its close delimiter")


def _part(headers: bytes, start: int, end: int, index: int) -> _Part:
    """A part from its header block: its Content-Disposition must be form-data with a name."""
    for line in headers.decode("latin-1").split("\r\n"):
        field, _, value = line.partition(":")
        if field.strip().lower() != "content-disposition":
            continue
        kind, _, rest = value.partition(";")
        params = dict(_parameters(rest))
        if kind.strip().lower() != "form-data" or "name" not in params:
            break
        return _Part(params["name"], params.get("filename"), start, end)
    raise MalformedRequestError(
        f"multipart part {index} has no 'Content-Disposition: form-data; name=...' header")


# --- the walk into one ImagesRequest ---------------------------------------------------------------

# A size, as _request_py keeps it: (ImageInfo or None, payload bytes, note, cause, error).
def _sized(info: ImageInfo | None, payload: int,
           error: VisionTokensError | None) -> tuple[Any, ...]:
    return (info, payload, None, None, error)


class ImagesRequest:
    """An Images API request, walked: the output it asks for and its input images.

    ``refs`` are the JSON images whose size needs the caller's I/O (data URLs, URLs, file
    ids), as the walker contract's ImageRef (requests/pricing.py); ``uploads`` are multipart
    images, already sized: ``(ImageRef, size)``. ``unbilled`` are masks.
    """

    __slots__ = ("api", "model", "size", "quality", "n", "partial_images", "input_fidelity",
                 "refs", "uploads", "unbilled", "lower")

    def __init__(self, api: str, fields: dict[str, Any], lower: Lower):
        self.api = api
        self.lower = lower
        self.size = fields.get("size")
        self.quality = fields.get("quality")
        self.n = fields.get("n")
        self.partial_images = fields.get("partial_images")
        self.input_fidelity = fields.get("input_fidelity")
        self.refs: list[ImageRef] = []
        self.uploads: list[tuple[ImageRef, tuple[Any, ...]]] = []
        self.unbilled: list[tuple[str, str, str | None, str | None]] = []  # pointer, source, url, file id
        model = fields.get("model")
        if model is None:
            # The API's own default is a retired per-image model (the SDK: "Specify a model
            # explicitly"), which has no token price.
            raise _malformed("/model", "an Images API request needs a 'model' (a GPT Image model)")
        self.model: str = model

    def count(self, sizes: list[tuple[Any, ...]], ruleset: Any, on_unknown: str, on_violation: str,
              count_type: Any, image_type: Any, price: Any, undocumented: str = "error",
              undecided_animation: str = "still", enforce_patch_limit: bool = True) -> Any:
        """The RequestCount (the caller's type): input images, priced by the caller's pricing
        loop ``price`` (the request twin's), and output tokens."""
        violations: list[VisionTokensError] = []
        output, model_id = self._output(ruleset, undocumented, on_violation, violations)
        refs = self.refs + [ref for ref, _ in self.uploads]
        sizes = list(sizes) + [size for _, size in self.uploads]
        images: list[Any] = []
        total = 0
        if refs:
            total = _price_inputs(self, model_id, refs, sizes, ruleset, on_unknown, on_violation,
                                  violations, images, price, undocumented, undecided_animation,
                                  enforce_patch_limit)
        for pointer, source, url, file_id in self.unbilled:
            images.append(image_type(pointer, source, url, file_id, None, None, None, None,
                                     None, 0, rule=MASK_RULE))
        return count_type(model_id, self.api, total, tuple(images), tuple(violations),
                          output_image_tokens=0 if output is None else output.tokens,
                          output_upper_bound=False if output is None else output.upper_bound)

    def _output(self, ruleset: Any, undocumented: str, on_violation: str,
                violations: list[VisionTokensError]) -> tuple[Any, str]:
        model = _output_model(self.lower, self.model, ruleset, undocumented, "/model")
        try:
            return model.explain(self.size, self.quality, 1 if self.n is None else self.n,
                                 0 if self.partial_images is None else self.partial_images), model.id
        except VisionTokensError as error:  # what the API would refuse: a violation
            located = error.located(_argument_pointer(error))
            if on_violation == "raise":
                raise located from None
            violations.append(located)
            return None, model.id


def _output_model(lower: Lower, name: str, ruleset: Any, undocumented: str, where: str,
                  omitted: bool = False) -> Any:
    try:
        return lower.output.get_output_model(name, ruleset=ruleset, undocumented=undocumented)
    except UnknownModelError as error:  # UndocumentedModelError included: always raised
        located = error.located(where)
        if omitted:
            located.message = f"(omitted, so the tool's default) {located.message}"
        raise located from None


def _argument_pointer(error: VisionTokensError) -> str:
    """Where an output-argument error points: the request field of the argument at fault
    (size, quality, n, partial_images: each named by the error's ``argument``)."""
    return "" if error.argument is None else "/" + error.argument


_STRING_FIELDS = ("model", "size", "quality", "input_fidelity")
_INT_FIELDS = ("n", "partial_images")


def _from_json(body: dict[str, Any], api: str, lower: Lower) -> ImagesRequest:
    fields: dict[str, Any] = {}
    for key in _STRING_FIELDS:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise _malformed(f"/{key}", f"'{key}' must be a string, got {type(value).__name__}")
        fields[key] = value
    for key in _INT_FIELDS:
        value = body.get(key)
        if value is not None and (type(value) is not int):
            raise _malformed(f"/{key}", f"'{key}' must be an integer, got {type(value).__name__}")
        fields[key] = value
    request = ImagesRequest(api, fields, lower)
    if api == "images.generations":
        return request  # spec 6.2: no input image
    images = body.get("images")
    if not isinstance(images, list) or not images:
        raise _malformed("/images", "an images.edits JSON body needs 'images', a non-empty list of "
                         "{'image_url': ...} or {'file_id': ...}")
    _check_count(len(images))  # before any image is sized, fetched or resolved
    for k, image in enumerate(images):
        request.refs.append(_image_ref(*_reference(image, f"/images/{k}")))
    mask = body.get("mask")
    if mask is not None:
        ref = _image_ref(*_reference(mask, "/mask"))
        file_id = ref.value if ref.kind == "file_id" else (ref.options or {}).get("file_id")
        request.unbilled.append((ref.pointer, PUBLIC_SOURCE[ref.kind],
                                 ref.value if ref.kind == "url" else None, file_id))
    return request


def _check_count(images: int) -> None:
    """spec 6.2: up to 16 input images. More is refused before any is read: the API would
    refuse the request whole, and a body of 100,000 URLs must not start 100,000 fetches."""
    if images > EDIT_IMAGES_MAX:
        raise TooManyImagesError(
            f"an edit takes up to {EDIT_IMAGES_MAX} input images, this one has {images}")


def _reference(item: Any, where: str) -> tuple[str, str | None, str | None]:
    if not isinstance(item, dict):
        raise _malformed(where, f"an image must be an object with 'image_url' or 'file_id', "
                         f"got {type(item).__name__}")
    url, file_id = item.get("image_url"), item.get("file_id")
    for key, value in (("image_url", url), ("file_id", file_id)):
        if value is not None and not isinstance(value, str):
            raise _malformed(f"{where}/{key}", f"'{key}' must be a string, got {type(value).__name__}")
    if url is None and file_id is None:
        raise _malformed(where, "an image needs an 'image_url' or a 'file_id'")
    return where, url, file_id


def _image_ref(where: str, url: str | None, file_id: str | None) -> ImageRef:
    """An image of the Images API as the walker contract's ImageRef: no detail (spec 6.2:
    the input rule has none); a URL wins over a file id given with it, the id kept."""
    if url is None:
        return ImageRef(where, "file_id", file_id, None, None)
    kind = "data_url" if url[:5].lower() == "data:" else "url"
    return ImageRef(where, kind, url, None, None if file_id is None else {"file_id": file_id})


def _from_form(form: _Form, lower: Lower) -> ImagesRequest:
    """An edit from its form: the fields this count needs, then the image parts, sized."""
    fields: dict[str, Any] = {}
    images: list[_Part] = []
    unbilled: list[_Part] = []
    for part in form.parts:
        name = part.name
        if name == "image" or name == "image[]" or (name.startswith("image[") and name.endswith("]")
                                                    and name[6:-1].isdigit()):
            images.append(part)
        elif name in UNBILLED:
            unbilled.append(part)
        elif name in _STRING_FIELDS or name in _INT_FIELDS:
            if name in fields:
                raise _malformed(f"/{name}", f"the form has '{name}' more than once")
            fields[name] = _field(form, part)
    for key in _INT_FIELDS:
        if fields.get(key) is not None:
            value = fields[key]
            if not (value.isascii() and value.isdigit() and len(value) <= 6):
                raise _malformed(f"/{key}", f"'{key}' must be an integer, got {quoted(value)}")
            fields[key] = int(value)
    request = ImagesRequest("images.edits", fields, lower)
    if not images:
        raise _malformed("/image", "an images.edits form needs an 'image' or 'image[]' file part")
    _check_count(len(images))
    view = memoryview(form.data)
    for k, part in enumerate(images):
        request.uploads.append((ImageRef(f"/image/{k}", "upload", None, None, None),
                                _size_of_part(lower.header, view[part.start:part.end])))
    for part in unbilled:
        request.unbilled.append((f"/{part.name}", "upload", None, None))
    return request


def _field(form: _Form, part: _Part) -> str:
    if part.end - part.start > FIELD_MAX:
        raise _malformed(f"/{part.name}", f"'{part.name}' is longer than {FIELD_MAX} bytes")
    try:
        return bytes(form.data[part.start:part.end]).decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(f"/{part.name}", f"'{part.name}' is not UTF-8") from None


def _size_of_part(header: Any, view: memoryview) -> tuple[Any, ...]:
    """An uploaded image's size from its header only: the parser reads a few bytes of the
    view (the compiled one copies nothing)."""
    try:
        return _sized(header.parse_buffer(view), len(view), None)
    except VisionTokensError as error:
        return _sized(None, len(view), error)


# --- input images: GPT Image 1's rule (spec 3.3) ------------------------------------------------

def _price_inputs(request: ImagesRequest, model_id: str, refs: list[ImageRef],
                  sizes: list[tuple[Any, ...]], ruleset: Any, on_unknown: str, on_violation: str,
                  violations: list[VisionTokensError], images: list[Any], price: Any,
                  undocumented: str, undecided_animation: str, enforce_patch_limit: bool) -> int:
    """The input images, priced by the one pricing loop with GPT Image 1's input rule."""
    try:  # spec 3.3 for gpt-image-1; any other image model: the undocumented rule (spec 3.5)
        calculator = request.lower.tokens.get_model(request.model, ruleset=ruleset, undocumented=undocumented,
                                       enforce_patch_limit=enforce_patch_limit)
    except UnknownModelError as unknown:
        raise unknown.located("/model") from None
    fidelity = _input_fidelity(request, model_id, ruleset, undocumented)
    spec = calculator.spec
    # (input fidelity's rule: spec 3.3)
    rule = (f"{spec.id} input, input_fidelity {fidelity or 'low'}"
            if spec.status != "registered" else f"{spec.id}: registered parameters")
    assumed = getattr(spec, "assumed_from", None)
    if assumed:
        rule = f"assumed like {assumed}: " + rule

    def count(width: int, height: int, detail: str) -> int:
        tokens: int = calculator.count(width, height, detail, input_fidelity=fidelity)
        return tokens

    def most(detail: str) -> int:
        return _most(calculator, fidelity)

    total: int = price(spec, count, {}, refs, sizes, on_unknown, on_violation,
                       undecided_animation, violations, images, most, rule, None)
    return total


def _most(calculator: Any, fidelity: str | None) -> int:
    """The most an image of unknown size can cost: the largest tile cost, plus the larger
    fidelity extra (square or not, spec 3.3); a single tile isolates the extra."""
    extra = max(calculator.count(1, h, "auto", input_fidelity=fidelity) - calculator.count(1, h, "auto")
                for h in (1, 2))
    # the resolved model's own bound: never the name resolved again (that lost the policy)
    return int(calculator.max_tokens("auto") + extra)


def _input_fidelity(request: ImagesRequest, model_id: str, ruleset: Any,
                    undocumented: str) -> str | None:
    """input_fidelity as the model takes it (spec 6.2): as given on gpt-image-1 and 1.5,
    always high on gpt-image-2 (whose edits take no such parameter)."""
    given = request.input_fidelity
    if given is not None and given not in ("low", "high"):
        raise _malformed("/input_fidelity", f"'input_fidelity' is 'low' or 'high', got {quoted(given)}")
    output = rules.resolve_output(model_id, ruleset, undocumented)
    return "high" if output.input_fidelity == "always high" else given


# --- the Responses image_generation tool --------------------------------------------------------

def with_generation_tool(body: dict[str, Any], result: Any, ruleset: Any, on_violation: str,
                         undocumented: str, lower: Lower) -> Any:
    """A Responses result with what its ``image_generation`` tool may generate: the most one
    call of the tool can cost in output tokens, always an upper bound (the model may not
    call it). ASSUMED: one image per call."""
    if result.api != "responses":
        return result
    tools = body.get("tools")
    if tools is None:
        return result
    if not isinstance(tools, (list, tuple)):
        raise _malformed("/tools", f"'tools' must be a list, got {type(tools).__name__}")
    most, violations = -1, list(result.violations)
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):  # an SDK object (a previous response's tools): as sent
            tool = sdk_dict(tool, f"/tools/{i}")
        if not isinstance(tool, dict) or tool.get("type") != "image_generation":
            continue
        where = f"/tools/{i}"
        fields = {}
        for key in ("model", "size", "quality"):
            value = tool.get(key)
            if value is not None and not isinstance(value, str):
                raise _malformed(f"{where}/{key}", f"'{key}' must be a string, got {type(value).__name__}")
            fields[key] = value
        partial_images = tool.get("partial_images")
        if partial_images is not None and type(partial_images) is not int:
            raise _malformed(f"{where}/partial_images",
                             f"'partial_images' must be an integer, got {type(partial_images).__name__}")
        table = rules.output_table(ruleset)
        name = fields["model"]
        if name is None:  # the tool's default model, as the SDK documents it
            name, omitted = table.tool_default_model, True
        else:
            omitted = False
        model = _output_model(lower, name, ruleset, undocumented, f"{where}/model", omitted)
        try:
            cost = model.explain(fields["size"], fields["quality"], 1,
                                 0 if partial_images is None else partial_images)
        except VisionTokensError as error:
            located = error.located(where + _argument_pointer(error))
            if on_violation == "raise":
                raise located from None
            violations.append(located)
            continue
        most = max(most, cost.tokens)
    if most < 0 and len(violations) == len(result.violations):
        return result
    return result._replace(output_image_tokens=max(most, 0), output_upper_bound=True,
                           violations=tuple(violations))
