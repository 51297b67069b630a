"""A generated corpus of PNG, JPEG, GIF and WebP files, each named after the decoder behaviour
it exercises, and Pillow's verdict on each (the oracle of tests/test_header_corpus.py).

Every case starts from a file a real encoder wrote (Pillow's PNG, JPEG, GIF and WebP writers,
libwebp for WebP) or from a minimal file built to the format's spec, then applies the one
change its name says. ``diverges`` marks the few cases where we deliberately answer otherwise
than Pillow, with the rule we follow instead (see _header_py.py).

    python tests/corpus.py      # prints the agreement table, file by file
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache

from headers import (
    anmf,
    gif_header,
    jpeg_header,
    pillow_image,
    png_chunk,
    png_header,
    riff,
    vp8x_payload,
    webp_chunk,
)

RAISES = "raises"  # Pillow opened the file, but is_animated raised


@dataclass(frozen=True)
class Case:
    name: str  # "<decoder>: <behaviour>"
    data: bytes
    diverges: str = ""  # why we answer otherwise than Pillow, and whose rule we follow


@dataclass(frozen=True)
class Verdict:
    opened: bool
    format: str = ""
    size: tuple[int, int] = (0, 0)
    animated: object = False  # True, False, or RAISES

    def __str__(self) -> str:
        if not self.opened:
            return "refuses"
        return f"{self.format} {self.size[0]}x{self.size[1]}, animated {self.animated}"


def pillow(data: bytes) -> Verdict:
    """What Pillow makes of the file: Image.open, then is_animated (as the API would). The
    decompression-bomb limit is a policy, not a format rule: it is off here."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(io.BytesIO(data)) as image:
                name = {"MPO": "jpeg"}.get(image.format, (image.format or "").lower())
                try:
                    animated: object = bool(getattr(image, "is_animated", False))
                except Exception:
                    animated = RAISES
                return Verdict(True, name, image.size, animated)
        except Exception:
            return Verdict(False)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def ours(parser, data: bytes) -> Verdict:
    from visiontokens import InvalidImageError

    try:
        info = parser.image_info(data)
    except InvalidImageError:
        return Verdict(False)
    return Verdict(True, info.format, (info.width, info.height),
                   RAISES if info.animation_undecided else info.animated)


def agrees(theirs: Verdict, mine: Verdict) -> bool:
    """Same verdict; an undecided animation matches Pillow's "no" (its is_animated stops at
    the end of the data) and a Pillow is_animated that raised."""
    if theirs.opened != mine.opened:
        return False
    if not theirs.opened:
        return True
    if (theirs.format, theirs.size) != (mine.format, mine.size):
        return False
    if mine.animated == RAISES:
        return theirs.animated in (False, RAISES)
    return theirs.animated == mine.animated


# --- helpers ---------------------------------------------------------------------------------

def replace_at(data: bytes, at: int, new: bytes, count: int = 0) -> bytes:
    return data[:at] + new + data[at + count:]


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, marker, length) of each segment up to and including SOS."""
    out, pos = [], 2
    while pos + 4 <= len(data):
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def jpeg_at(data: bytes, marker: int, nth: int = 0) -> tuple[int, int]:
    found = [(pos, length) for pos, m, length in jpeg_segments(data) if m == marker]
    return found[nth]


def sof(w: int, h: int, precision: int = 8, components: int = 3, table: bytes | None = None,
        marker: int = 0xC0) -> bytes:
    body = struct.pack(">BHHB", precision, h, w, components)
    body += table if table is not None else b"\x01\x11\x00" * components
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body


def png_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of each chunk."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        out.append((pos, data[pos + 4:pos + 8], length))
        pos += 12 + length
    return out


def png_at(data: bytes, kind: bytes) -> int:
    return next(pos for pos, k, _ in png_chunks(data) if k == kind)


def ihdr(w: int, h: int, depth: int = 8, colour: int = 2, filter_method: int = 0) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, filter_method, 0))


def actl(frames: int) -> bytes:
    return png_chunk(b"acTL", struct.pack(">II", frames, 0))


def fctl(sequence: int, w: int, h: int, x: int = 0, y: int = 0) -> bytes:
    return png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, w, h, x, y, 1, 10, 0, 0))


def fdat(sequence: int) -> bytes:
    return png_chunk(b"fdAT", struct.pack(">I", sequence) + zlib.compress(b"\x00" * 4))


def bad_crc(chunk: bytes) -> bytes:
    return chunk[:-4] + bytes(b ^ 0xFF for b in chunk[-4:])


def gif_first_image(data: bytes) -> int:
    """Offset of the first image descriptor of a GIF Pillow wrote (no stray 0x2C before)."""
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    while data[pos] == 0x21:
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    return pos


def gif_image_data_end(data: bytes, at: int) -> int:
    """Offset after the image at ``at`` (descriptor, palette, LZW data)."""
    packed = data[at + 9]
    pos = at + 10 + ((3 << ((packed & 7) + 1)) if packed & 0x80 else 0) + 1
    while data[pos]:
        pos += 1 + data[pos]
    return pos + 1


def gif_with_sub_blocks(size: int, block: int) -> bytes:
    """A 1x1 GIF whose image data is ``size`` bytes in sub-blocks of ``block`` bytes, twice."""
    chain = b""
    left = size
    while left > 0:
        n = min(block, left)
        chain += bytes([n]) + bytes(n)
        left -= n
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02" + chain + b"\x00"
    return b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + bytes(6) + frame + frame + b"\x3b"


def webp_chunk_of(data: bytes, kind: bytes) -> bytes:
    """The whole chunk ``kind`` (header, payload, pad byte) of a simple WebP file."""
    at = data.index(kind, 12)
    size = struct.unpack("<I", data[at + 4:at + 8])[0]
    return data[at:at + 8 + size + (size & 1)]


def flip_vp8_tag(data: bytes, clear: int = 0, set_: int = 0) -> bytes:
    at = data.index(b"VP8 ") + 8
    tag = int.from_bytes(data[at:at + 3], "little")
    tag = (tag & ~clear) | set_
    return replace_at(data, at, tag.to_bytes(3, "little"), 3)


# --- the corpus ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def cases() -> tuple[Case, ...]:
    icc = bytes(range(256)) * 240
    out: list[Case] = []

    def add(name: str, data: bytes, diverges: str = "") -> None:
        out.append(Case(name, data, diverges))

    # JPEG (Pillow's JpegImagePlugin; libjpeg's jdmarker.c tolerance rules)
    jpeg = pillow_image("JPEG", (48, 32))
    app0 = jpeg_at(jpeg, 0xE0)
    after_app0 = app0[0] + 2 + app0[1]
    frame_at = jpeg_at(jpeg, 0xC0)[0]
    scan_at, scan_len = jpeg_at(jpeg, 0xDA)
    dht_at = jpeg_at(jpeg, 0xC4)[0]
    add("jpeg: baseline, as Pillow writes it", jpeg)
    add("jpeg: progressive (SOF2)", pillow_image("JPEG", (48, 32), progressive=True))
    add("jpeg: CMYK with an Adobe segment", pillow_image("JPEG", (48, 32), mode="CMYK"))
    add("jpeg: frame header after a 60 KB ICC profile", pillow_image("JPEG", (48, 32), icc_profile=icc))
    add("jpeg: frame header after a 30 KB EXIF block",
        pillow_image("JPEG", (48, 32), exif=b"Exif\x00\x00" + bytes(30000)))
    add("libjpeg: extraneous bytes before marker (junk after APP0's declared length)",
        replace_at(jpeg, after_app0, b"junk data"))
    add("libjpeg: extraneous bytes before the frame header", replace_at(jpeg, frame_at, b"\x00\x13\x37"))
    add("libjpeg: 0xFF fill bytes before a marker", replace_at(jpeg, frame_at, b"\xff\xff\xff"))
    add("libjpeg: a stuffed 0xFF00 between segments", replace_at(jpeg, frame_at, b"\xff\x00"))
    add("libjpeg: an RST marker between segments (no length)", replace_at(jpeg, frame_at, b"\xff\xd3"))
    add("Pillow: 0xFF01 (TEM) is not in its marker table", replace_at(jpeg, frame_at, b"\xff\x01"))
    add("Pillow: a reserved marker 0xFF02", replace_at(jpeg, frame_at, b"\xff\x02\x00\x04ab"))
    add("Pillow: byte 2 is not 0xFF", replace_at(jpeg, 2, b"\x00"))
    add("Pillow: EOI before the frame header (it reads on)", replace_at(jpeg, frame_at, b"\xff\xd9"))
    add("Pillow: a second SOI before the frame header (it reads on)", replace_at(jpeg, frame_at, b"\xff\xd8"))
    add("Pillow: two frame headers, the last one counts",
        replace_at(jpeg, dht_at, sof(99, 77)))
    add("Pillow: DHP (0xFFDE) read as a frame header", replace_at(jpeg, frame_at + 1, b"\xde", 1))
    add("Pillow: a 16-bit quantization table", replace_at(jpeg, frame_at, b"\xff\xdb\x00\x83\x10" + bytes(128)))
    add("Pillow, libjpeg: a quantization table cut short",
        replace_at(jpeg, frame_at, b"\xff\xdb\x00\x42\x00" + bytes(63)))
    add("Pillow, libjpeg: 12-bit samples", replace_at(jpeg, frame_at + 4, b"\x0c", 1))
    add("Pillow: 2 colour components", replace_at(jpeg, frame_at, sof(48, 32, components=2)))
    add("Pillow: a frame header whose component table is cut",
        replace_at(jpeg, frame_at, sof(48, 32, table=b"\x01\x11\x00\x02\x11")))
    add("Pillow, libjpeg: height 0 (to be set by a DNL marker)", replace_at(jpeg, frame_at + 5, b"\x00\x00", 2))
    add("Pillow, libjpeg: no frame header before the scan",
        jpeg[:frame_at] + jpeg[frame_at + 2 + jpeg_at(jpeg, 0xC0)[1]:])
    add("Pillow, libjpeg: a segment longer than the file", jpeg[:2] + b"\xff\xe1\xff\xf0" + bytes(100))
    add("Pillow: cut inside a Huffman table after the frame header", jpeg[:dht_at + 10])
    add("Pillow: cut between segments after the frame header", jpeg[:dht_at])
    add("Pillow: cut inside the entropy-coded data", jpeg[:scan_at + 2 + scan_len + 20])
    add("jpeg: a minimal file of SOI, SOF0, SOS", jpeg_header(7, 9, sos=True))
    add("JFIF APP0 shorter than 7 bytes",
        replace_at(jpeg, app0[0], b"\xff\xe0\x00\x07JFIF\x00", 2 + app0[1]),
        diverges="metadata is not validated: Pillow refuses (struct.error reading the JFIF "
                 "version), libjpeg reads the file")
    add("Adobe APP14 shorter than 7 bytes", replace_at(jpeg, frame_at, b"\xff\xee\x00\x07Adobe"),
        diverges="metadata is not validated: Pillow refuses, libjpeg reads the file")
    add("an ICC_PROFILE fragment shorter than 14 bytes",
        replace_at(jpeg, frame_at, b"\xff\xe2\x00\x0eICC_PROFILE\x00"),
        diverges="metadata is not validated: Pillow refuses (IndexError sorting ICC fragments), "
                 "libjpeg reads the file")

    # PNG (Pillow's PngImagePlugin; libpng)
    png = pillow_image("PNG", (40, 30))
    idat = png_at(png, b"IDAT")
    iend = png_at(png, b"IEND")
    text = png_chunk(b"tEXt", b"Comment\x00hello")
    head = png[:idat]  # signature and IHDR
    tail = png[idat:]
    add("png: RGB, as Pillow writes it", png)
    add("png: palette (PLTE)", pillow_image("PNG", (40, 30), mode="P"))
    add("png: 16-bit grey", pillow_image("PNG", (40, 30), mode="I;16"))
    add("png: RGBA", pillow_image("PNG", (40, 30), mode="RGBA"))
    add("libpng: chunks after IDAT are not read for the header", png[:iend] + text + png[iend:])
    add("libpng: a private ancillary chunk (Apple's iDOT)", head + png_chunk(b"iDOT", bytes(28)) + tail)
    add("Pillow: an unknown critical chunk with a good CRC is skipped", head + png_chunk(b"ABCD", b"xyz") + tail)
    add("Pillow: Apple's CgBI chunk before IHDR", png[:8] + png_chunk(b"CgBI", bytes(4)) + png[8:])
    add("Pillow: a text chunk before IHDR", png[:8] + text + png[8:])
    add("Pillow, libpng: a bad IHDR CRC", png[:8] + bad_crc(png[8:33]) + png[33:])
    palette = pillow_image("PNG", (40, 30), mode="P")
    plte = png_at(palette, b"PLTE")
    plte_len = struct.unpack(">I", palette[plte:plte + 4])[0]
    add("Pillow, libpng: a bad PLTE CRC",
        palette[:plte] + bad_crc(palette[plte:plte + 12 + plte_len]) + palette[plte + 12 + plte_len:])
    add("Pillow: a chunk type with a byte that is not a letter or digit", head + png_chunk(b"te$t", b"x") + tail)
    add("Pillow: an unknown bit depth / colour type (8/1)", png[:8] + ihdr(40, 30, 8, 1) + tail)
    add("Pillow: filter method 1", png[:8] + ihdr(40, 30, filter_method=1) + tail)
    add("Pillow: IHDR of 12 bytes", png[:8] + png_chunk(b"IHDR", struct.pack(">IIBBBB", 40, 30, 8, 2, 0, 0)) + tail)
    add("Pillow, libpng: width 0", png[:8] + ihdr(0, 30) + tail)
    add("Pillow: IEND before IDAT (it stops there)", head + png[iend:])
    add("Pillow, libpng: cut after IHDR", head)
    add("Pillow, libpng: cut inside a chunk before IDAT", head + text[:10])
    add("Pillow: cut inside IDAT", png[:idat + 12])
    add("png: a minimal file of IHDR, IDAT", png_header(5, 6))
    add("png: interlaced", png_header(5, 6)[:8] + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 6, 8, 2, 0, 0, 1))
        + png_header(5, 6)[33:])
    add("a bad CRC in an ancillary chunk (tEXt)", head + bad_crc(text) + tail,
        diverges="ancillary chunks are metadata: Pillow refuses, libpng warns and reads the file")
    add("a gAMA chunk of 2 bytes", head + png_chunk(b"gAMA", b"\x00\x01") + tail,
        diverges="ancillary chunks are metadata: Pillow refuses (truncated gAMA), libpng treats it as "
                 "a benign error")
    add("width 2**31", png[:8] + ihdr(2**31, 1) + tail,
        diverges="the PNG spec and libpng cap a side at 2**31 - 1; Pillow without its "
                 "decompression-bomb limit opens it")
    # APNG
    add("APNG: as Pillow writes it (fcTL before IDAT)", pillow_image("PNG", (40, 30), frames=3))
    add("APNG: acTL of 1 frame, no fcTL before IDAT (a default image and 1 frame)",
        head + actl(1) + tail[:-12] + fctl(0, 40, 30) + fdat(1) + png[iend:])
    add("APNG: acTL of 1 frame, fcTL before IDAT (a single frame)",
        head + actl(1) + fctl(0, 40, 30) + tail)
    add("APNG: acTL after IDAT (Pillow never reads it)", png[:iend] + actl(2) + png[iend:])
    add("APNG: two acTL chunks (Pillow drops the animation)", head + actl(2) + actl(2) + tail)
    add("APNG: acTL of 0 frames (ignored)", head + actl(0) + tail)
    add("APNG: acTL shorter than 8 bytes", head + png_chunk(b"acTL", bytes(4)) + tail)
    add("APNG: the first fcTL numbered 1", head + actl(2) + fctl(1, 40, 30) + tail)
    add("APNG: a frame outside the image", head + actl(2) + fctl(0, 41, 30) + tail)
    add("APNG: fdAT before any fcTL", head + actl(2) + fdat(0) + tail)

    # GIF (Pillow's GifImagePlugin; giflib)
    gif = pillow_image("GIF", (40, 30))
    gif2 = pillow_image("GIF", (40, 30), frames=2)
    first = gif_first_image(gif)
    first2 = gif_first_image(gif2)
    second2 = gif_image_data_end(gif2, first2)
    while gif2[second2] == 0x21:  # the second frame's extensions
        second2 += 2
        while gif2[second2]:
            second2 += 1 + gif2[second2]
        second2 += 1
    add("gif: still, as Pillow writes it (GIF87a)", gif)
    add("gif: animated, as Pillow writes it (NETSCAPE2.0 loop extension)", gif2)
    add("gif: a local colour table",
        gif_header(12, 10).replace(b"\x2c" + struct.pack("<HHHHB", 0, 0, 12, 10, 0),
                                   b"\x2c" + struct.pack("<HHHHB", 0, 0, 12, 10, 0x80) + bytes(6)))
    add("gif: sub-blocks of 1 byte", gif_with_sub_blocks(3000, 1))
    add("gif: 1 MB of 255-byte sub-blocks, two images", gif_with_sub_blocks(1 << 20, 255))
    add("giflib, Pillow: no trailer after one image", gif[:-1])
    add("giflib, Pillow: no trailer after two images", gif2[:-1])
    add("Pillow: cut inside the first image's data", gif[:first + 13])
    add("Pillow: cut right after the first image's LZW code size", gif[:first + 11])
    add("Pillow: cut before the first image's LZW code size", gif[:first + 10])
    add("Pillow: cut inside the second image descriptor", gif2[:second2 + 5])
    add("Pillow: stray bytes between blocks (skipped one by one)", replace_at(gif, first, b"\x00\x01\x99"))
    add("Pillow: stray bytes between two images", replace_at(gif2, second2, b"\x07\x07"))
    add("gif: data after the trailer", gif + b"\x2c garbage")
    add("Pillow: a logical screen smaller than the first image (it grows)",
        gif_header(40, 30, screen=(10, 10)))
    add("gif: a logical screen larger than the first image", gif_header(40, 30, screen=(64, 48)))
    add("Pillow: a 0x0 logical screen, the image at (2, 3)", gif_header(10, 8, screen=(0, 0), offset=(2, 3)))
    add("Pillow: an image 0 pixels wide on a 0x5 screen", gif_header(0, 5))
    add("Pillow: the trailer before any image", gif_header(5, 5, frames=0))
    add("Pillow: extensions, then the data ends", gif_header(5, 5, frames=0, extensions=2, trailer=False))
    add("Pillow: the global colour table cut", gif[:16])
    add("gif: comment and application extensions before the image",
        replace_at(gif, first, b"\x21\xfe\x03abc\x00\x21\xff\x0bXMP DataXMP\x02hi\x00"))
    add("a graphic control extension with no data sub-block", replace_at(gif, first, b"\x21\xf9\x00"),
        diverges="the GIF spec and giflib end the extension at its terminator; Pillow reads on "
                 "past it and misreads the image")
    add("a graphic control extension of 2 bytes", replace_at(gif, first, b"\x21\xf9\x02\x01\x00\x00"),
        diverges="extension contents are metadata: Pillow refuses (IndexError), giflib reads the file")

    # WebP (libwebp's demuxer, through Pillow)
    lossy = pillow_image("WEBP", (40, 30))
    lossless = pillow_image("WEBP", (40, 30), lossless=True)
    vp8 = webp_chunk_of(lossy, b"VP8 ")
    vp8l = webp_chunk_of(lossless, b"VP8L")
    still = riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x10)), webp_chunk(b"ALPH", b"\x00" + bytes(8)), vp8)
    add("webp: lossy (VP8), as libwebp writes it", lossy)
    add("webp: lossless (VP8L)", lossless)
    add("webp: animated, as libwebp writes it", pillow_image("WEBP", (40, 30), frames=3))
    add("webp: VP8X with ALPH and VP8", still)
    add("webp: VP8X with ICCP and EXIF chunks",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x28)), webp_chunk(b"ICCP", bytes(21)), vp8l,
             webp_chunk(b"EXIF", bytes(9))))
    add("webp: the ICC flag without an ICCP chunk", riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x20)), vp8l))
    add("webp: an unknown chunk before the image", riff(webp_chunk(b"VP8X", vp8x_payload(40, 30)),
                                                         webp_chunk(b"ABCD", b"xyz"), vp8l))
    add("libwebp: data after the RIFF end is ignored", lossy + b"trailing")
    add("libwebp: a chunk after a simple image", riff(vp8l, webp_chunk(b"EXIF", bytes(4))))
    add("libwebp: the file shorter than its RIFF size", lossy[:-1])
    add("libwebp: stray bytes inside the RIFF after the image",
        riff(vp8l)[:4] + struct.pack("<I", len(riff(vp8l)) - 8 + 4) + riff(vp8l)[8:] + b"abcd")
    add("libwebp: VP8 not a key frame", flip_vp8_tag(lossy, set_=1))
    add("libwebp: VP8 frame not shown", flip_vp8_tag(lossy, clear=0x10))
    add("libwebp: VP8 profile 4", flip_vp8_tag(lossy, set_=8))
    add("libwebp: VP8 first partition larger than the chunk", flip_vp8_tag(lossy, set_=0x7FFFF << 5))
    add("libwebp: VP8 start code missing", lossy.replace(b"\x9d\x01\x2a", b"\x9d\x01\x2b", 1))
    add("libwebp: VP8L version 1", riff(webp_chunk(b"VP8L", b"\x2f" + struct.pack("<I", 39 | 29 << 14 | 1 << 29))))
    add("libwebp: the animation flag with one frame (Pillow counts frames)",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x02)), webp_chunk(b"ANIM", bytes(6)), anmf(40, 30)))
    add("libwebp: frames without the animation flag (not counted: no image)",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30)), webp_chunk(b"ANIM", bytes(6)), anmf(40, 30), anmf(40, 30)))
    add("libwebp: the animation flag and a still image",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x02)), vp8l))
    add("libwebp: a VP8X canvas larger than its still image", riff(webp_chunk(b"VP8X", vp8x_payload(41, 30)), vp8l))
    add("libwebp: reserved VP8X flag bits", riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x01)), vp8l))
    add("libwebp: a frame outside the canvas",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x02)), webp_chunk(b"ANIM", bytes(6)),
             anmf(40, 30), anmf(4, 4, 38, 0)))
    add("libwebp: ANMF before ANIM",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x02)), anmf(40, 30), webp_chunk(b"ANIM", bytes(6))))
    add("libwebp: ALPH after its image, with the alpha flag",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30, 0x10)), vp8, webp_chunk(b"ALPH", bytes(9))))
    add("libwebp: ALPH after its image, without the alpha flag (dropped)",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30)), vp8, webp_chunk(b"ALPH", bytes(9))))
    add("libwebp: VP8X with no image", riff(webp_chunk(b"VP8X", vp8x_payload(40, 30)), webp_chunk(b"EXIF", bytes(4))))
    add("libwebp: two still images",
        riff(webp_chunk(b"VP8X", vp8x_payload(40, 30)), vp8l, webp_chunk(b"ICCP", bytes(2)), vp8l))
    add("libwebp: VP8X alone", riff(webp_chunk(b"VP8X", vp8x_payload(40, 30))))
    return tuple(out)


def table(parser) -> list[tuple[Case, Verdict, Verdict, bool]]:
    return [(case, pillow(case.data), ours(parser, case.data),
             agrees(pillow(case.data), ours(parser, case.data))) for case in cases()]


if __name__ == "__main__":
    import visiontokens.images._header_py as reference

    rows = table(reference)
    print("| file | Pillow | ours | |")
    print("|---|---|---|---|")
    for case, theirs, mine, same in rows:
        mark = "agree" if same else f"diverges: {case.diverges}" if case.diverges else "DISAGREE"
        print(f"| {case.name} | {theirs} | {str(mine).replace(RAISES, 'undecided')} | {mark} |")
    agreeing = sum(same for *_, same in rows)
    print(f"\n{agreeing} of {len(rows)} files agree with Pillow; "
          f"{sum(bool(c.diverges) for c in cases())} diverge by design.")
