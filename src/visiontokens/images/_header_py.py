"""Image size from the header, in plain Python: the reference for the Cython parser (spec 5).

What we size and what we refuse follows Pillow, the decoder most likely behind the API, as it
opens a file (``Image.open``, then ``is_animated``): its PngImagePlugin, JpegImagePlugin,
GifImagePlugin, and for WebP libwebp's demuxer. Three deliberate departures, each toward
reading a file a mainstream decoder reads:

- metadata is not validated: PNG ancillary chunks (their CRC and content), JPEG APPn/COM
  payloads and GIF extension contents. Pillow refuses some of these by accident (a short
  gAMA, a short JFIF segment); libpng and libjpeg warn and read on, and checking a CRC costs
  time in proportion to the chunk.
- a GIF extension with no data sub-block ends at its terminator, as the GIF spec and giflib
  say; Pillow reads on past the terminator and misparses the file.
- a PNG side over 2**31 - 1 is refused (the PNG spec's limit, and libpng's).

A GIF's animation is decided by walking its blocks to a second image or the trailer; when
the data ends first, the image is not animated as far as it goes and ``animation_undecided``
says so. ``parse_buffer(data, complete=False)`` parses a prefix of a file: where the answer
needs bytes beyond it, it raises TruncatedImageError with ``needed`` and, once the size is
known, ``info`` (what a reader stopped at its byte cap reports).

It reads through a small reader that hands out byte ranges and raises past the end. For a
data URL the reader decodes only the base64 groups a range needs (decoded byte k sits in
characters 4*(k//3) .. 4*(k//3)+3), so a walk jumps over a 60 KB ICC profile without
decoding it. ``_header_c.pyx`` takes the same steps in the same order and raises through the
same builders (``_errors.py``), so both give the same sizes and the same errors.
"""

from __future__ import annotations

import binascii
import re
import zlib
from typing import Any, Union

from .. import _errors as err
from . import sources as fmt
from .sources import ImageInfo

IMPLEMENTATION = "python"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
MAX_INT31 = 2**31 - 1
WEBP_MAX_CHUNK = 2**32 - 10  # libwebp's MAX_CHUNK_PAYLOAD


class _Short(Exception):
    """The walk needs bytes up to ``needed``, beyond the data."""

    def __init__(self, needed: int):
        self.needed = needed


_GIF_BLOCK = re.compile(rb"[!,;]")  # the bytes that start a GIF block: 0x21, 0x2C, 0x3B


class _BytesReader:
    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)
        self.partial: ImageInfo | None = None  # prefix parse: the answer so far, once sized

    def gif_sub_blocks(self, pos: int) -> int:
        """The position after a chain of GIF data sub-blocks (at or past the end if the data
        ends). Runs of equal sub-blocks are checked 64 at a time with one strided slice."""
        data, size = self.data, self.size
        while pos < size:
            n = data[pos]
            if n == 0:
                return pos + 1
            step = n + 1
            run = bytes([n]) * 64
            while pos + 64 * step < size and data[pos + step:pos + 64 * step + 1:step] == run:
                pos += 64 * step
            pos += step
        return pos

    def gif_skip_stray(self, pos: int) -> int:
        """The first position from ``pos`` whose byte starts a GIF block, or the end."""
        found = _GIF_BLOCK.search(self.data, pos)
        return found.start() if found else max(pos, self.size)

    def read(self, offset: int, n: int) -> bytes:
        if offset + n > self.size:
            raise _Short(offset + n)
        return self.data[offset:offset + n]

    def byte(self, offset: int) -> int:
        if offset >= self.size:
            raise _Short(offset + 1)
        return self.data[offset]

    def need(self, end: int) -> None:
        """Bytes up to ``end`` exist (nothing is decoded: a skipped payload stays unread)."""
        if end > self.size:
            raise _Short(end)


class _Base64Reader:
    """The decoded bytes of text[start:], decoding only the groups each read covers.

    Reads are served from decoded blocks of 1,024 groups, kept one at a time: a block is
    decoded whole only if all of it is valid base64, otherwise each read decodes just its own
    groups, so an invalid character is reported only when a read covers it."""

    BLOCK = 3 * 1024  # decoded bytes per block

    def __init__(self, text: Union[str, bytes], start: int, shift: int = 0):
        self.text = text
        self.start = start
        self.shift = shift  # added to the character positions an error names
        length = len(text) - start
        if length % 4 == 1:
            raise err.base64_length_error(length)
        self.size = fmt.decoded_size(length, text[-2:])
        self.partial: ImageInfo | None = None
        self._block_at = -1
        self._block = b""

    def _cached(self, offset: int) -> bytes | None:
        """The decoded block holding ``offset`` if it is whole and valid, else None."""
        at = offset - offset % self.BLOCK
        if at != self._block_at:
            end = at + self.BLOCK
            if end >= self.size:  # the final block may hold padding: read group by group
                return None
            text = self.text[self.start + at // 3 * 4:self.start + end // 3 * 4]
            try:
                block = binascii.a2b_base64(text, strict_mode=True)
            except (binascii.Error, ValueError):
                return None
            self._block_at, self._block = at, block
        return self._block

    def gif_sub_blocks(self, pos: int) -> int:
        size = self.size
        while pos < size:
            n = self.byte(pos)
            pos += 1 + n
            if n == 0:
                break
        return pos

    def gif_skip_stray(self, pos: int) -> int:
        while pos < self.size:
            block = self._cached(pos)
            if block is None:
                if self.byte(pos) in b"!,;":
                    return pos
                pos += 1
                continue
            found = _GIF_BLOCK.search(block, pos - self._block_at)
            if found:
                return self._block_at + found.start()
            pos = self._block_at + len(block)
        return pos

    def read(self, offset: int, n: int) -> bytes:
        if offset + n > self.size:
            raise _Short(offset + n)
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
                raise err.base64_char_error(at + self.shift) from None
            if len(decoded) != min(3, self.size - 3 * group):  # "=" before the very end
                raise err.base64_char_error(at + self.shift)
            out += decoded
        skip = offset - offset // 3 * 3
        return out[skip:skip + n]

    def byte(self, offset: int) -> int:
        if offset < self.size:
            block = self._cached(offset)
            if block is not None:
                return block[offset - self._block_at]
        return self.read(offset, 1)[0]

    def need(self, end: int) -> None:
        if end > self.size:
            raise _Short(end)


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
        raise _Short(1)
    if head[:8] == PNG_SIGNATURE[:n]:
        return "png"
    if head[0] == 0xFF and (n < 2 or head[1] == 0xD8):
        return "jpeg"
    if any(head[:6] == sig[:n] for sig in GIF_SIGNATURES):
        return "gif"
    if head[:4] == b"RIFF"[:n] and (n < 12 or head[8:12] == b"WEBP"):
        return "webp"
    return ""


# PNG: Pillow walks the chunks to the first IDAT (or IEND, or an APNG fdAT); every chunk
# before it must be whole, with a type of four letters, digits or "_". Pillow and libpng check
# the CRC of the critical chunks (IHDR, PLTE ...); ancillary chunks are metadata (see above).
# The size is the last IHDR's; Pillow counts APNG frames from acTL, plus one when the IDAT
# image is not part of the animation (no fcTL before it).

_PNG_MODES = {(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3),
              (8, 3), (8, 4), (16, 4), (8, 6), (16, 6)}  # Pillow's known bit depth/colour type


def _is_chunk_type(kind: bytes) -> bool:
    return all(48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95 for c in kind)


def _png(r: _Reader, complete: bool) -> ImageInfo:
    pos = 8
    known_mode = False
    width = height = 0
    frames: int | None = None  # acTL's frame count, as Pillow keeps it
    sequence: int | None = None  # the last fcTL sequence number
    framed = False  # an fcTL came: the IDAT image is the animation's first frame
    while True:
        head = r.read(pos, 8)
        length, kind = _be(head[:4]), head[4:8]
        if not _is_chunk_type(kind):
            raise err.png_chunk_type_error(pos, _be(kind))
        if kind == b"IDAT" or kind == b"IEND":
            default_image = kind == b"IDAT" and frames is not None and not framed
            break
        if kind == b"fdAT":
            if length < 4:
                raise err.png_apng_length_error(pos, _be(kind), length)
            number = _be(r.read(pos + 8, 4))
            if sequence is None or number != sequence + 1:
                raise err.png_apng_sequence_error(pos, number)
            default_image = False
            break
        if length > MAX_INT31:
            raise err.png_chunk_length_error(pos, length)
        r.need(pos + 12 + length)  # the whole chunk and its CRC
        if kind == b"IHDR":
            if length < 13:
                raise err.png_ihdr_length_error(pos, length)
            payload = r.read(pos + 8, 13)
            width, height = _be(payload[0:4]), _be(payload[4:8])
            known_mode = known_mode or (payload[8], payload[9]) in _PNG_MODES
            if payload[11]:
                raise err.png_filter_method_error(payload[11])
            if known_mode and 1 <= width <= MAX_INT31 and 1 <= height <= MAX_INT31:
                r.partial = ImageInfo(width, height, "png", False, True)
        elif kind == b"acTL":
            if length < 8:
                raise err.png_apng_length_error(pos, _be(kind), length)
            count = _be(r.read(pos + 8, 4))
            if frames is not None:  # a second acTL: Pillow drops the animation
                frames = None
            elif 0 < count <= 0x80000000:
                frames = count
        elif kind == b"fcTL":
            if length < 26:
                raise err.png_apng_length_error(pos, _be(kind), length)
            payload = r.read(pos + 8, 20)
            number = _be(payload[0:4])
            if (sequence is None and number != 0) or (sequence is not None and number != sequence + 1):
                raise err.png_apng_sequence_error(pos, number)
            sequence = number
            frame_w, frame_h, x, y = (_be(payload[i:i + 4]) for i in (4, 8, 12, 16))
            if x + frame_w > width or y + frame_h > height:
                raise err.png_apng_frame_error(pos)
            framed = True
        if not kind[0] & 0x20:  # a critical chunk: its CRC must match
            payload = r.read(pos + 8, length)  # the data, then its CRC: the compiled twin's
            crc = _be(r.read(pos + 8 + length, 4))  # order, so a bad base64 group is the same one
            if crc != zlib.crc32(payload, zlib.crc32(kind)):
                raise err.png_crc_error(pos, _be(kind))
        pos += 12 + length
    if not known_mode:
        raise err.png_no_ihdr_error()
    if not (1 <= width <= MAX_INT31 and 1 <= height <= MAX_INT31):
        raise err.png_size_error(width, height)
    count = (frames or 1) + (1 if default_image else 0)
    return ImageInfo(width, height, "png", count > 1)


# JPEG: Pillow reads markers up to the first SOS, each length-bearing segment whole: bytes
# that are not 0xFF are skipped (libjpeg: "extraneous bytes before marker"), so are 0xFF fill
# bytes and a stuffed 0xFF00; 0xFF01..0xFFBF are not markers. The size is the last frame
# header's; the data may also end at a marker, after the frame header.

def _is_frame_header(marker: int) -> bool:
    # SOF0..SOF15 but DHT (C4), JPG (C8), DAC (CC); and DHP (DE), which Pillow reads as one
    return (0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)) or marker == 0xDE


def _is_standalone(marker: int) -> bool:
    # JPG, RST0..7, SOI, EOI, JPG0..13: no length follows (Pillow's table)
    return marker == 0xC8 or 0xD0 <= marker <= 0xD9 or 0xF0 <= marker <= 0xFD


def _jpeg(r: _Reader, complete: bool) -> ImageInfo:
    start = r.read(0, 3)
    if start[2] != 0xFF:
        raise err.jpeg_start_error(start[2])
    pos = 2
    size: tuple[int, int] | None = None
    while True:
        if pos >= r.size:  # the data ends between segments
            if complete:
                break
            raise _Short(pos + 1)
        if r.byte(pos) != 0xFF:
            pos += 1
            continue
        if pos + 1 >= r.size:
            if complete:
                break
            raise _Short(pos + 2)
        marker = r.byte(pos + 1)
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0x00:
            pos += 2
            continue
        if marker < 0xC0:
            raise err.jpeg_marker_error(pos, marker)
        if _is_standalone(marker):
            pos += 2
            continue
        length = _be(r.read(pos + 2, 2))
        if length > 2:
            r.need(pos + 2 + length)  # the segment is whole
        if _is_frame_header(marker):
            if length < 8:
                raise err.jpeg_frame_length_error(pos, length)
            frame = r.read(pos + 4, 6)  # precision, height, width, components
            if frame[0] != 8:
                raise err.jpeg_precision_error(frame[0])
            if frame[5] not in (1, 3, 4):
                raise err.jpeg_components_error(frame[5])
            if (length - 8) % 3:
                raise err.jpeg_frame_table_error(pos, length)
            size = (_be(frame[3:5]), _be(frame[1:3]))
            r.partial = ImageInfo(size[0], size[1], "jpeg", False) if size[0] and size[1] else None
        elif marker == 0xDB:  # DQT: whole tables, 65 or 129 bytes by their precision
            at, end = pos + 4, pos + 2 + length
            while at < end:
                at += 65 if r.byte(at) < 16 else 129
                if at > end:
                    raise err.jpeg_quantization_error(pos)
        elif marker == 0xDA:  # SOS: the image data begins
            break
        pos += 2 + max(length, 2)
    if size is None:
        raise err.jpeg_no_frame_error()
    if not size[0] or not size[1]:
        raise err.jpeg_size_error(*size)
    return ImageInfo(size[0], size[1], "jpeg", False)


# GIF: Pillow finds the first image descriptor (skipping extensions and any stray byte between
# blocks) and takes the size as the logical screen grown to hold that image; then, for
# is_animated, it looks for a second image descriptor after the first image's data. The data
# may end anywhere after the first image's LZW code size: a still image so far, undecided.

def _gif(r: _Reader, complete: bool) -> ImageInfo:
    screen = r.read(0, 13)
    width, height = _le(screen[6:8]), _le(screen[8:10])
    pos = 13 + (3 << ((screen[10] & 7) + 1) if screen[10] & 0x80 else 0)
    while True:  # the first image
        block = r.byte(pos)
        if block == 0x2C:
            image = r.read(pos + 1, 9)
            pos += 10 + (3 << ((image[8] & 7) + 1) if image[8] & 0x80 else 0)
            r.byte(pos)  # the LZW minimum code size
            width = max(width, _le(image[0:2]) + _le(image[4:6]))
            height = max(height, _le(image[2:4]) + _le(image[6:8]))
            pos = r.gif_sub_blocks(pos + 1)
            break
        if block == 0x21:
            r.byte(pos + 1)  # the label
            pos = r.gif_sub_blocks(pos + 2)
        elif block == 0x3B:
            raise err.gif_no_image_error(pos)
        else:  # stray bytes between blocks: Pillow skips them
            pos = r.gif_skip_stray(pos)
    if not width or not height:
        raise err.gif_size_error(width, height)
    still = ImageInfo(width, height, "gif", False, True)
    r.partial = still
    while True:  # a second image?
        if pos >= r.size:
            break
        block = r.byte(pos)
        if block == 0x2C:
            if pos + 10 > r.size:
                break
            packed = r.byte(pos + 9)
            end = pos + 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            if end >= r.size:  # (its LZW code size is cut)
                break
            return ImageInfo(width, height, "gif", True)
        if block == 0x3B:
            return ImageInfo(width, height, "gif", False)
        if block == 0x21:
            pos = r.gif_sub_blocks(pos + 2)
        else:
            pos = r.gif_skip_stray(pos)
    if complete:
        return still
    raise _Short(max(pos, r.size) + 1)


# WebP: libwebp's demuxer (WebPDemux), as Pillow opens it. The RIFF size bounds the walk (data
# after it is ignored; less data than it says is truncated); every chunk must fit inside it,
# and between chunks there are no stray bytes. A simple file (VP8 or VP8L first) is its image;
# an extended one (VP8X) holds one image, or with the animation flag ANIM then ANMF frames,
# and Pillow counts the frames. Each image's bitstream header is checked as WebPGetFeatures
# does.

_ALPH, _VP8, _VP8L, _VP8X = b"ALPH", b"VP8 ", b"VP8L", b"VP8X"
# order errors (indices of _errors._WEBP_ORDER)
_SECOND_VP8X, _STILL_IN_ANIMATION, _ANMF_BEFORE_ANIM, _SECOND_IMAGE, _VP8L_AFTER_ALPH, \
    _ALPH_AFTER_IMAGE, _ALPH_ONLY = range(7)


def _webp_bitstream(r: _Reader, pos: int, kind: bytes, size: int) -> tuple[int, int]:
    """The image size from a VP8 or VP8L chunk's bitstream header, as WebPGetFeatures
    checks it; ``size`` is the chunk's declared payload."""
    payload = size + (size & 1)
    if kind == _VP8:
        if payload < 10:
            raise err.webp_vp8_error(pos, 0)
        frame = r.read(pos + 8, 10)
        if frame[3:6] != b"\x9d\x01\x2a":
            raise err.webp_vp8_error(pos, 1)
        bits = _le(frame[0:3])
        if bits & 1:
            raise err.webp_vp8_error(pos, 2)
        if (bits >> 1) & 7 > 3:
            raise err.webp_vp8_error(pos, 3)
        if not (bits >> 4) & 1:
            raise err.webp_vp8_error(pos, 4)
        if bits >> 5 >= size:
            raise err.webp_vp8_error(pos, 5)
        width, height = _le(frame[6:8]) & 0x3FFF, _le(frame[8:10]) & 0x3FFF
        if not width or not height:
            raise err.webp_vp8_error(pos, 6)
        return width, height
    if payload < 5:
        raise err.webp_vp8l_error(pos, 0)
    frame = r.read(pos + 8, 5)
    if frame[0] != 0x2F:
        raise err.webp_vp8l_error(pos, 1)
    bits = _le(frame[1:5])
    if bits >> 29:
        raise err.webp_vp8l_error(pos, 2)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


class _Frame:
    __slots__ = ("alpha_at", "image_at", "width", "height", "x", "y", "touched", "alpha_kept")

    def __init__(self) -> None:
        self.alpha_at = self.image_at = -1
        self.width = self.height = self.x = self.y = 0
        self.touched = False  # an ALPH or an image was stored
        self.alpha_kept = True  # libwebp drops a still image's ALPH without the alpha flag


def _webp_chunk(r: _Reader, pos: int, riff_end: int) -> tuple[bytes, int, int]:
    """(fourcc, declared size, padded size) of the chunk header at ``pos``."""
    head = r.read(pos, 8)
    size = _le(head[4:8])
    padded = size + (size & 1)
    if size > WEBP_MAX_CHUNK or padded > riff_end - pos - 8:
        raise err.webp_chunk_size_error(pos, size)
    return head[:4], size, padded


def _webp_after_chunk(pos: int, riff_end: int) -> bool:
    """True at the RIFF end; a gap under a chunk header's 8 bytes is an error."""
    if pos == riff_end:
        return True
    if riff_end - pos < 8:
        raise err.webp_leftover_error(pos, riff_end - pos)
    return False


def _webp_frame(r: _Reader, pos: int, riff_end: int, frame: _Frame) -> int:
    """libwebp's StoreFrame: an optional ALPH then a VP8/VP8L image, stopping at any other
    chunk or a second one of either; returns where it stopped."""
    if riff_end - pos < 8:
        raise err.webp_leftover_error(pos, riff_end - pos)
    while True:
        kind, size, padded = _webp_chunk(r, pos, riff_end)
        if kind == _ALPH and frame.alpha_at < 0:
            frame.alpha_at = pos
            frame.touched = True
        elif (kind == _VP8 or kind == _VP8L) and frame.image_at < 0:
            if kind == _VP8L and frame.alpha_at >= 0:
                raise err.webp_order_error(pos, _VP8L_AFTER_ALPH)
            frame.width, frame.height = _webp_bitstream(r, pos, kind, size)
            frame.image_at = pos
            frame.touched = True
        else:
            return pos
        pos += 8 + padded
        if _webp_after_chunk(pos, riff_end):
            return pos


def _webp(r: _Reader, complete: bool) -> ImageInfo:
    riff_size = _le(r.read(4, 4))
    if riff_size < 8 or riff_size > WEBP_MAX_CHUNK:
        raise err.webp_riff_size_error(riff_size)
    riff_end = riff_size + 8
    if complete and r.size < riff_end:
        raise _Short(riff_end)  # libwebp opens only a whole RIFF
    kind = r.read(12, 4)
    if kind == _VP8 or kind == _VP8L:  # a simple file: one image, its size the canvas
        if not complete:  # a prefix: the image's header is enough
            _, size, _ = _webp_chunk(r, 12, riff_end)
            width, height = _webp_bitstream(r, 12, kind, size)
            return ImageInfo(width, height, "webp", False)
        frame = _Frame()
        _webp_frame(r, 12, riff_end, frame)
        return ImageInfo(frame.width, frame.height, "webp", False)
    if kind != _VP8X:
        raise err.webp_first_chunk_error(_le(kind))
    size = _le(r.read(16, 4))
    if size > WEBP_MAX_CHUNK or size < 10:
        raise err.webp_vp8x_error(size)
    padded = size + (size & 1)
    if padded > riff_end - 20:
        raise err.webp_chunk_size_error(12, size)
    header = r.read(20, 10)
    flags = header[0]
    width, height = _le(header[4:7]) + 1, _le(header[7:10]) + 1
    if width * height >= 2**32:
        raise err.webp_area_error(width, height)
    animation = bool(flags & 0x02)
    r.partial = ImageInfo(width, height, "webp", False, animation)
    if not complete and not animation:
        return ImageInfo(width, height, "webp", False)  # a prefix: sized, and still
    pos = 20 + padded
    if riff_end - pos < 8:
        raise err.webp_leftover_error(pos, riff_end - pos)
    frames: list[_Frame] = []
    anim_seen = False
    while True:
        at = pos
        kind, size, padded = _webp_chunk(r, pos, riff_end)
        if kind == _VP8X:
            raise err.webp_order_error(pos, _SECOND_VP8X)
        if kind in (_ALPH, _VP8, _VP8L):
            if anim_seen or animation:
                raise err.webp_order_error(pos, _STILL_IN_ANIMATION)
            if frames:
                raise err.webp_order_error(pos, _SECOND_IMAGE)
            frame = _Frame()
            pos = _webp_frame(r, pos, riff_end, frame)
            frame.alpha_kept = bool(flags & 0x10)
            frames.append(frame)
            if pos == riff_end:
                break
            continue
        if kind == b"ANIM":
            if padded < 6:
                raise err.webp_anim_error(pos, _le(kind), size)
            r.need(pos + 8 + padded)  # whole
            anim_seen = True
        elif kind == b"ANMF":
            if not anim_seen:
                raise err.webp_order_error(pos, _ANMF_BEFORE_ANIM)
            if padded < 16:
                raise err.webp_anim_error(pos, _le(kind), size)
            head = r.read(pos + 8, 16)
            frame = _Frame()
            frame.x, frame.y = 2 * _le(head[0:3]), 2 * _le(head[3:6])
            frame.width, frame.height = _le(head[6:9]) + 1, _le(head[9:12]) + 1
            if frame.width * frame.height >= 2**32:
                raise err.webp_area_error(frame.width, frame.height)
            pos = _webp_frame(r, pos + 24, riff_end, frame)
            if animation and frame.touched:
                if frames and frames[-1].image_at < 0:  # the last frame had no image
                    raise err.webp_order_error(frames[-1].alpha_at, _ALPH_ONLY)
                frames.append(frame)
                if not complete and len(frames) == 2:
                    return ImageInfo(width, height, "webp", True)  # a prefix: animated
            if pos == riff_end:
                break
            continue
        else:
            r.need(pos + 8 + padded)  # whole
        pos = at + 8 + padded
        if _webp_after_chunk(pos, riff_end):
            break
    if flags & ~0x3E:
        raise err.webp_flags_error(flags)
    if not frames:
        raise err.webp_no_frame_error()
    for frame in frames:
        if frame.image_at < 0:
            raise err.webp_order_error(frame.alpha_at, _ALPH_ONLY)
        if frame.alpha_kept and frame.alpha_at > frame.image_at:
            raise err.webp_order_error(frame.alpha_at, _ALPH_AFTER_IMAGE)
        if (frame.x + frame.width > width or frame.y + frame.height > height) if animation \
                else (frame.width != width or frame.height != height):
            raise err.webp_frame_bounds_error(frame.image_at)
    return ImageInfo(width, height, "webp", len(frames) > 1)


_PARSERS = {"png": _png, "jpeg": _jpeg, "gif": _gif, "webp": _webp}


def _parse(r: _Reader, complete: bool) -> ImageInfo:
    kind = ""
    try:
        kind = _identify(r)
        if kind:
            return _PARSERS[kind](r, complete)
    except _Short as short:
        raise err.truncated_error(kind, r.size, short.needed,
                                  None if complete else r.partial) from None
    raise err.unsupported_error(_prefix(r, fmt.SNIFF_BYTES))


def _prefix(r: _Reader, n: int) -> bytes:
    return r.read(0, min(n, r.size))


# --- entry points (same names and behaviour in _header_c.pyx) -----------------------------------

def decoded_size(length: int, text_tail: str | bytes) -> int:
    """Bytes a canonical base64 payload of ``length`` (an int >= 0) characters decodes to;
    ``text_tail`` is its last two characters, a str or bytes. Padding ("=") counts only at the
    very end."""
    return fmt.decoded_size(length, text_tail)


def parse_buffer(data: Any, complete: bool = True) -> ImageInfo:
    """The header of an image in memory (bytes, bytearray, memoryview). With ``complete=False``
    ``data`` is the start of a longer file (see ``_header_py.py``)."""
    return _parse(_BytesReader(bytes(fmt.byte_view(data))), bool(complete))


def parse_data_url(url: Union[str, bytes]) -> ImageInfo:
    """The header of a ``data:image/...;base64,...`` URL, decoding only what it needs."""
    if isinstance(url, str) and not url.isascii():
        raise err.non_ascii_error()
    comma = (url.find(",", 0, fmt.MAX_DATA_URL_HEADER) if isinstance(url, str)
             else url.find(b",", 0, fmt.MAX_DATA_URL_HEADER))
    if comma < 0:
        raise err.no_comma_error(fmt.MAX_DATA_URL_HEADER)
    header = url[5:comma]
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    if not fmt.data_url_header_ok(header):
        raise err.data_url_header_error(header)
    return _parse(_Base64Reader(url, comma + 1), True)


def parse_base64(text: Union[str, bytes], media_type: str, *, url_safe: bool = False) -> ImageInfo:
    """The header of an image sent as raw base64 with its media type (an Anthropic base64
    source, a Gemini inlineData blob), read in place as a data URL's payload is: no copy
    into a "data:" string. ``media_type`` is checked as a data URL's header would be; the
    format comes from the bytes. ``url_safe=True`` (Gemini) also reads the URL-safe
    alphabet: "-" and "_" as "+" and "/", wherever they are."""
    _check_media_type(media_type)
    if isinstance(text, str):
        if not text.isascii():
            raise err.non_ascii_error()
        text = str(text)
    else:
        text = bytes(fmt.byte_view(text))
    return _parse(_Base64Reader(_UrlSafeText(text) if url_safe else text, 0), True)  # type: ignore[arg-type]


class _UrlSafeText:
    """Base64 text whose URL-safe characters ("-", "_", RFC 4648 5) read as the standard
    ones ("+", "/"), each slice translated as the reader takes it: never copied whole."""

    __slots__ = ("text",)

    def __init__(self, text: Any):
        self.text = text

    def __len__(self) -> int:
        return len(self.text)

    def __getitem__(self, key: slice) -> Any:
        part = self.text[key]
        return part.translate(_URL_SAFE_STR if isinstance(part, str) else _URL_SAFE_BYTES)


_URL_SAFE_STR = str.maketrans("-_", "+/")
_URL_SAFE_BYTES = bytes.maketrans(b"-_", b"+/")


def _check_media_type(media_type: Any) -> None:
    if type(media_type) is not str or not fmt.data_url_header_ok(media_type + ";base64"):
        raise err.data_url_header_error(f"{media_type};base64" if isinstance(media_type, str)
                                        else type(media_type).__name__)


class _ViewText:
    """A data URL's bytes in a larger buffer, sliced to bytes on demand (the reader slices
    four characters or one block at a time), so the URL is never copied whole."""

    __slots__ = ("view",)

    def __init__(self, view: Any):
        self.view = view

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, key: slice) -> bytes:
        return bytes(self.view[key])


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def data_url_info(text: Any, *, ascii: bool = False, fill: Any = None) -> ImageInfo:
    """The header of a data URL given as its bytes (bytes, bytearray, memoryview: a window on
    a request body, say), read in place: the same result and errors as image_info on the
    equal str. The caller has checked the "data:" scheme; ``ascii=True`` says it knows every
    byte is ASCII (the request scan knows it of each string), which skips that check.
    ``fill``: the hook that comes with a window on a compiled BodyBuffer whose blocks are
    copied in as they are read (``BodyString.header_view``), or None."""
    _no_fill(fill)
    view = fmt.byte_view(text)
    if not ascii and _NON_ASCII.search(view):
        raise err.non_ascii_error()  # as for a str holding a non-ASCII character
    comma = bytes(view[:fmt.MAX_DATA_URL_HEADER]).find(b",")
    if comma < 0:
        raise err.no_comma_error(fmt.MAX_DATA_URL_HEADER)
    header = bytes(view[5:comma]).decode("latin-1")
    if not fmt.data_url_header_ok(header):
        raise err.data_url_header_error(header)
    return _parse(_Base64Reader(_ViewText(view), comma + 1), True)  # type: ignore[arg-type]


def base64_info(text: Any, media_type: str, *, ascii: bool = False, shift: int = 0,
                url_safe: bool = False, fill: Any = None) -> ImageInfo:
    """The header of raw base64 given as its bytes (a window on a request body), read in
    place: the same result and errors as parse_base64 on the equal str, except that the
    character positions an error names are ``shift`` more (a Chat Completions URL holding
    the base64 alone reads as the data URL "data:image/*;base64," + it: its errors count
    from that URL's start). ``ascii=True`` and ``fill``: as for data_url_info. ``url_safe``:
    as for parse_base64."""
    _no_fill(fill)
    _check_media_type(media_type)
    view = fmt.byte_view(text)
    if not ascii and _NON_ASCII.search(view):
        raise err.non_ascii_error()
    text = _ViewText(view)
    return _parse(_Base64Reader(_UrlSafeText(text) if url_safe else text, 0, shift), True)  # type: ignore[arg-type]


def _no_fill(fill: Any) -> None:
    # the pure scan's bodies are always whole: only the compiled scan's windows come with a
    # hook, and only the compiled parser calls it
    if fill is not None:
        raise err.ArgumentTypeError(f"fill must be a BodyString's fill hook or None, got "
                                    f"{type(fill).__name__}")


def image_info(source: Any, *, max_read: int = fmt.DEFAULT_MAX_READ) -> ImageInfo:
    """See :func:`visiontokens.image_info`."""
    return fmt.info_from_any(source, parse_buffer, parse_data_url, max_read)
