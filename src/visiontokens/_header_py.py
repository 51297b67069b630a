"""Image size from the header, in plain Python: the reference for the Cython parser.

It reads through a small reader that hands out byte ranges and raises a truncation error
past the end. For a data URL the reader decodes only the base64 groups a range needs
(decoded byte k sits in characters 4*(k//3) .. 4*(k//3)+3), so the JPEG walk jumps over a
60 KB ICC profile without decoding it. ``_header_c.pyx`` takes the same steps in the same
order and reports failures through the same builders (``_image_input``), so both give the
same sizes and the same errors.
"""

from __future__ import annotations

import binascii
from typing import Any, Union

from . import _image_input as fmt
from ._image_input import ImageInfo

IMPLEMENTATION = "python"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
MAX_INT31 = 2**31 - 1


class _Truncated(Exception):
    def __init__(self, needed: int):
        self.needed = needed


class _BytesReader:
    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def read(self, offset: int, n: int) -> bytes:
        if offset + n > self.size:
            raise _Truncated(offset + n)
        return self.data[offset:offset + n]


class _Base64Reader:
    """The decoded bytes of text[start:], decoding only the groups each read covers."""

    def __init__(self, text: Union[str, bytes], start: int):
        self.text = text
        self.start = start
        length = len(text) - start
        if length % 4 == 1:
            raise fmt.base64_length_error(length)
        self.size = fmt.decoded_size(length, text[-2:])

    def read(self, offset: int, n: int) -> bytes:
        if offset + n > self.size:
            raise _Truncated(offset + n)
        out = b""
        for group in range(offset // 3, (offset + n - 1) // 3 + 1):
            at = self.start + 4 * group
            chars = self.text[at:at + 4]
            if isinstance(chars, str):
                chars += "=" * (-len(chars) % 4)
            else:
                chars += b"=" * (-len(chars) % 4)
            try:
                decoded = binascii.a2b_base64(chars, strict_mode=True)
            except (binascii.Error, ValueError):
                raise fmt.base64_char_error(at) from None
            if len(decoded) != min(3, self.size - 3 * group):  # "=" before the very end
                raise fmt.base64_char_error(at)
            out += decoded
        skip = offset - offset // 3 * 3
        return out[skip:skip + n]


_Reader = Union[_BytesReader, _Base64Reader]


def _be(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _le(b: bytes) -> int:
    return int.from_bytes(b, "little")


# --- the formats ---------------------------------------------------------------------------

def _identify(r: _Reader) -> str:
    n = min(r.size, 12)
    head = r.read(0, n)
    if r.size == 0:
        raise _Truncated(1)
    if head[:8] == PNG_SIGNATURE[:n]:
        return "png"
    if head[0] == 0xFF and (n < 2 or head[1] == 0xD8):
        return "jpeg"
    if any(head[:6] == sig[:n] for sig in GIF_SIGNATURES):
        return "gif"
    if head[:4] == b"RIFF"[:n] and (n < 12 or head[8:12] == b"WEBP"):
        return "webp"
    return ""


def _png(r: _Reader) -> ImageInfo:
    ihdr = r.read(8, 16)  # the signature was checked by _identify
    if ihdr[4:8] != b"IHDR":
        raise fmt.corrupt_error(fmt.PNG_NO_IHDR, _be(ihdr[4:8]))
    if _be(ihdr[:4]) > MAX_INT31:
        raise fmt.corrupt_error(fmt.PNG_BAD_CHUNK_LENGTH, 8, _be(ihdr[:4]))
    width, height = _be(ihdr[8:12]), _be(ihdr[12:16])
    if not (1 <= width <= MAX_INT31 and 1 <= height <= MAX_INT31):
        raise fmt.corrupt_error(fmt.PNG_BAD_SIZE, width, height)
    pos = 8 + 12 + _be(ihdr[:4])
    while True:  # walk the chunks to the first IDAT: an acTL before it makes an APNG
        chunk = r.read(pos, 8)
        length = _be(chunk[:4])
        if length > MAX_INT31:
            raise fmt.corrupt_error(fmt.PNG_BAD_CHUNK_LENGTH, pos, length)
        if chunk[4:8] == b"acTL":
            return ImageInfo(width, height, "png", True)
        if chunk[4:8] == b"IDAT":
            return ImageInfo(width, height, "png", False)
        pos += 12 + length


def _is_frame_header(marker: int) -> bool:
    # SOF0..SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames
    return 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)


def _jpeg(r: _Reader) -> ImageInfo:
    r.read(0, 2)
    pos = 2
    while True:
        byte = r.read(pos, 1)[0]
        if byte != 0xFF:
            raise fmt.corrupt_error(fmt.JPEG_NO_MARKER, pos, byte)
        marker = r.read(pos + 1, 1)[0]
        while marker == 0xFF:  # fill bytes
            pos += 1
            marker = r.read(pos + 1, 1)[0]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone: TEM, RST0..7
            pos += 2
            continue
        if marker in (0x00, 0xD8, 0xD9, 0xDA):
            raise fmt.corrupt_error(fmt.JPEG_NO_FRAME, pos, marker)
        length = _be(r.read(pos + 2, 2))
        if length < 2 or (_is_frame_header(marker) and length < 8):
            raise fmt.corrupt_error(fmt.JPEG_BAD_LENGTH, pos + 2, length)
        if _is_frame_header(marker):
            frame = r.read(pos + 4, 5)  # precision, height, width
            height, width = _be(frame[1:3]), _be(frame[3:5])
            if width == 0 or height == 0:
                raise fmt.corrupt_error(fmt.JPEG_ZERO_SIZE, width, height)
            return ImageInfo(width, height, "jpeg", False)
        pos += 2 + length


def _gif_sub_blocks(r: _Reader, pos: int) -> int:
    while True:
        n = r.read(pos, 1)[0]
        pos += 1 + n
        if n == 0:
            return pos


def _gif(r: _Reader) -> ImageInfo:
    screen = r.read(0, 13)
    width, height = _le(screen[6:8]), _le(screen[8:10])
    if width == 0 or height == 0:
        raise fmt.corrupt_error(fmt.GIF_ZERO_SIZE, width, height)
    pos = 13 + (3 << ((screen[10] & 7) + 1) if screen[10] & 0x80 else 0)
    images = 0
    while True:  # the block stream: a second image descriptor means animated
        block = r.read(pos, 1)[0]
        if block == 0x2C:  # image descriptor
            images += 1
            if images == 2:
                return ImageInfo(width, height, "gif", True)
            packed = r.read(pos + 9, 1)[0]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1  # + LZW size
            pos = _gif_sub_blocks(r, pos)
        elif block == 0x21:  # extension: introducer, label, sub-blocks
            pos = _gif_sub_blocks(r, pos + 2)
        elif block == 0x3B:  # trailer
            return ImageInfo(width, height, "gif", False)
        else:
            raise fmt.corrupt_error(fmt.GIF_BAD_BLOCK, pos, block)


def _webp(r: _Reader) -> ImageInfo:
    chunk = r.read(12, 8)[:4]  # the first chunk's header ("RIFF....WEBP": _identify)
    if chunk == b"VP8 ":
        frame = r.read(20, 10)
        if frame[0] & 1:
            raise fmt.corrupt_error(fmt.WEBP_NOT_KEYFRAME)
        if frame[3:6] != b"\x9d\x01\x2a":
            raise fmt.corrupt_error(fmt.WEBP_BAD_START_CODE)
        width, height = _le(frame[6:8]) & 0x3FFF, _le(frame[8:10]) & 0x3FFF
        if width == 0 or height == 0:
            raise fmt.corrupt_error(fmt.WEBP_ZERO_SIZE, width, height)
        return ImageInfo(width, height, "webp", False)
    if chunk == b"VP8L":
        frame = r.read(20, 5)
        if frame[0] != 0x2F:
            raise fmt.corrupt_error(fmt.WEBP_BAD_SIGNATURE, frame[0])
        bits = _le(frame[1:5])
        if bits >> 29:
            raise fmt.corrupt_error(fmt.WEBP_BAD_VERSION, bits >> 29)
        return ImageInfo((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "webp", False)
    if chunk == b"VP8X":
        canvas = r.read(20, 10)
        return ImageInfo(_le(canvas[4:7]) + 1, _le(canvas[7:10]) + 1, "webp",
                         bool(canvas[0] & 0x02))
    raise fmt.corrupt_error(fmt.WEBP_UNKNOWN_CHUNK, _le(chunk))


_PARSERS = {"png": _png, "jpeg": _jpeg, "gif": _gif, "webp": _webp}


def _parse(r: _Reader) -> ImageInfo:
    kind = ""
    try:
        kind = _identify(r)
        if kind:
            return _PARSERS[kind](r)
    except _Truncated as short:
        raise fmt.truncated_error(kind, r.size, short.needed) from None
    raise fmt.unsupported_error(_prefix(r, fmt.SNIFF_BYTES))


def _prefix(r: _Reader, n: int) -> bytes:
    return r.read(0, min(n, r.size))


# --- entry points (same names and behaviour in _header_c.pyx) -----------------------------------

def parse_buffer(data: Any) -> ImageInfo:
    """The header of an image held whole in memory (bytes, bytearray, memoryview)."""
    return _parse(_BytesReader(bytes(memoryview(data).cast("B"))))


def parse_data_url(url: Union[str, bytes]) -> ImageInfo:
    """The header of a ``data:image/...;base64,...`` URL, decoding only what it needs."""
    if isinstance(url, str) and not url.isascii():
        raise fmt.non_ascii_error()
    if isinstance(url, str):
        comma = url.find(",", 0, fmt.MAX_DATA_URL_HEADER)
    else:
        comma = url.find(b",", 0, fmt.MAX_DATA_URL_HEADER)
    if comma < 0:
        raise fmt.no_comma_error()
    header = url[5:comma]
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    if not fmt.data_url_header_ok(header):
        raise fmt.data_url_header_error(header)
    return _parse(_Base64Reader(url, comma + 1))


def image_info(source: Any, *, max_read: int = fmt.DEFAULT_MAX_READ) -> ImageInfo:
    """See :func:`visiontokens.image_info`."""
    return fmt.info_from_any(source, parse_buffer, parse_data_url, max_read)
