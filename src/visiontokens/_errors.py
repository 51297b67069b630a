"""One exception hierarchy for both implementations.

Every error subclasses :class:`VisionTokensError` and the matching builtin (``ValueError``,
or ``TypeError`` for an argument of the wrong type), so callers can catch either. The
message builders below are shared by the Cython core and the pure-Python reference, which is
what makes their messages identical by construction.
"""

from __future__ import annotations

from ._spec import MAX_DIMENSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from typing import Iterable, Sequence

__all__ = [
    "VisionTokensError",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "UnknownModelError",
    "UndocumentedModelError",
    "UnknownRulesetError",
    "UnsupportedDetailError",
    "InvalidDimensionsError",
    "DimensionTypeError",
    "ImageRejectedError",
    "UnsupportedSizeError",
    "UnsupportedQualityError",
    "InvalidImageError",
    "UnsupportedImageFormatError",
    "TruncatedImageError",
    "CorruptImageError",
    "AnimatedImageError",
    "InvalidDataURLError",
    "MalformedRequestError",
    "RequestLimitError",
    "TooManyImagesError",
    "PayloadTooLargeError",
    "RequestTooLargeError",
    "ImageTooLargeError",
    "ImageDimensionsTooLargeError",
    "OversizedImageError",
    "UnsupportedImageSourceError",
    "ImageSizeUnknownError",
    "FetchError",
    "BlockedAddressError",
    "DetailNotApplicableError",
    "AspectRatioError",
    "NoUpperBoundError",
    "ArgumentNotApplicableError",
]


class VisionTokensError(Exception):
    """Base of every error this library raises on purpose.

    Errors are data (as pydantic-core's are): ``code`` is a stable snake_case name for what
    went wrong (a class default, see :func:`error_codes`), ``pointer`` the JSON pointer of the
    request value at fault (or None), ``row`` the row of a batch or column (or None),
    ``argument`` the parameter at fault (or None), and ``message`` the text without its
    location. ``str(error)`` composes them; no caller needs to parse it."""

    #: The stable name of this kind of error; an instance may carry a more precise one.
    code: str = "error"
    #: Row of a batch the error belongs to (set by the batch API), else None.
    row: int | None = None
    #: JSON pointer of the request value at fault ("" is the whole body), else None.
    #: ``str(error)`` names it when it points below the body.
    pointer: str | None = None
    #: The parameter at fault ("quality", "on_unknown" ...), else None.
    argument: str | None = None
    #: Advice as data: ``(argument, value)``, the keyword that would help and its value
    #: (``("undocumented", "assume")``), else None; ``hint_text`` is the phrase of the message
    #: that gives it, which the command line replaces with its flag (see :func:`with_hint`).
    hint: tuple[str, object] | None = None
    hint_text: str | None = None

    def __init__(self, message: str = "", *, code: str | None = None,
                 pointer: str | None = None, row: int | None = None,
                 argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if pointer is not None:
            self.pointer = pointer
        if row is not None:
            self.row = row
        if argument is not None:
            self.argument = argument

    def __str__(self) -> str:
        message = getattr(self, "message", None)
        if message is None:  # (an instance made without __init__)
            message = self.args[0] if self.args else ""
        if self.pointer:  # ("" is the whole body: the message says so)
            message = f"{self.pointer}: {message}"
        if self.row is not None:
            message = f"row {self.row}: {message}"
        return str(message)

    def _copy(self, **attributes: object) -> "VisionTokensError":
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(attributes)
        clone.args = self.args
        clone.__cause__ = self.__cause__
        return clone

    def located(self, pointer: str) -> "VisionTokensError":
        """A copy of this error at JSON pointer ``pointer`` (a pointer the error already has
        is kept below it: ``/model`` then ``/tools/0`` gives ``/tools/0/model``), its other
        attributes and cause kept: one error raised where it is understood."""
        inner = self.pointer
        return self._copy(pointer=pointer if not inner else pointer + inner)

    def at_row(self, row: int) -> "VisionTokensError":
        """A copy of this error at batch row ``row``."""
        return self._copy(row=row)

    def unlocated(self) -> "VisionTokensError":
        """A copy of this error without its batch row."""
        return self._copy(row=None)

    def as_dict(self) -> dict[str, object]:
        """The error as JSON-safe data: ``{code, message, pointer, row, argument}``."""
        return {"code": self.code, "message": self.message if hasattr(self, "message") else str(self),
                "pointer": self.pointer, "row": self.row, "argument": self.argument}


class InvalidArgumentError(VisionTokensError, ValueError):
    """An argument has an allowed type but a value outside its domain."""

    code = "invalid_argument"


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """An argument has the wrong type (a number for a model name, say)."""

    code = "argument_type"


class UnknownModelError(VisionTokensError, ValueError):
    """The model name matches no model of the ruleset."""

    code = "unknown_model"

    def __init__(self, message: str, model: str = "", suggestions: Sequence[str] = ()):
        super().__init__(message)
        self.model = model
        self.suggestions = tuple(suggestions)


class UndocumentedModelError(UnknownModelError):
    """A real model whose input-token rule OpenAI does not document.

    ``like`` is the closest documented model, the one ``undocumented="assume"`` counts it
    like; ``evidence`` is what that rests on ("measured-auto-only" or "none")."""

    code = "undocumented_model"

    def __init__(self, message: str, model: str = "", suggestions: Sequence[str] = (),
                 like: str | None = None, evidence: str | None = None):
        super().__init__(message, model, suggestions)
        self.like = like
        self.evidence = evidence


class UnknownRulesetError(VisionTokensError, ValueError):
    """No ruleset has that name."""

    code = "unknown_ruleset"


class UnsupportedDetailError(VisionTokensError, ValueError):
    """The detail level is not a level at all, or not one this model supports."""

    code = "unsupported_detail"


class InvalidDimensionsError(VisionTokensError, ValueError):
    """A width or height that is not a whole number of pixels in range."""

    code = "invalid_dimensions"


class DetailNotApplicableError(UnsupportedDetailError):
    """The model has no detail levels (Claude, Mistral, Qwen, Amazon Nova): only None or
    "auto" is accepted."""

    code = "detail_not_applicable"


class AspectRatioError(InvalidDimensionsError):
    """The model's processor refuses the image's aspect ratio (Qwen: more than 200 to 1)."""

    code = "aspect_ratio_too_large"


class NoUpperBoundError(VisionTokensError, ValueError):
    """No size limit is documented for the model, so no image cost is the most an image of
    unknown size can cost (Gemini 1.5 and 2.x tiles)."""

    code = "no_upper_bound"


class ArgumentNotApplicableError(InvalidArgumentError):
    """An argument that only some models take (``min_pixels``/``max_pixels``: Qwen) was
    given for a model it does not apply to."""

    code = "argument_not_applicable"


class DimensionTypeError(InvalidDimensionsError, TypeError):
    """A width or height of the wrong type: a float, a bool, a string ..."""

    code = "dimension_type"


class ImageRejectedError(VisionTokensError, ValueError):
    """The API would reject the image: too many patches after resizing."""

    code = "image_rejected"

    def __init__(self, message: str, patches: int = 0, limit: int = 0):
        super().__init__(message)
        self.patches = patches
        self.limit = limit


class UnsupportedSizeError(InvalidDimensionsError):
    """A size the image model cannot generate: not one of its sizes, or outside
    its flexible-size limits. ``model`` and ``size`` say which."""

    code = "unsupported_size"

    def __init__(self, message: str, model: str = "", size: object = None):
        super().__init__(message)
        self.model = model
        self.size = size


class UnsupportedQualityError(InvalidArgumentError):
    """A quality the image model does not offer."""

    code = "unsupported_quality"


class InvalidImageError(VisionTokensError, ValueError):
    """Image data whose size cannot be read from its header."""

    code = "invalid_image"


class UnsupportedImageFormatError(InvalidImageError):
    """Not PNG, JPEG, GIF or WebP. ``format`` names what it is when its magic is known
    ("bmp", "tiff", "heif", "avif", "jpeg2000", "jpegxl", "ico", "psd", "svg", "pdf"), else None."""

    code = "unsupported_image_format"

    def __init__(self, message: str, format: str | None = None):
        super().__init__(message)
        self.format = format


class TruncatedImageError(InvalidImageError):
    """The data ends before the header does. ``needed`` is how many bytes the parser needed.

    ``info`` is set when a prefix of the image was parsed (``parse_buffer(data,
    complete=False)``) and its size is already known: the ImageInfo the prefix gives, with
    ``animation_undecided`` when the rest of the file could still make it animated. A reader
    that cannot read further (a fetch or file read stopped at its byte cap) uses it."""

    code = "truncated_image"

    def __init__(self, message: str, needed: int = 0, info: object = None):
        super().__init__(message)
        self.needed = needed
        self.info = info


class CorruptImageError(InvalidImageError):
    """The header contradicts its format (a bad marker, a zero size, an unknown chunk ...)."""

    code = "corrupt_image"


class AnimatedImageError(InvalidImageError):
    """An animated GIF: the API takes non-animated GIF only. Also, with
    ``undecided_animation="refuse"``, a GIF whose data ends before it can tell."""

    code = "animated_image"


class InvalidDataURLError(InvalidImageError):
    """A ``data:`` URL that is not ``data:image/...;base64,...`` with valid base64."""

    code = "invalid_data_url"


class MalformedRequestError(VisionTokensError, ValueError):
    """A request body that is not a Chat Completions or Responses request.
    ``pointer`` is the JSON pointer of the offending value."""

    code = "malformed_request"

    def __init__(self, message: str, pointer: str = ""):
        super().__init__(message, pointer=pointer)


class RequestLimitError(VisionTokensError, ValueError):
    """The API would refuse the whole request."""

    code = "request_limit"


class TooManyImagesError(RequestLimitError):
    """More images than a request may carry (1,500)."""

    code = "too_many_images"


class PayloadTooLargeError(RequestLimitError):
    """More image bytes than a request may carry (512 MB)."""

    code = "payload_too_large"


class RequestTooLargeError(PayloadTooLargeError):
    """A request body over the API's size limit (Anthropic: 32 MB, 30 MB on Vertex AI;
    Gemini: 20 MB of inline data)."""

    code = "request_too_large"


class ImageTooLargeError(PayloadTooLargeError):
    """One image's base64 over the API's per-image limit (Anthropic: 10 MB, 5 MB on Amazon
    Bedrock and Vertex AI)."""

    code = "image_too_large"


class ImageDimensionsTooLargeError(ImageRejectedError):
    """An image side over the API's limit (Anthropic: 8,000 px, or 2,000 px in a request of
    more than 20 images)."""

    code = "image_dimensions_too_large"


class OversizedImageError(ImageRejectedError):
    """An image the model would resize, in a block that asks for an error instead
    (Anthropic's ``transformations.oversized_image: "error"``)."""

    code = "oversized_image"


class UnsupportedImageSourceError(ImageRejectedError):
    """An image source the platform does not take (Anthropic on Amazon Bedrock and Vertex AI:
    base64 only, no URL or Files API source)."""

    code = "unsupported_image_source"


class ImageSizeUnknownError(VisionTokensError, ValueError):
    """An image's size cannot be known: not fetched, fetch failed, or no file resolver.
    ``pointer`` names the image; ``__cause__`` holds the fetch error, if any."""

    code = "image_size_unknown"

    def __init__(self, message: str, pointer: str = ""):
        super().__init__(message, pointer=pointer)


class FetchError(VisionTokensError, OSError):
    """A remote image could not be fetched: timeout, HTTP error, too many redirects ..."""

    code = "fetch_failed"


class BlockedAddressError(FetchError):
    """SSRF protection: the host resolves to a loopback, private, link-local, multicast,
    reserved or unspecified address, and the fetcher does not allow private addresses."""

    code = "blocked_address"


# --- message builders, shared by both implementations ---------------------------------

#: The most characters of an outside value (a model name, a detail, a URL) a message quotes:
#: a request may carry a 40 MB "model", and its error must stay a line, not 40 MB.
QUOTE_LIMIT = 80


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for a message, bounded in size and in the work it takes: a long string
    is cut to ``limit`` characters and its length said; containers are abbreviated."""
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} {'characters' if isinstance(value, str) else 'bytes'})"
    import reprlib  # only on the error path

    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    try:
        return shortener.repr(value)
    except Exception:  # a hostile __repr__, or an int too long to print
        return f"<{type(value).__name__}>"


def dimension_error(name: str, value: object) -> InvalidDimensionsError:
    if isinstance(value, bool) or not _is_integer_like(value):
        return DimensionTypeError(
            f"{name} must be an int number of pixels, got {type(value).__name__} {quoted(value)}",
            argument=name)
    return InvalidDimensionsError(
        f"{name} must be between 1 and {MAX_DIMENSION} pixels, got {int(value)}",  # type: ignore[call-overload]
        argument=name)


def _is_integer_like(value: object) -> bool:
    try:
        value.__index__  # type: ignore[attr-defined]  # noqa: B018 (a probe)
    except AttributeError:
        return False
    return True


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names most like ``name``. difflib's cost grows with the product of the
    lengths, so a name far longer than any known one (no close match is possible at
    difflib's 0.6 cutoff: the ratio is at most 2*len(known)/(len(name)+len(known))) is not
    compared at all."""
    import difflib  # only on the error path

    candidates = list(known)
    longest = max(map(len, candidates), default=0)
    if len(name) > 3 * longest:  # ratio <= 2*L/(3L+L) = 0.5 < 0.6: nothing can match
        return []
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)


def unknown_model_error(name: str, ruleset: str, known: Iterable[str]) -> UnknownModelError:
    suggestions = closest(name, known)
    hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
    return UnknownModelError(
        f"unknown model {quoted(name)} in ruleset {ruleset!r}{hint}", name, suggestions
    )


def keyword_hint(argument: str, value: object) -> str:
    """How a hint reads for the Python API: ``pass undocumented='assume'``. The error keeps the
    hint as data too (:func:`with_hint`), so that the command line can name its flag instead."""
    return f"pass {argument}={value!r}"


def with_hint(error: VisionTokensError, argument: str, value: object, text: str) -> VisionTokensError:
    """``error``, its hint kept as data: ``error.hint`` is ``(argument, value)``, the keyword
    of the Python API and the value that would help, and ``error.hint_text`` the phrase of the
    message that says it (the command line puts its flag there)."""
    error.hint = (argument, value)
    error.hint_text = text
    return error


def undocumented_model_error(name: str, ruleset: str, like: str, evidence: str,
                             like_in_ruleset: bool, vendor: str = "OpenAI") -> UndocumentedModelError:
    hint = keyword_hint("undocumented", "assume")
    if like_in_ruleset:
        advice = f"{hint} to count it like {like!r}, marked as assumed"
    else:
        advice = f"ruleset {ruleset!r} has no {like!r} to count it like"
    error = UndocumentedModelError(
        f"{quoted(name)} is a known model whose image input cost {vendor} does not document "
        f"(ruleset {ruleset!r}); the closest documented model is {like!r} "
        f"(evidence: {evidence}); {advice}", name, (like,), like, evidence)
    if like_in_ruleset:
        with_hint(error, "undocumented", "assume", hint)
    return error


def unsupported_detail_error(model: str, detail: object, supported: Sequence[str],
                             known: Sequence[str] = ("low", "high", "original", "auto"),
                             ) -> UnsupportedDetailError:
    levels = ", ".join(supported)
    if isinstance(detail, str) and detail in known:
        return UnsupportedDetailError(
            f"model {quoted(model)} does not support detail {detail!r}; it supports: {levels}"
        )
    return UnsupportedDetailError(
        f"detail must be one of {', '.join(known)} (case-sensitive), got {quoted(detail)}"
    )


def detail_not_applicable_error(model: str, detail: object) -> DetailNotApplicableError:
    return DetailNotApplicableError(
        f"detail does not apply to {quoted(model)}: pass None or 'auto', got {quoted(detail)}",
        argument="detail")


def aspect_ratio_error(model: str, width: int, height: int) -> AspectRatioError:
    return AspectRatioError(
        f"{quoted(model)} refuses images whose long side is more than 200 times the short "
        f"side, got {width} x {height}")


def no_upper_bound_error(model: str, level: str) -> NoUpperBoundError:
    return NoUpperBoundError(
        f"{quoted(model)} at detail {level!r} has no upper bound: the provider documents no "
        f"largest image size, and its tiles grow with the size")


def argument_not_applicable_error(name: str, model: str) -> ArgumentNotApplicableError:
    return ArgumentNotApplicableError(
        f"{name} applies only to Qwen models, not to {quoted(model)}", argument=name)


def rejected_error(model: str, patches: int, limit: int) -> ImageRejectedError:
    return ImageRejectedError(
        f"the API rejects this image for {model!r}: {patches} patches after resizing, "
        f"more than the limit of {limit}",
        patches,
        limit,
    )


def input_fidelity_error(model: str, value: object) -> InvalidArgumentError:
    if value is not None and not isinstance(value, str):
        return ArgumentTypeError(f"input_fidelity must be 'low', 'high' or None, got {quoted(value)}",
                                 argument="input_fidelity")
    if value in ("low", "high"):
        return InvalidArgumentError(
            f"input_fidelity applies to GPT Image models only, not {model!r}",
            argument="input_fidelity")
    return InvalidArgumentError(f"input_fidelity must be 'low', 'high' or None, got {quoted(value)}",
                                argument="input_fidelity")


# --- image headers: every message of both parsers (spec 5) --------------------------------------
# The pure parser (_header_py.py) calls these builders directly; the compiled one
# (_header_c.pyx) reports a numeric code with up to two numbers and maps the code to the same
# builder, so the two raise identical errors by construction. Offsets count bytes of the
# decoded image.

IMAGE_FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WebP", "": "image"}
_SUPPORTED = "the API takes PNG, JPEG, WebP and non-animated GIF"


def _fourcc(value: int, byteorder: str = "big") -> str:
    return repr(value.to_bytes(4, byteorder).decode("latin-1"))  # type: ignore[arg-type]


def _corrupt(fmt: str, reason: str) -> CorruptImageError:
    return CorruptImageError(f"corrupt {IMAGE_FORMAT_NAMES[fmt]} data: {reason}")


def truncated_error(fmt: str, size: int, needed: int, info: object = None) -> TruncatedImageError:
    """``fmt`` is "" when the data is too short to tell its format."""
    if size == 0:
        return TruncatedImageError("empty image data", needed, info)
    return TruncatedImageError(
        f"truncated {IMAGE_FORMAT_NAMES[fmt]} data: {size} bytes, the header needs at least "
        f"{needed}", needed, info)


def too_long_error(limit: int) -> InvalidImageError:
    return InvalidImageError(f"no image header within the first {limit} bytes read")


# formats the API does not take, named by their magic bytes (spec 5); ISO media, SVG apart
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                b"mif1", b"msf1"}
_MAGIC = (
    (b"BM", "bmp", "BMP"),
    (b"II*\x00", "tiff", "TIFF"),
    (b"MM\x00*", "tiff", "TIFF"),
    (b"8BPS", "psd", "PSD"),
    (b"%PDF-", "pdf", "PDF"),
    (b"\x00\x00\x01\x00", "ico", "ICO"),
    (b"\x00\x00\x02\x00", "ico", "ICO (cursor)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg2000", "JPEG 2000"),
    (b"\xffO\xffQ", "jpeg2000", "JPEG 2000 (codestream)"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jpegxl", "JPEG XL"),
    (b"\xff\x0a", "jpegxl", "JPEG XL (codestream)"),
)


def unsupported_error(head: bytes) -> UnsupportedImageFormatError:
    """The error for data that is none of the four formats; ``head`` is its first bytes."""
    if not head:
        return UnsupportedImageFormatError(f"empty image data; {_SUPPORTED}")
    found: tuple[str, str] | None = None
    for magic, key, name in _MAGIC:
        if head.startswith(magic):
            found = (key, name)
            break
    if found is None and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            found = ("avif", "AVIF")
        elif brand in _HEIF_BRANDS:
            found = ("heif", "HEIC/HEIF")
    if found is None:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if text.startswith(b"<") and b"<svg" in text:
            found = ("svg", "SVG")
    if found is not None:
        return UnsupportedImageFormatError(f"{found[1]} images are not supported; {_SUPPORTED}",
                                           found[0])
    return UnsupportedImageFormatError(
        f"not an image format the API takes (data starts {head[:8].hex(' ')}); {_SUPPORTED}")


def buffer_error(value: object, reason: str) -> InvalidArgumentError:
    """A bytes-like source that cannot be read: a released memoryview, say."""
    return InvalidArgumentError(f"cannot read the {type(value).__name__}: {reason}")


# data URLs

def data_url_header_error(header: str) -> InvalidDataURLError:
    media_type = header.split(";", 1)[0]
    if media_type[:6].lower() != "image/":
        return InvalidDataURLError(f"data URL media type {media_type!r} is not an image type")
    return InvalidDataURLError(
        f"data URL {('data:' + header)!r} is not base64-encoded (';base64' must end the header)")


def no_comma_error(limit: int) -> InvalidDataURLError:
    return InvalidDataURLError(f"data URL has no ',' within its first {limit} characters")


def base64_length_error(length: int) -> InvalidDataURLError:
    return InvalidDataURLError(
        f"data URL base64 payload of {length} characters cannot be valid (length % 4 == 1)")


def base64_char_error(position: int) -> InvalidDataURLError:
    return InvalidDataURLError(f"data URL holds invalid base64 in characters "
                               f"{position}..{position + 3} of the URL")


def non_ascii_error() -> InvalidDataURLError:
    return InvalidDataURLError("data URL holds non-ASCII characters")


# PNG (Pillow's PngImagePlugin at open; libpng for what Pillow does not check)

def png_chunk_type_error(offset: int, kind: int) -> CorruptImageError:
    return _corrupt("png", f"chunk at byte {offset} has type {_fourcc(kind)}, not four "
                           "letters or digits")


def png_chunk_length_error(offset: int, length: int) -> CorruptImageError:
    return _corrupt("png", f"chunk at byte {offset} has length {length}, over 2**31 - 1")


def png_crc_error(offset: int, kind: int) -> CorruptImageError:
    return _corrupt("png", f"the CRC of critical chunk {_fourcc(kind)} at byte {offset} "
                           "does not match")


def png_ihdr_length_error(offset: int, length: int) -> CorruptImageError:
    return _corrupt("png", f"IHDR at byte {offset} has length {length}, needs 13")


def png_filter_method_error(method: int) -> CorruptImageError:
    return _corrupt("png", f"IHDR gives filter method {method}, not 0")


def png_no_ihdr_error() -> CorruptImageError:
    return _corrupt("png", "no IHDR chunk with a known bit depth and colour type before the "
                           "image data")


def png_size_error(width: int, height: int) -> CorruptImageError:
    return _corrupt("png", f"IHDR gives {width}x{height}; each side must be 1..2147483647")


def png_apng_length_error(offset: int, kind: int, length: int) -> CorruptImageError:
    return _corrupt("png", f"APNG chunk {_fourcc(kind)} at byte {offset} has length {length}, "
                           "too short")


def png_apng_sequence_error(offset: int, sequence: int) -> CorruptImageError:
    return _corrupt("png", f"APNG sequence number {sequence} at byte {offset} is out of order")


def png_apng_frame_error(offset: int) -> CorruptImageError:
    return _corrupt("png", f"the APNG frame of fcTL at byte {offset} lies outside the image")


# JPEG (Pillow's JpegImagePlugin at open; libjpeg's marker rules agree)

def jpeg_start_error(byte: int) -> CorruptImageError:
    return _corrupt("jpeg", f"expected a marker (0xFF) at byte 2, found 0x{byte:02X}")


def jpeg_marker_error(offset: int, marker: int) -> CorruptImageError:
    return _corrupt("jpeg", f"0xFF{marker:02X} at byte {offset} is not a JPEG marker")


def jpeg_no_frame_error() -> CorruptImageError:
    return _corrupt("jpeg", "no frame header (SOF) before the image data")


def jpeg_frame_length_error(offset: int, length: int) -> CorruptImageError:
    return _corrupt("jpeg", f"the frame header at byte {offset} has length {length}, too "
                            "short")


def jpeg_frame_table_error(offset: int, length: int) -> CorruptImageError:
    return _corrupt("jpeg", f"the frame header at byte {offset} has length {length}: its "
                            "component table is cut")


def jpeg_precision_error(bits: int) -> CorruptImageError:
    return _corrupt("jpeg", f"{bits}-bit samples; decoders read 8-bit JPEG")


def jpeg_components_error(count: int) -> CorruptImageError:
    return _corrupt("jpeg", f"{count} colour components; decoders read 1, 3 or 4")


def jpeg_quantization_error(offset: int) -> CorruptImageError:
    return _corrupt("jpeg", f"the quantization table segment at byte {offset} ends inside a "
                            "table")


def jpeg_size_error(width: int, height: int) -> CorruptImageError:
    return _corrupt("jpeg", f"the frame header gives {width}x{height}; a zero height (set later "
                            "by a DNL marker) or width is not supported")


# GIF (Pillow's GifImagePlugin at open and is_animated)

def gif_no_image_error(offset: int) -> CorruptImageError:
    return _corrupt("gif", f"the trailer at byte {offset} comes before any image")


def gif_size_error(width: int, height: int) -> CorruptImageError:
    return _corrupt("gif", f"the image is {width}x{height}")


# WebP (libwebp's demuxer, which Pillow opens every WebP with)

_WEBP_ORDER = (
    "a second VP8X chunk",
    "an image outside ANMF in an animation",
    "ANMF before ANIM",
    "a second still image",
    "VP8L after ALPH (VP8L holds its own alpha)",
    "ALPH after its image",
    "ALPH without an image",
)


def webp_riff_size_error(size: int) -> CorruptImageError:
    return _corrupt("webp", f"the RIFF size is {size}")


def webp_first_chunk_error(kind: int) -> CorruptImageError:
    return _corrupt("webp", f"the first chunk is {_fourcc(kind, 'little')}, not VP8, VP8L or "
                            "VP8X")


def webp_chunk_size_error(offset: int, size: int) -> CorruptImageError:
    return _corrupt("webp", f"the chunk at byte {offset} declares {size} bytes, past the end of "
                            "the RIFF data")


def webp_leftover_error(offset: int, count: int) -> CorruptImageError:
    if count == 0:
        return _corrupt("webp", f"the RIFF data ends at byte {offset}, where a chunk must follow")
    return _corrupt("webp", f"{count} stray bytes at byte {offset}, too few for a chunk")


def webp_vp8x_error(size: int) -> CorruptImageError:
    return _corrupt("webp", f"the VP8X chunk has {size} bytes, needs 10")


def webp_area_error(width: int, height: int) -> CorruptImageError:
    return _corrupt("webp", f"{width}x{height} is 2**32 pixels or more")


def webp_flags_error(flags: int) -> CorruptImageError:
    return _corrupt("webp", f"VP8X flags 0x{flags:02X} set reserved bits")


def webp_order_error(offset: int, what: int) -> CorruptImageError:
    return _corrupt("webp", f"{_WEBP_ORDER[what]} at byte {offset}")


def webp_anim_error(offset: int, kind: int, size: int) -> CorruptImageError:
    return _corrupt("webp", f"the {_fourcc(kind, 'little')} chunk at byte {offset} has {size} "
                            "bytes, too short")


def webp_no_frame_error() -> CorruptImageError:
    return _corrupt("webp", "no image")


def webp_frame_bounds_error(offset: int) -> CorruptImageError:
    return _corrupt("webp", f"the image at byte {offset} does not fit the canvas")


def webp_vp8_error(offset: int, what: int) -> CorruptImageError:
    reason = ("the frame header is cut", "the start code is missing", "not a key frame",
              "unknown profile", "the frame is not shown",
              "the first partition is larger than the chunk", "a side is 0")[what]
    return _corrupt("webp", f"VP8 image at byte {offset}: {reason}")


def webp_vp8l_error(offset: int, what: int) -> CorruptImageError:
    reason = ("the header is cut", "the signature is not 0x2F", "the version is not 0")[what]
    return _corrupt("webp", f"VP8L image at byte {offset}: {reason}")


# the policy for a GIF whose animation is undecided (its data ends before a second image or
# its trailer): count it as the still image it is so far, as the API would, or refuse it

UNDECIDED_ANIMATION = ("still", "refuse")


def undecided_animation_option(value: object) -> str:
    """``value`` checked as an ``undecided_animation=`` argument."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"undecided_animation must be 'still' or 'refuse', got "
                                f"{type(value).__name__} {quoted(value)}", argument="undecided_animation")
    if value not in UNDECIDED_ANIMATION:
        raise InvalidArgumentError(f"undecided_animation must be 'still' or 'refuse', got {quoted(value)}",
                                   argument="undecided_animation")
    return value


def undecided_animation_error(what: str | None) -> AnimatedImageError:
    prefix = "" if what is None else f"{what}: "
    return AnimatedImageError(
        f"{prefix}cannot tell whether the GIF is animated, its data ends before a second image "
        "or its trailer (refused: undecided_animation='refuse')")


# --- output image tokens (spec 6.2) ------------------------------------------------------------

def unsupported_size_error(model: str, size: object, reason: str) -> UnsupportedSizeError:
    error = UnsupportedSizeError(f"{model!r} cannot make images of size {quoted(size)}: {reason}",
                                 model, size)
    error.argument = "size"
    return error


def size_type_error(size: object) -> ArgumentTypeError:
    return ArgumentTypeError(
        f"size must be a str such as '1024x1024' or 'auto', got {type(size).__name__} {quoted(size)}",
        argument="size")


def unsupported_quality_error(model: str, quality: object,
                              supported: Sequence[str]) -> InvalidArgumentError:
    if not isinstance(quality, str):
        return ArgumentTypeError(
            f"quality must be a str such as 'high' or 'auto', got {type(quality).__name__} "
            f"{quoted(quality)}", argument="quality")
    return UnsupportedQualityError(
        f"{model!r} does not offer quality {quoted(quality)}; it offers: "
        f"{', '.join(supported)}, auto", argument="quality")


def count_argument_error(name: str, value: object, low: int, high: int) -> InvalidArgumentError:
    if isinstance(value, bool) or not _is_integer_like(value):
        return ArgumentTypeError(f"{name} must be an int from {low} to {high}, got "
                                 f"{type(value).__name__} {quoted(value)}", argument=name)
    return InvalidArgumentError(
        f"{name} must be from {low} to {high}, got {quoted(value.__index__())}",  # type: ignore[attr-defined]
        argument=name)


# --- collecting violations: one rule for every request walk (spec 5, on_violation) ---------------

def violation(error: VisionTokensError, pointer: str, on_violation: str,
              violations: list[VisionTokensError]) -> VisionTokensError:
    """An image's violation, located at its pointer, raised (``on_violation="raise"``) or
    collected into ``violations``; returns it located."""
    if not error.pointer:
        error = error.located(pointer)
    if on_violation == "raise":
        raise error
    violations.append(error)
    return error


def check_payload(payload: int, limit: int, on_violation: str,
                  violations: list[VisionTokensError]) -> None:
    """spec 5: the images' bytes of one request, over ``limit``, raised or collected."""
    if payload > limit:
        error = PayloadTooLargeError(
            f"the request's images hold {payload} bytes, over the {limit} allowed")
        if on_violation == "raise":
            raise error
        violations.append(error)



# --- options every walk checks, with one rule for their messages ------------------------------------

def choice_option(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` checked as the ``name=`` argument, one of ``choices``: a value of the wrong
    type is an ArgumentTypeError, a wrong str an InvalidArgumentError; both quote it bounded."""
    allowed = " or ".join(repr(choice) for choice in choices)
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be {allowed}, got {type(value).__name__} "
                                f"{quoted(value)}", argument=name)
    if value not in choices:
        raise InvalidArgumentError(f"{name} must be {allowed}, got {quoted(value)}", argument=name)
    return value


# --- the code table ------------------------------------------------------------------------------

def error_classes() -> list[type[VisionTokensError]]:
    """Every error class of the hierarchy, base first, in the order of ``__all__``."""
    module = globals()
    return [module[name] for name in __all__ if isinstance(module.get(name), type)
            and issubclass(module[name], VisionTokensError)]


def error_codes() -> list[dict[str, str]]:
    """The code table, one row per class (for the docs): ``{code, error, bases, meaning}``.
    ``bases`` names the builtin exceptions it can also be caught as."""
    rows = []
    for cls in error_classes():
        builtins = [base.__name__ for base in cls.__mro__
                    if base.__module__ == "builtins" and base not in (Exception, BaseException, object)]
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        rows.append({"code": cls.code, "error": cls.__name__, "bases": ", ".join(builtins),
                     "meaning": " ".join(doc.split())})
    return rows


#: code -> class, one entry per code (the table is the classes themselves).
CODES = {cls.code: cls for cls in error_classes()}
