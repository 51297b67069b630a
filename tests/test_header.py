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
from visiontokens.images import sources as _image_input

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


@pytest.mark.parametrize("side", [1, 255, 256, 257, 4095, 8191, 8192, 8193, 65535, 2**31 - 1])
def test_every_side_comes_back_as_the_same_int(parser, side):
    """Sides below 8,192 come from ints the compiled parser made once; larger ones are made
    per call: the same value and type either way, in both twins, as a PNG, a GIF (16-bit
    sides) and a data URL give them."""
    info = parser.image_info(png_header(side, 3))
    assert (info.width, info.height) == (side, 3) and type(info.width) is int
    assert parser.image_info(data_url(png_header(7, side)))[:2] == (7, side)
    if side <= 65535:
        assert parser.image_info(gif_header(side, side))[:2] == (side, side)


def test_a_result_kept_by_the_caller_never_changes(parser):
    """The compiled parser refills a cached result in place when nothing else holds it (a
    new size then costs no allocation): a result the caller kept must never change, and
    every new result must be right, across more sizes than the cache has slots, with sides
    above the ints made once at import, and with the format and animation flag changing."""
    rng = random.Random(20261205)
    kept = []
    for i in range(4000):
        w, h = rng.randint(1, 9000), rng.randint(1, 9000)
        kind = i % 4
        if kind == 0:
            data, expected = png_header(w, h), (w, h, "png", False, False)
        elif kind == 1:
            data, expected = png_header(w, h, animated=True), (w, h, "png", True, False)
        elif kind == 2:
            data, expected = jpeg_header(w, h), (w, h, "jpeg", False, False)
        else:
            data, expected = gif_header(w, h, frames=2), (w, h, "gif", True, False)
        info = parser.image_info(data)
        assert info == expected and hash(info) == hash(expected)
        if i % 5 == 0:
            kept.append((info, expected))
    for info, expected in kept:
        assert info == expected and hash(info) == hash(expected)


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
    (webp_header(5, 5, "VP8L").replace(b"\x2f", b"\x2e"), CorruptImageError,
     "VP8L image at byte 12: the signature is not 0x2F"),
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
    compiled = pytest.importorskip("visiontokens.images._header_c")
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


# --- bytes-like sources of any shape (issue 12 item 3) -------------------------------------------

def test_memoryviews_of_any_shape_are_read_as_their_bytes(parser):
    import array

    import numpy as np

    data = png_header(3, 4)
    data += bytes(-len(data) % 4)  # a multiple of 4 bytes, for the wide views below
    expected = parser.image_info(data)
    strided = bytearray(len(data) * 2)
    strided[::2] = data
    grid = np.frombuffer(data, dtype=np.uint8).reshape(4, -1)
    views = [
        memoryview(strided)[::2],  # not contiguous
        memoryview(array.array("I", data)),  # 4-byte items
        memoryview(grid),  # two dimensions
        memoryview(np.asfortranarray(grid.T).T),  # C order again, through a Fortran copy
    ]
    assert not views[0].c_contiguous and views[1].itemsize == 4
    for view in views:
        assert parser.image_info(view) == expected
        assert parser.parse_buffer(view) == expected
    # a Fortran-ordered view is read as its bytes in C order, as tobytes() gives them
    fortran = memoryview(np.asfortranarray(grid))
    assert not fortran.c_contiguous
    assert parser.image_info(fortran) == parser.image_info(fortran.tobytes())
    # a 0-dimensional view holds one item: one byte is too short for any header
    with pytest.raises(TruncatedImageError):
        parser.image_info(memoryview(np.array(0x89, dtype=np.uint8)))


def test_a_wide_memoryview_of_a_data_url_is_a_data_url(parser):
    import array

    media = "image/png"
    while (len("data:") + len(media) + len(";base64,")) % 4:
        media += "x"  # the URL's length must be a multiple of the 4-byte items
    url = data_url(png_header(3, 4) + bytes(2), media).encode()
    url += b"" if len(url) % 4 == 0 else b"="  # (base64 text is a multiple of 4 already)
    assert len(url) % 4 == 0
    wide = memoryview(array.array("I", url))
    assert wide[:5].tolist() != list(b"data:")  # five items are not five bytes ...
    assert parser.image_info(wide)[:2] == (3, 4)  # ... yet it is read as a data URL


def test_a_released_memoryview_is_a_typed_error(parser):
    view = memoryview(png_header(3, 4))
    view.release()
    for call in (parser.image_info, parser.parse_buffer):
        with pytest.raises(visiontokens.InvalidArgumentError, match="released"):
            call(view)


def test_parse_buffer_refuses_what_is_not_bytes(parser):
    with pytest.raises(ArgumentTypeError, match="got str"):
        parser.parse_buffer("not bytes")


def test_max_read_is_checked(parser, tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(png_header(3, 4))
    for bad, error in ((0, visiontokens.InvalidArgumentError), (-5, visiontokens.InvalidArgumentError),
                       ("64", ArgumentTypeError), (2.5, ArgumentTypeError), (True, ArgumentTypeError)):
        with pytest.raises(error, match="max_read"):
            parser.image_info(path, max_read=bad)


# --- prefixes and undecided animation (issue 12 item 2) ----------------------------------------

def test_a_gif_without_its_trailer_is_still_so_far_and_undecided(parser):
    one = gif_header(40, 30, trailer=False)
    assert parser.image_info(one) == ImageInfo(40, 30, "gif", False, True)
    assert parser.image_info(data_url(one)) == ImageInfo(40, 30, "gif", False, True)
    two = gif_header(40, 30, frames=2, trailer=False)
    assert parser.image_info(two) == ImageInfo(40, 30, "gif", True, False)
    whole = gif_header(40, 30)
    assert parser.image_info(whole) == ImageInfo(40, 30, "gif", False, False)


def test_a_prefix_says_how_far_to_read_and_what_it_knows(parser):
    """parse_buffer(data, complete=False): the answer once no later byte can change it, else
    TruncatedImageError with ``needed`` and, once the size is known, ``info``."""
    gif = gif_header(40, 30, frames=2)
    cut = gif.index(b"\x2c", 20)  # before the second image
    with pytest.raises(TruncatedImageError) as caught:
        parser.parse_buffer(gif[:cut], complete=False)
    assert caught.value.needed > cut
    assert caught.value.info == ImageInfo(40, 30, "gif", False, True)
    assert parser.parse_buffer(gif[:cut + 12], complete=False) == ImageInfo(40, 30, "gif", True)
    # a still GIF: only its trailer decides
    still = gif_header(40, 30)
    with pytest.raises(TruncatedImageError):
        parser.parse_buffer(still[:-1], complete=False)
    assert parser.parse_buffer(still, complete=False) == ImageInfo(40, 30, "gif", False)
    # a JPEG is known at its scan; before it the size so far is offered
    jpeg = jpeg_header(5, 6, sos=True)
    with pytest.raises(TruncatedImageError) as caught:
        parser.parse_buffer(jpeg[:jpeg.index(b"\xff\xda")], complete=False)
    assert caught.value.info == ImageInfo(5, 6, "jpeg", False)
    assert parser.parse_buffer(jpeg, complete=False) == ImageInfo(5, 6, "jpeg", False)
    # a WebP RIFF that says more than the prefix holds: sized from its first chunk
    webp = webp_header(7, 8, "VP8L")
    assert parser.parse_buffer(webp + bytes(10), complete=False)[:2] == (7, 8)
    with pytest.raises(TruncatedImageError):
        parser.parse_buffer(webp[:-2], complete=True)
    # nothing known yet: no info
    with pytest.raises(TruncatedImageError) as caught:
        parser.parse_buffer(gif[:12], complete=False)
    assert caught.value.info is None


def test_a_file_larger_than_max_read_still_gets_its_size(parser, tmp_path):
    # one image, a 1 MB comment extension, then a second image
    big = gif_header(300, 200)[:-1] + b"\x21\xfe" + (b"\xff" + bytes(255)) * 4000 + b"\x00" \
        + gif_header(300, 200)[13 + 6:]
    path = tmp_path / "big.gif"
    path.write_bytes(big)
    assert parser.image_info(path) == ImageInfo(300, 200, "gif", True)
    capped = parser.image_info(path, max_read=200_000)
    assert capped == ImageInfo(300, 200, "gif", False, True)
    with open(path, "rb") as file:
        assert parser.image_info(file, max_read=200_000) == capped
    # a JPEG whose frame header lies beyond the cap has no size to give
    late = tmp_path / "late.jpg"
    late.write_bytes(jpeg_header(5, 6, segments=[(0xE2, bytes(65000))] * 4, sos=True))
    with pytest.raises(InvalidImageError, match="within the first 100000 bytes"):
        parser.image_info(late, max_read=100_000)


def test_count_image_and_count_request_policy_for_an_undecided_gif(walk):
    gif = gif_header(40, 30, trailer=False)
    counted = walk.count_image(gif, "gpt-4o", "high")
    assert counted == visiontokens.explain_image_tokens(40, 30, "gpt-4o", "high")
    assert walk.count_image(gif, "gpt-4o", "high", undecided_animation="still") == counted
    with pytest.raises(AnimatedImageError, match="cannot tell whether the GIF is animated"):
        walk.count_image(gif, "gpt-4o", "high", undecided_animation="refuse")
    # a GIF that ends with its trailer, or any other format, is decided: the policy is moot
    assert walk.count_image(gif_header(40, 30), "gpt-4o", undecided_animation="refuse").tokens > 0
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_url(gif, "image/gif"), "detail": "high"}}]}]}
    assert walk.count_request(body).image_tokens == counted.tokens
    with pytest.raises(AnimatedImageError, match="/messages/0/content/0: cannot tell"):
        walk.count_request(body, undecided_animation="refuse")
    collected = walk.count_request(body, undecided_animation="refuse", on_violation="collect")
    assert collected.image_tokens == 0 and len(collected.violations) == 1
    for call in (lambda v: walk.count_image(gif, "gpt-4o", undecided_animation=v),
                 lambda v: walk.count_request(body, undecided_animation=v)):
        with pytest.raises(visiontokens.InvalidArgumentError, match="'still' or 'refuse'"):
            call("count")
        with pytest.raises(ArgumentTypeError):
            call(None)


def test_the_public_image_info_takes_max_read(tmp_path):
    path = tmp_path / "big.gif"
    path.write_bytes(gif_header(30, 20)[:-1] + b"\x21\xfe" + (b"\xff" + bytes(255)) * 1000 + b"\x00"
                     + gif_header(30, 20)[19:])
    assert visiontokens.image_info(path) == ImageInfo(30, 20, "gif", True)
    assert visiontokens.image_info(path, max_read=100_000) == ImageInfo(30, 20, "gif", False, True)
