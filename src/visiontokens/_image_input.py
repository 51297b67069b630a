"""What both header parsers share: the result type, the data-URL rules and every message.

The Cython parser (``_header_c.pyx``) and the pure-Python one (``_header_py.py``) walk
the same steps and report a failure as the same (code, numbers); the builders below turn
that into the exception, so their messages are identical by construction (spec 5).
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

from ._errors import (
    ArgumentTypeError,
    CorruptImageError,
    InvalidDataURLError,
    InvalidImageError,
    TruncatedImageError,
    UnsupportedImageFormatError,
)

FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WebP", "": "image"}

#: A data URL's header ("data:image/png;base64") must end within this many characters.
MAX_DATA_URL_HEADER = 256
#: What a binary file or path is read up to, at most, to find the header.
DEFAULT_MAX_READ = 64 * 1024 * 1024
#: The first read from a file: enough for nearly every header in one go.
FIRST_READ = 64 * 1024


class ImageInfo(NamedTuple):
    """An image's size and format, as its header gives them."""

    width: int
    height: int
    format: str  # "png", "jpeg", "gif" or "webp"
    animated: bool  # APNG, animated WebP, or a GIF holding more than one image


# --- corrupt-data codes: (code, a, b) from either parser -> one message ----------------------

PNG_NO_IHDR = 1  # a: the first chunk's type as a big-endian int
PNG_BAD_SIZE = 2  # a, b: width, height
PNG_BAD_CHUNK_LENGTH = 3  # a: offset, b: length
JPEG_NO_MARKER = 10  # a: offset, b: the byte found
JPEG_NO_FRAME = 11  # a: offset, b: the marker reached (SOS or EOI, or a second SOI)
JPEG_BAD_LENGTH = 12  # a: offset, b: the segment length
JPEG_ZERO_SIZE = 13  # a, b: width, height
GIF_ZERO_SIZE = 20  # a, b: width, height
GIF_BAD_BLOCK = 21  # a: offset, b: the byte found
WEBP_UNKNOWN_CHUNK = 30  # a: the fourcc as a little-endian int
WEBP_NOT_KEYFRAME = 31
WEBP_BAD_START_CODE = 32
WEBP_BAD_SIGNATURE = 33  # VP8L: a: the byte found
WEBP_BAD_VERSION = 34  # VP8L: a: the version bits
WEBP_ZERO_SIZE = 35  # a, b: width, height

_FORMAT_OF_CODE = {1: "png", 2: "png", 3: "png", 10: "jpeg", 11: "jpeg", 12: "jpeg", 13: "jpeg",
                   20: "gif", 21: "gif", 30: "webp", 31: "webp", 32: "webp", 33: "webp",
                   34: "webp", 35: "webp"}


def _fourcc(value: int, byteorder: str) -> str:
    return repr(value.to_bytes(4, byteorder).decode("latin-1"))  # type: ignore[arg-type]


def corrupt_error(code: int, a: int = 0, b: int = 0) -> CorruptImageError:
    reason_of: dict[int, Callable[[], str]] = {
        PNG_NO_IHDR: lambda: f"the first chunk is {_fourcc(a, 'big')}, not IHDR",
        PNG_BAD_SIZE: lambda: f"IHDR gives {a}x{b}; each side must be 1..2147483647",
        PNG_BAD_CHUNK_LENGTH: lambda: f"chunk at byte {a} has length {b}, over 2**31 - 1",
        JPEG_NO_MARKER: lambda: f"expected a marker (0xFF) at byte {a}, found 0x{b:02X}",
        JPEG_NO_FRAME: lambda: f"marker 0x{b:02X} at byte {a} is not allowed before the frame "
                               "header (SOF)",
        JPEG_BAD_LENGTH: lambda: f"segment at byte {a} has length {b}, too short",
        JPEG_ZERO_SIZE: lambda: (
            f"the frame header gives {a}x{b}; a zero height (set later by a DNL marker) "
            "or width is not supported"),
        GIF_ZERO_SIZE: lambda: f"the logical screen is {a}x{b}",
        GIF_BAD_BLOCK: lambda: f"unexpected byte 0x{b:02X} at byte {a} between blocks",
        WEBP_UNKNOWN_CHUNK: lambda: f"the first chunk is {_fourcc(a, 'little')}, "
                                    "not VP8, VP8L or VP8X",
        WEBP_NOT_KEYFRAME: lambda: "the VP8 frame is not a key frame",
        WEBP_BAD_START_CODE: lambda: "the VP8 start code is missing",
        WEBP_BAD_SIGNATURE: lambda: f"the VP8L signature is 0x{a:02X}, not 0x2F",
        WEBP_BAD_VERSION: lambda: f"the VP8L version is {a}, not 0",
        WEBP_ZERO_SIZE: lambda: f"the VP8 frame is {a}x{b}",
    }
    reason = reason_of[code]()
    return CorruptImageError(f"corrupt {FORMAT_NAMES[_FORMAT_OF_CODE[code]]} data: {reason}")


def truncated_error(fmt: str, size: int, needed: int) -> TruncatedImageError:
    """``fmt`` is "" when the data is too short to tell its format."""
    if size == 0:
        return TruncatedImageError("empty image data", needed)
    return TruncatedImageError(
        f"truncated {FORMAT_NAMES[fmt]} data: {size} bytes, the header needs at least {needed}",
        needed,
    )


def too_long_error(limit: int) -> InvalidImageError:
    return InvalidImageError(f"no image header within the first {limit} bytes read")


# --- formats we recognise but the API does not take (spec 5) ---------------------------------

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                b"mif1", b"msf1"}
_MAGIC = (  # (prefix, name); ISO media, SVG and PDF are told apart below
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

#: How many leading bytes the unsupported-format check looks at.
SNIFF_BYTES = 1024


def unsupported_error(head: bytes) -> UnsupportedImageFormatError:
    """The error for data that is none of the four formats; ``head`` is its first bytes."""
    supported = "the API takes PNG, JPEG, WebP and non-animated GIF"
    if not head:
        return UnsupportedImageFormatError(f"empty image data; {supported}")
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
        return UnsupportedImageFormatError(f"{found[1]} images are not supported; {supported}",
                                           found[0])
    return UnsupportedImageFormatError(
        f"not an image format the API takes (data starts {head[:8].hex(' ')}); {supported}")


# --- data URLs ---------------------------------------------------------------------------------

def data_url_header_ok(header: str) -> bool:
    """``header`` is what lies between "data:" and the first ","."""
    return header[:6].lower() == "image/" and header[-7:].lower() == ";base64"


def data_url_header_error(header: str) -> InvalidDataURLError:
    media_type = header.split(";", 1)[0]
    if media_type[:6].lower() != "image/":
        return InvalidDataURLError(f"data URL media type {media_type!r} is not an image type")
    return InvalidDataURLError(
        f"data URL {('data:' + header)!r} is not base64-encoded (';base64' must end the header)")


def no_comma_error() -> InvalidDataURLError:
    return InvalidDataURLError(
        f"data URL has no ',' within its first {MAX_DATA_URL_HEADER} characters")


def base64_length_error(length: int) -> InvalidDataURLError:
    return InvalidDataURLError(
        f"data URL base64 payload of {length} characters cannot be valid (length % 4 == 1)")


def base64_char_error(position: int) -> InvalidDataURLError:
    return InvalidDataURLError(f"data URL holds invalid base64 in characters "
                               f"{position}..{position + 3} of the URL")


def non_ascii_error() -> InvalidDataURLError:
    return InvalidDataURLError("data URL holds non-ASCII characters")


def decoded_size(length: int, text_tail: str | bytes) -> int:
    """Bytes a canonical base64 payload of ``length`` characters decodes to; ``text_tail`` is
    its last two characters. Padding ("=") counts only at the very end."""
    if length % 4:
        return length // 4 * 3 + length % 4 - 1
    pad = 0
    if length and text_tail[-1:] in ("=", b"="):
        pad = 2 if text_tail[-2:-1] in ("=", b"=") else 1
    return length // 4 * 3 - pad


# --- files and paths: read only as far as the header needs --------------------------------------

def info_from_any(source: Any, parse_buffer: Callable[[Any], ImageInfo],
                  parse_data_url: Callable[[Any], ImageInfo], max_read: int) -> ImageInfo:
    """What image_info does with a source, given a parser's two entry points: bytes-like
    data or a "data:" URL (bytes or str) in memory; any other str, or a path, is a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if bytes(source[:5]) == b"data:":
            return parse_data_url(bytes(source))
        return parse_buffer(source)
    if isinstance(source, str) and source.startswith("data:"):
        return parse_data_url(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:  # OSError stays OSError
            return _info_from_file(file, parse_buffer, max_read)
    if callable(getattr(source, "read", None)):
        return _info_from_file(source, parse_buffer, max_read)
    raise ArgumentTypeError(
        "source must be bytes, bytearray, memoryview, a path, a binary file or a "
        f"'data:' URL, got {type(source).__name__}")


def _info_from_file(file: Any, parse_buffer: Callable[[Any], ImageInfo],
                    max_read: int) -> ImageInfo:
    """Reads a first block, then more only when the parser says the header goes on (a JPEG
    whose frame header follows a large ICC profile, a GIF's later frames), up to max_read."""
    data = bytearray()
    want = min(FIRST_READ, max_read)
    while True:
        at_end = False
        while len(data) < want:
            chunk = file.read(want - len(data))
            if not chunk:
                at_end = True
                break
            if not isinstance(chunk, (bytes, bytearray)):
                raise ArgumentTypeError(
                    f"the file must be opened in binary mode (read() gave {type(chunk).__name__})")
            data += chunk
        try:
            return parse_buffer(data)
        except TruncatedImageError as short:
            if at_end:
                raise
            if len(data) >= max_read:
                raise too_long_error(max_read) from None
            want = min(max(short.needed, 2 * len(data)), max_read)
