"""Image bytes for the header tests: real files from Pillow, and minimal headers built here."""

from __future__ import annotations

import base64
import io
import struct
import zlib

from hypothesis import strategies as st


def pillow_image(fmt: str, size=(64, 48), mode="RGB", frames=1, **save):
    from PIL import Image

    images = [Image.new(mode, size, color=i * 40 % 256 if mode in ("L", "P", "I;16") else
                        (i * 40 % 256, 20, 200) if mode != "CMYK" else (i * 40 % 256, 0, 0, 0))
              for i in range(frames)]
    out = io.BytesIO()
    if frames > 1:
        save.update(save_all=True, append_images=images[1:], duration=50)
    images[0].save(out, fmt, **save)
    return out.getvalue()


def pillow_size(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload))


def set_png_interlaced(data: bytes) -> bytes:
    ihdr = bytearray(data[16:29])
    ihdr[12] = 1
    return data[:8] + png_chunk(b"IHDR", bytes(ihdr)) + data[33:]


# --- minimal headers with any size (structurally valid, not decodable images) --------------------

def png_header(w: int, h: int, before_idat=(), animated=False) -> bytes:
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    for kind, payload in before_idat:
        out += png_chunk(kind, payload)
    if animated:
        out += png_chunk(b"acTL", struct.pack(">II", 2, 0))
    return out + png_chunk(b"IDAT", b"\x00")


def jpeg_header(w: int, h: int, segments=(), marker=0xC0, fill=0, sos=False) -> bytes:
    out = b"\xff\xd8"
    for seg_marker, payload in segments:
        out += b"\xff" * (1 + fill) + bytes([seg_marker]) + struct.pack(">H", len(payload) + 2) + payload
    sof = struct.pack(">BHHB", 8, h, w, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    out += b"\xff" + bytes([marker]) + struct.pack(">H", len(sof) + 2) + sof
    return out + jpeg_sos() if sos else out


def gif_header(w: int, h: int, frames=1, gct=True, extensions=0, trailer=True, junk=b"",
               screen=None, offset=(0, 0)) -> bytes:
    """A GIF of ``frames`` tiny images; ``junk`` goes between the blocks, ``screen`` sets a
    logical screen other than the image's size, ``offset`` where the first image sits."""
    sw, sh = screen or (w, h)
    out = b"GIF89a" + struct.pack("<HHBBB", sw, sh, 0x80 if gct else 0, 0, 0)
    if gct:
        out += bytes(6)
    for _ in range(extensions):
        out += b"\x21\xf9\x04\x00\x00\x00\x00\x00" + junk
    for i in range(frames):
        x, y = offset if i == 0 else (0, 0)
        out += junk + b"\x2c" + struct.pack("<HHHHB", x, y, w, h, 0) + b"\x02\x02\x44\x01\x00"
    return out + junk + (b"\x3b" if trailer else b"")


def webp_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


def riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vp8_payload(w: int, h: int, tag: int = 0x10) -> bytes:
    """A VP8 key frame header: shown, profile 0, first partition of 0 bytes (``tag``)."""
    return tag.to_bytes(3, "little") + b"\x9d\x01\x2a" + struct.pack("<HH", w, h)


def vp8l_payload(w: int, h: int) -> bytes:
    return b"\x2f" + struct.pack("<I", (w - 1) | (h - 1) << 14)


def vp8x_payload(w: int, h: int, flags: int = 0) -> bytes:
    return bytes([flags]) + bytes(3) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")


def anmf(w: int, h: int, x: int = 0, y: int = 0, image: bytes | None = None) -> bytes:
    head = (x // 2).to_bytes(3, "little") + (y // 2).to_bytes(3, "little") \
        + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little") + bytes(4)
    return webp_chunk(b"ANMF", head + (image if image is not None else webp_chunk(b"VP8L", vp8l_payload(w, h))))


def webp_header(w: int, h: int, kind: str, animated=False, frames=2) -> bytes:
    """A minimal WebP libwebp opens: a simple VP8 or VP8L file, or VP8X holding one VP8L image
    of the canvas size (w, h <= 16384), or with ``animated`` ANIM and ``frames`` 1x1 frames."""
    if kind == "VP8 ":
        return riff(webp_chunk(b"VP8 ", vp8_payload(w, h)))
    if kind == "VP8L":
        return riff(webp_chunk(b"VP8L", vp8l_payload(w, h)))
    if not animated:
        return riff(webp_chunk(b"VP8X", vp8x_payload(w, h)), webp_chunk(b"VP8L", vp8l_payload(w, h)))
    return riff(webp_chunk(b"VP8X", vp8x_payload(w, h, 0x02)), webp_chunk(b"ANIM", bytes(6)),
                *[anmf(1, 1) for _ in range(frames)])


def jpeg_sos() -> bytes:
    """A scan header and a few bytes of entropy-coded data, then EOI."""
    return b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + b"\x12\x34\xff\x00\x56" + b"\xff\xd9"


valid_headers = st.one_of(
    st.builds(png_header, st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1),
              before_idat=st.lists(st.tuples(st.sampled_from([b"iCCP", b"tEXt", b"gAMA"]),
                                             st.binary(max_size=40)), max_size=3),
              animated=st.booleans()),
    st.builds(jpeg_header, st.integers(1, 65535), st.integers(1, 65535),
              segments=st.lists(st.tuples(st.sampled_from([0xE0, 0xE1, 0xE2, 0xFE, 0xC4]),
                                          st.binary(max_size=60))
                                | st.builds(lambda wide: (0xDB, bytes([16 if wide else 0])
                                                          + bytes(128 if wide else 64)),
                                            st.booleans()), max_size=4),
              marker=st.sampled_from([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC9, 0xCA, 0xCB, 0xCF]),
              fill=st.integers(0, 3), sos=st.booleans()),
    st.builds(gif_header, st.integers(1, 65535), st.integers(1, 65535), frames=st.integers(1, 3),
              gct=st.booleans(), extensions=st.integers(0, 2), trailer=st.booleans(),
              junk=st.sampled_from([b"", b"\x00", b"\x01\x02"]),
              screen=st.none() | st.tuples(st.integers(0, 65535), st.integers(0, 65535)),
              offset=st.tuples(st.integers(0, 9), st.integers(0, 9))),
    st.builds(webp_header, st.integers(1, 16383), st.integers(1, 16383),
              st.sampled_from(["VP8 ", "VP8L"])),
    st.builds(webp_header, st.integers(1, 16384), st.integers(1, 16384), st.just("VP8X")),
    st.builds(webp_header, st.integers(1, 65535), st.integers(1, 65535), st.just("VP8X"),
              animated=st.just(True), frames=st.integers(1, 3)),
)


@st.composite
def mutated(draw, source=valid_headers):
    """A valid header with a few bytes overwritten, inserted or deleted."""
    data = bytearray(draw(source))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[at]
    return bytes(data)
