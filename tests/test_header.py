"""Image sizes from headers (spec 5): Pillow as the oracle, both parsers, every source kind."""

from __future__ import annotations

import io
import os
import random

import pytest
from headers import (
    data_url,
    gif_header,
    jpeg_header,
    pillow_image,
    pillow_size,
    png_header,
    set_png_interlaced,
    webp_header,
)

import visiontokens
from visiontokens import (
    AnimatedImageError,
    ArgumentTypeError,
    CorruptImageError,
    ImageInfo,
    InvalidDataURLError,
    InvalidImageError,
    TruncatedImageError,
    UnsupportedImageFormatError,
    VisionTokensError,
)
from visiontokens import _image_input

SIZES = [(1, 1), (64, 48), (513, 2049), (3001, 7)]


def pillow_cases():
    """(name, bytes, animated) for every kind of file the issue lists."""
    icc = bytes(range(256)) * 240  # a 60 KB ICC profile: the SOF comes after it
    cases = []
    for w, h in SIZES:
        size = (w, h)
        cases += [
            (f"png rgb {size}", pillow_image("PNG", size), False),
            (f"png 16-bit {size}", pillow_image("PNG", size, mode="I;16"), False),
            (f"png palette {size}", pillow_image("PNG", size, mode="P"), False),
            (f"png interlaced {size}", set_png_interlaced(pillow_image("PNG", size)), False),
            (f"apng {size}", pillow_image("PNG", size, frames=3), True),
            (f"jpeg baseline {size}", pillow_image("JPEG", size), False),
            (f"jpeg progressive {size}", pillow_image("JPEG", size, progressive=True), False),
            (f"jpeg cmyk {size}", pillow_image("JPEG", size, mode="CMYK"), False),
            (f"jpeg gray {size}", pillow_image("JPEG", size, mode="L"), False),
            (f"jpeg icc 60KB {size}", pillow_image("JPEG", size, icc_profile=icc), False),
            (f"jpeg exif 30KB {size}", pillow_image("JPEG", size, exif=b"Exif\x00\x00" + bytes(30000)), False),
            (f"gif {size}", pillow_image("GIF", size), False),
            (f"gif animated {size}", pillow_image("GIF", size, frames=3), True),
            (f"webp lossy {size}", pillow_image("WEBP", size), False),
            (f"webp lossless {size}", pillow_image("WEBP", size, lossless=True), False),
            (f"webp alpha {size}", pillow_image("WEBP", size, mode="RGBA"), False),
            (f"webp animated {size}", pillow_image("WEBP", size, frames=3), True),
        ]
    return cases


CASES = pillow_cases()


@pytest.mark.parametrize("name,data,animated", CASES, ids=[c[0] for c in CASES])
def test_sizes_equal_pillows(parser, name, data, animated):
    info = parser.image_info(data)
    assert (info.width, info.height) == pillow_size(data)
    assert info.animated is animated
    assert info.format == name.split()[0].replace("apng", "png")
    # the same answer from its data URL, as str and as bytes, and from a bytearray/memoryview
    url = data_url(data)
    assert parser.image_info(url) == info
    assert parser.image_info(url.encode()) == info
    assert parser.image_info(bytearray(data)) == info == parser.image_info(memoryview(data))


def test_the_result_is_a_plain_named_tuple(parser):
    info = parser.image_info(png_header(3, 4))
    assert type(info) is ImageInfo and info == (3, 4, "png", False, False)
    assert info._asdict() == {"width": 3, "height": 4, "format": "png", "animated": False,
                              "animation_undecided": False}
    # the fields of the first release come first, and the added one has a default
    width, height, format, animated = info[:4]
    assert ImageInfo(3, 4, "png", False) == info and info.animation_undecided is False


def test_large_payloads_via_data_url(parser):
    rng = random.Random(5)
    noise = rng.randbytes(1448 * 1448 * 3)
    from PIL import Image

    big_png = io.BytesIO()
    Image.frombytes("RGB", (1448, 1448), noise).save(big_png, "PNG", compress_level=0)
    big_jpeg = io.BytesIO()
    Image.frombytes("RGB", (1448, 1448), noise).save(big_jpeg, "JPEG", quality=90)
    for data, minimum in ((big_png.getvalue(), 6_000_000), (big_jpeg.getvalue(), 1_000_000)):
        assert len(data) > minimum
        size = (1448, 1448)
        assert parser.image_info(data_url(data))[:2] == size == parser.image_info(data)[:2]


@pytest.mark.parametrize("header,expected", [
    (png_header(2**31 - 1, 1), (2**31 - 1, 1, "png", False)),
    (png_header(5, 6, before_idat=[(b"iCCP", bytes(70000))], animated=True), (5, 6, "png", True)),
    (jpeg_header(65535, 1, segments=[(0xE0, bytes(65000))] * 3, fill=5), (65535, 1, "jpeg", False)),
    (jpeg_header(7, 9, marker=0xC2), (7, 9, "jpeg", False)),
    (jpeg_header(7, 9, marker=0xCF), (7, 9, "jpeg", False)),
    (jpeg_header(7, 9, segments=[(0xC4, bytes(20)), (0xCC, bytes(4))]), (7, 9, "jpeg", False)),
    (gif_header(65535, 65535, frames=1, gct=False), (65535, 65535, "gif", False)),
    (gif_header(10, 20, frames=2, extensions=2), (10, 20, "gif", True)),
    (webp_header(16383, 16383, "VP8 "), (16383, 16383, "webp", False)),
    (webp_header(16384, 16384, "VP8L"), (16384, 16384, "webp", False)),
    (webp_header(2**24, 255, "VP8X", animated=True), (2**24, 255, "webp", True)),
    (webp_header(65537, 65535, "VP8X", animated=True), (65537, 65535, "webp", True)),  # 2**32 - 1 px
    (webp_header(16384, 16384, "VP8X"), (16384, 16384, "webp", False)),
])
def test_format_edges(parser, header, expected):
    assert parser.image_info(header) == ImageInfo(*expected)
    assert parser.image_info(data_url(header)) == ImageInfo(*expected)


def test_jpeg_rst_markers_are_standalone_and_tem_is_refused(parser):
    # Pillow's marker table: RST0..7 have no length; 0xFF01 (TEM) is not in it at all
    assert parser.image_info(b"\xff\xd8\xff\xd0\xff\xd7" + jpeg_header(3, 4)[2:])[:2] == (3, 4)
    with pytest.raises(CorruptImageError, match="0xFF01 at byte 2 is not a JPEG marker"):
        parser.image_info(b"\xff\xd8\xff\x01" + jpeg_header(3, 4)[2:])


@pytest.mark.parametrize("data,error,message", [
    (b"", TruncatedImageError, "empty image data"),
    (b"\x89PNG\r\n", TruncatedImageError, "truncated PNG data: 6 bytes, the header needs at least 16"),
    (png_header(3, 4)[:30], TruncatedImageError, "truncated PNG data: 30 bytes"),
    (png_header(0, 4), CorruptImageError, "IHDR gives 0x4"),
    (png_header(2**31, 4), CorruptImageError, "IHDR gives 2147483648x4"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIDAT" + bytes(20), CorruptImageError, "no IHDR chunk"),
    (jpeg_header(5, 0), CorruptImageError, "zero height"),
    (jpeg_header(0, 5), CorruptImageError, "gives 0x5"),
    (b"\xff\xd8\xff\xda\x00\x02", CorruptImageError, "no frame header"),
    (b"\xff\xd8\x00", CorruptImageError, "expected a marker"),
    (b"\xff\xd8\xff\xe0\x00\x01", CorruptImageError, "no frame header"),
    (jpeg_header(3, 4)[:-3], TruncatedImageError, "truncated JPEG"),
    (b"\xff\xd8\xff\xe0\x00\x10abc", TruncatedImageError, "truncated JPEG"),
    (gif_header(0, 5), CorruptImageError, "the image is 0x5"),
    (gif_header(5, 5)[:-7], TruncatedImageError, "truncated GIF"),
    (gif_header(5, 5, frames=0), CorruptImageError, "trailer at byte 19 comes before any image"),
    (webp_header(5, 5, "VP8 ")[:-2], TruncatedImageError, "truncated WebP"),
    (b"RIFF\x18\x00\x00\x00WEBPABCD" + bytes(20), CorruptImageError, "'ABCD', not VP8"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20), CorruptImageError, "RIFF size is 0"),
    (webp_header(5, 5, "VP8L").replace(b"\x2f", b"\x2e"), CorruptImageError, "VP8L image at byte 12: the signature is not 0x2F"),
])
def test_bad_data_is_a_typed_error(parser, data, error, message):
    with pytest.raises(error, match=message) as caught:
        parser.image_info(data)
    assert isinstance(caught.value, InvalidImageError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("data,name", [
    (b"BM" + bytes(60), "bmp"),
    (b"II*\x00" + bytes(20), "tiff"),
    (b"MM\x00*" + bytes(20), "tiff"),
    (b"\x00\x00\x00\x18ftypheic" + bytes(20), "heif"),
    (b"\x00\x00\x00\x18ftypmif1" + bytes(20), "heif"),
    (b"\x00\x00\x00\x18ftypavif" + bytes(20), "avif"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(20), "jpeg2000"),
    (b"\x00\x00\x01\x00\x01\x00" + bytes(20), "ico"),
    (b"8BPS\x00\x01" + bytes(20), "psd"),
    (b"\xef\xbb\xbf  <?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'/>", "svg"),
    (b"%PDF-1.7\n" + bytes(20), "pdf"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
    (b"hello, world", None),
])
def test_other_formats_are_named(parser, data, name):
    with pytest.raises(UnsupportedImageFormatError) as caught:
        parser.image_info(data)
    assert caught.value.format == name
    assert "the API takes PNG, JPEG, WebP and non-animated GIF" in str(caught.value)
    with pytest.raises(UnsupportedImageFormatError):
        parser.image_info(data_url(data))


def test_pillow_written_other_formats_are_named(parser):
    for fmt, name in (("BMP", "bmp"), ("TIFF", "tiff"), ("ICO", "ico"), ("PDF", "pdf")):
        with pytest.raises(UnsupportedImageFormatError) as caught:
            parser.image_info(pillow_image(fmt, (16, 16)))
        assert caught.value.format == name


@pytest.mark.parametrize("url,message", [
    ("data:text/plain;base64,aGVsbG8=", "media type 'text/plain' is not an image type"),
    ("data:image/png,rawdata", "not base64-encoded"),
    ("data:image/png;charset=utf-8,abc", "not base64-encoded"),
    ("data:image/png;base64" + "x" * 300, "no ',' within its first 256 characters"),
    ("data:image/png;base64,iVBORw0KG", "length % 4 == 1"),
    ("data:image/png;base64,iVBO Rw0KGgoAAAANSUhEUgA", "invalid base64 in characters 26..29"),
    ("data:image/png;base64,iVBORw0KGgo=AAANSUhEUgAA", "invalid base64 in characters 30..33"),
    ("data:image/png;base64,iVBORw0KGgo_AAANSUhEUgAA", "invalid base64"),
    ("data:image/png;base64,iVBORw0KGgé", "non-ASCII"),
])
def test_bad_data_urls(parser, url, message):
    with pytest.raises(InvalidDataURLError, match=message):
        parser.image_info(url)


def test_data_url_media_type_and_flag_are_case_insensitive(parser):
    url = data_url(png_header(3, 4), "IMAGE/PNG").replace(";base64,", ";BASE64,")
    assert parser.image_info(url)[:2] == (3, 4)


def test_only_the_bytes_read_are_decoded(parser):
    """Garbage after the header is never looked at: the cost cannot grow with the payload."""
    url = data_url(jpeg_header(3, 4, segments=[(0xE2, bytes(60000))]))
    # break the base64 inside the skipped segment: the walk jumps over it
    broken = url[:5000] + "!!!!" + url[5004:]
    assert parser.image_info(broken)[:2] == (3, 4)


# --- files and paths ---------------------------------------------------------------------------

class CountingFile(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n=-1):
        chunk = super().read(n)
        self.bytes_read += len(chunk)
        return chunk


def test_paths_and_files(parser, tmp_path):
    data = pillow_image("JPEG", (33, 44))
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    assert parser.image_info(path)[:2] == parser.image_info(str(path))[:2] == (33, 44)
    with open(path, "rb") as file:
        assert parser.image_info(file)[:2] == (33, 44)
    with pytest.raises(FileNotFoundError):
        parser.image_info(tmp_path / "missing.png")
    with open(path, "r", encoding="latin-1") as text:
        with pytest.raises(ArgumentTypeError, match="binary mode"):
            parser.image_info(text)
    with pytest.raises(ArgumentTypeError, match="got int"):
        parser.image_info(42)


def test_files_are_read_only_as_far_as_needed(parser):
    tail = bytes(10_000_000)
    small = CountingFile(png_header(3, 4) + tail)
    assert parser.image_info(small)[:2] == (3, 4)
    assert small.bytes_read <= _image_input.FIRST_READ
    late = CountingFile(jpeg_header(5, 6, segments=[(0xE2, bytes(65000))] * 3, sos=True) + tail)
    assert parser.image_info(late)[:2] == (5, 6)
    assert late.bytes_read < 1_000_000


def test_file_reads_are_capped(parser):
    endless = CountingFile(jpeg_header(5, 6, segments=[(0xE2, bytes(65000))] * 40, sos=True))
    with pytest.raises(InvalidImageError, match="within the first 1000000 bytes"):
        parser.image_info(endless, max_read=1_000_000)
    assert endless.bytes_read == 1_000_000


# --- count_image --------------------------------------------------------------------------------

def test_count_image_is_the_calculator_on_the_header_size():
    data = pillow_image("PNG", (1800, 2400))
    cost = visiontokens.count_image(data, "gpt-4.1-mini", ruleset="2026-04")
    assert cost == visiontokens.explain_image_tokens(1800, 2400, "gpt-4.1-mini", ruleset="2026-04")
    assert visiontokens.count_image(data_url(data), "gpt-4o", "high").tokens == \
        visiontokens.count_image_tokens(1800, 2400, "gpt-4o", "high")


def test_count_image_refuses_an_animated_gif():
    with pytest.raises(AnimatedImageError, match="animated GIF"):
        visiontokens.count_image(pillow_image("GIF", (8, 8), frames=2), "gpt-4o")
    # an animated PNG or WebP is counted: the API reads its first frame
    assert visiontokens.count_image(pillow_image("PNG", (8, 8), frames=2), "gpt-4o").tokens > 0


def test_count_image_errors_are_library_errors():
    with pytest.raises(VisionTokensError):
        visiontokens.count_image(b"nope", "gpt-4o")


def test_every_compiled_error_code_has_a_builder():
    """The codes live only in the compiled twin; each maps to a builder of _errors.py, which
    the pure twin calls by name."""
    compiled = pytest.importorskip("visiontokens._header_c")
    from visiontokens import _errors

    for builder, count in compiled.BUILDERS:
        assert getattr(_errors, builder.__name__) is builder
        assert isinstance(builder(*range(1, count + 1)), InvalidImageError)


def test_path_like_objects(parser, tmp_path):
    path = tmp_path / "x.gif"
    path.write_bytes(gif_header(9, 10))

    class Custom(os.PathLike):
        def __fspath__(self):
            return str(path)

    assert parser.image_info(Custom())[:2] == (9, 10)
