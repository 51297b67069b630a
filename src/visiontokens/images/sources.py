"""What both header parsers share: the result type, the data-URL rules and file reads.

The Cython parser (``_header_c.pyx``) and the pure-Python one (``_header_py.py``) walk the
same steps and raise through the same message builders (``_errors.py``), so their answers
and their errors are identical by construction (spec 5).
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

from .._errors import (
    AnimatedImageError,
    ArgumentTypeError,
    InvalidArgumentError,
    TruncatedImageError,
    buffer_error,
    quoted,
    too_long_error,
    undecided_animation_error,
)

#: A data URL's header ("data:image/png;base64") must end within this many characters.
MAX_DATA_URL_HEADER = 256
#: What a binary file or path is read up to, at most, to find the header.
DEFAULT_MAX_READ = 64 * 1024 * 1024
#: The first read from a file: enough for nearly every header in one go.
FIRST_READ = 64 * 1024
#: How many leading bytes the unsupported-format check looks at.
SNIFF_BYTES = 1024


class ImageInfo(NamedTuple):
    """An image's size and format, as its header gives them."""

    width: int
    height: int
    format: str  # "png", "jpeg", "gif" or "webp"
    animated: bool  # APNG, animated WebP, or a GIF holding more than one image
    #: True when the data ended before it could tell whether the image is animated: a GIF
    #: without its trailer and with one image so far (``animated`` is then False), or any
    #: image read only in part (a fetch or file read stopped at its byte cap).
    animation_undecided: bool = False


# --- the one animation rule (spec 5) ----------------------------------------------------------

def refused_animation(info: ImageInfo, undecided_animation: str = "still") -> bool:
    """spec 5: the API takes "non-animated GIF"; it states no such rule for PNG or WebP. A GIF
    whose animation is undecided (its data ends first) is the still image it is so far, unless
    undecided_animation="refuse"."""
    return info.format == "gif" and (
        info.animated or (info.animation_undecided and undecided_animation == "refuse"))


def animation_error(info: ImageInfo, where: str | None) -> AnimatedImageError:
    """The error for an image refused_animation refuses; ``where`` names it (None: the error
    is located by its pointer, as a request's images are, not in its message)."""
    prefix = "" if where is None else f"{where}: "
    if info.animated:
        return AnimatedImageError(f"{prefix}an animated GIF; the API takes non-animated GIF only")
    return undecided_animation_error(where)


# --- data URLs ---------------------------------------------------------------------------------

def data_url_header_ok(header: str) -> bool:
    """``header`` is what lies between "data:" and the first ","."""
    return header[:6].lower() == "image/" and header[-7:].lower() == ";base64"


def decoded_size(length: int, text_tail: str | bytes) -> int:
    """Bytes a canonical base64 payload of ``length`` characters decodes to; ``text_tail`` is
    its last two characters. Padding ("=") counts only at the very end."""
    if length % 4:
        return length // 4 * 3 + length % 4 - 1
    pad = 0
    if length and text_tail[-1:] in ("=", b"="):
        pad = 2 if text_tail[-2:-1] in ("=", b"=") else 1
    return length // 4 * 3 - pad


# --- bytes-like sources ----------------------------------------------------------------------

def byte_view(data: Any) -> bytes | bytearray | memoryview:
    """``data`` as a flat run of bytes: bytes and bytearray as they are; a memoryview of any
    shape or item size as its bytes (a C-contiguous view without a copy, a strided or
    Fortran-ordered one copied in C order, as ``tobytes`` does). A released view or an object
    without the buffer protocol is a typed error, never a raw ValueError or TypeError."""
    if type(data) is bytes or type(data) is bytearray:
        return data
    try:
        view = memoryview(data)
        if view.c_contiguous:
            return view if view.ndim == 1 and view.format == "B" else view.cast("B")
        return view.tobytes()
    except ValueError as error:  # a released memoryview
        raise buffer_error(data, str(error)) from None
    except TypeError:
        raise ArgumentTypeError(
            f"expected bytes, bytearray or memoryview, got {type(data).__name__}") from None


# --- files and paths: read only as far as the header needs --------------------------------------

def check_max_read(max_read: Any) -> None:
    """``max_read`` checked as an argument: a positive int (both header twins, every source)."""
    if type(max_read) is not int or max_read < 1:
        raise (ArgumentTypeError if not isinstance(max_read, int) or isinstance(max_read, bool)
               else InvalidArgumentError)(f"max_read must be a positive int, got {quoted(max_read)}",
                                          argument="max_read")


def info_from_any(source: Any, parse_buffer: Callable[..., ImageInfo],
                  parse_data_url: Callable[[Any], ImageInfo], max_read: int) -> ImageInfo:
    """What image_info does with a source, given a parser's two entry points: bytes-like
    data or a "data:" URL (bytes or str) in memory; any other str, or a path, is a file.
    ``max_read`` is checked for every source, read from memory or not: a wrong one is the
    caller's error whatever it passed with it."""
    check_max_read(max_read)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = byte_view(source)
        # (a bytes-like data URL: its bytes, whatever the item size). URL schemes are
        # case-insensitive (RFC 3986 3.1): "DATA:" is a data URL, as in count_request.
        if bytes(data[:5]).lower() == b"data:":
            return parse_data_url(bytes(data))
        return parse_buffer(data)
    if isinstance(source, str) and source[:5].lower() == "data:":
        return parse_data_url(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            file = open(source, "rb")  # OSError stays OSError
        except (ValueError, TypeError) as error:  # a NUL or a lone surrogate in the path ...
            raise InvalidArgumentError(f"the path cannot be opened: {error}") from None
        with file:
            return _info_from_file(file, parse_buffer, max_read)
    if callable(getattr(source, "read", None)):
        return _info_from_file(source, parse_buffer, max_read)
    raise ArgumentTypeError(
        "source must be bytes, bytearray, memoryview, a path, a binary file or a "
        f"'data:' URL, got {type(source).__name__}")


def _info_from_file(file: Any, parse_buffer: Callable[..., ImageInfo],
                    max_read: int) -> ImageInfo:
    """Reads a first block, then more only while the parser says the answer lies further on
    (a JPEG whose frame header follows a large ICC profile, a GIF's later frames), doubling,
    up to max_read. The whole file is parsed as such; a part of it as a prefix, and at the cap
    the prefix's answer stands (a GIF larger than max_read: its size, animation undecided)."""
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
        if at_end:
            return parse_buffer(data, complete=True)
        try:
            return parse_buffer(data, complete=False)
        except TruncatedImageError as short:
            if len(data) >= max_read:
                if isinstance(short.info, ImageInfo):
                    return short.info
                raise too_long_error(max_read) from None
            want = min(max(short.needed, 2 * len(data)), max_read)
