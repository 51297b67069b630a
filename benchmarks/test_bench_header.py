"""Header parsing speed: both twins against imagesize, Pillow and memory-speed floors, in one run.

Every "distinct" figure cycles through 2,048 files of one format that differ in their size, so
each call misses the compiled parser's cache of recent results (256 slots): that is the figure
the gates hold. The "cached" figure (the same file again and again) is reported beside it.
The files keep what a header parser reads, so they stay in the CPU's caches as a request body
just received does; the JPEG with a 60 KB ICC profile is instead rewritten in place to a new
size before each call (2,048 copies would not fit), and from a data URL it is gated on its
cached figure.
The GIF animation walk is timed per MB of GIF against ``bytes.find`` over the same buffer.

Gates (issues 4, 9, 12), all ratios measured in the same run:
- a header from bytes, distinct files: <= 6x a ``math.gcd`` call (PNG, GIF, WebP, JPEG; 50-100
  ns here: a result nobody kept is refilled in place, not freed and made anew), <= 8x the
  JPEG whose frame header follows a 60 KB ICC profile; >= 25x faster than imagesize, >= 50x than Pillow;
- from a data URL, distinct files: <= 12x ``math.gcd`` (PNG, GIF, WebP), <= 20x (JPEG);
- the GIF walk, 1 MB of 255-byte sub-blocks: from bytes <= 1x ``bytes.find`` over the GIF
  (15 us/MB here), from a data URL <= 4x ``bytes.find`` over the URL (60 us/MB here);
- a 1 MB data URL: >= 5,000x faster than base64-decoding it whole;
- the compiled twin >= 10x faster than the pure one, distinct files from bytes;
- issue 20's target, 100 ns a distinct PNG, JPEG or WebP from bytes on this machine, as a
  ratio: <= 2.4x ``math.gcd`` (42 ns here). Held with ~15 % to spare at best (JPEG: its
  segments are three cache lines read one after the other), so a run over it is recorded as
  an expected failure with its figures, never as a pass.
"""

from __future__ import annotations

import base64
import io
import itertools
import math
import struct
import zlib

import pytest
from benchutil import per_call_ns
from corpus import gif_first_image, jpeg_at
from headers import data_url, pillow_image
from implementations import KINDS, load_twin

ICC = bytes(range(256)) * 240  # 60 KB: the JPEG's frame header comes after it
DISTINCT = 2048  # files per format in the rotation: 8x the compiled parser's cache slots
MB = 1 << 20
TARGET_FORMATS = ("png", "jpeg", "webp")  # issue 20's target, distinct files from bytes
TARGET_RATIO = 2.4  # 100 ns where math.gcd takes 42 ns


def sized_png(data: bytes, w: int, h: int) -> bytes:
    ihdr = data[12:16] + struct.pack(">II", w, h) + data[24:29]
    return data[:8] + data[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def sized_jpeg(data: bytes, w: int, h: int) -> bytes:
    at = jpeg_at(data, 0xC0)[0]
    return data[:at + 5] + struct.pack(">HH", h, w) + data[at + 9:]


def sized_gif(data: bytes, w: int, h: int) -> bytes:
    data = data[:6] + struct.pack("<HH", w, h) + data[10:]
    at = gif_first_image(data)
    return data[:at + 5] + struct.pack("<HH", w, h) + data[at + 9:]


def sized_webp(data: bytes, w: int, h: int) -> bytes:
    at = data.index(b"VP8 ") + 8  # the key frame's 14-bit sides, scale bits 0
    return data[:at + 6] + struct.pack("<HH", w, h) + data[at + 10:]


FORMATS = {  # name: (a real file, how to give it another size)
    "png 1920x1080": (lambda: pillow_image("PNG", (1920, 1080)), sized_png),
    "gif 640x480": (lambda: pillow_image("GIF", (640, 480)), sized_gif),
    "webp 1024x768": (lambda: pillow_image("WEBP", (1024, 768)), sized_webp),
    "jpeg 1800x2400 (early SOF)": (lambda: pillow_image("JPEG", (1800, 2400)), sized_jpeg),
    "jpeg 1800x2400 (SOF after a 60 KB ICC profile)":
        (lambda: pillow_image("JPEG", (1800, 2400), icc_profile=ICC), sized_jpeg),
}
_files: dict[str, list[bytes]] = {}


def header_part(data: bytes) -> bytes:
    """A PNG or JPEG cut a little after where any header parser stops (a PNG's first IDAT, a
    JPEG's scan): Pillow opens them so too, and 2,048 of them stay in the CPU's caches, as a
    request body just received does."""
    if data[:2] == b"\xff\xd8":
        at, length = jpeg_at(data, 0xDA)
        return data[:at + 2 + length + 512]
    if data[:4] == b"\x89PNG":
        return data[:data.index(b"IDAT") + 4 + 64]
    return data


def files(name: str) -> list[bytes]:
    """DISTINCT files of the format, each its own size; the first is the original."""
    if name not in _files:
        make, resize = FORMATS[name]
        original = header_part(make())
        _files[name] = [original] + [resize(original, *size(i)) for i in range(1, DISTINCT)]
    return _files[name]


def size(i: int) -> tuple[int, int]:
    return 100 + i % 1500, 100 + i // 1500 * 7 + i % 13


class InPlace:
    """One JPEG whose frame header is rewritten in place before each call, to a new size: a
    file that is too large to have 2,048 copies in the CPU's caches (the one with a 60 KB ICC
    profile) still meets the parser warm and as a new size. ``touch`` alone is the baseline."""

    def __init__(self, data: bytes):
        self.buffer = bytearray(data)
        self.at = jpeg_at(data, 0xC0)[0] + 5
        self.sizes = itertools.cycle([struct.pack(">HH", h, w) for w, h in map(size, range(DISTINCT))])

    def touch(self) -> bytearray:
        self.buffer[self.at:self.at + 4] = next(self.sizes)
        return self.buffer

    def ns(self, info, number: int = 20000) -> float:
        return per_call_ns(lambda: info(self.touch()), number=number) - per_call_ns(self.touch, number=number)


WARM_IN_PLACE = "60 KB"  # the formats measured in place


def still_gif(size: int = MB) -> bytes:
    """A 1x1 GIF whose image data is ``size`` bytes in 255-byte sub-blocks: the walk visits
    all of them to reach the trailer."""
    blocks = (b"\xff" + bytes(255)) * (size // 256)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02" + blocks + b"\x00"
    return b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + bytes(6) + frame + b"\x3b"


def absent_byte(data: bytes) -> bytes:
    return next(bytes([b]) for b in range(256) if bytes([b]) not in data)


def imagesize_get(data: bytes):
    import imagesize

    return imagesize.get(io.BytesIO(data))


def pillow_size(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def pillow_animated(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.is_animated


def rotating(fn, items):
    """A no-argument call of fn on the next of items, round and round."""
    cycle = itertools.cycle(items)
    return lambda: fn(next(cycle))


def distinct_ns(fn, items, number: int = 20000) -> float:
    """ns of fn on a new item each call: the rotation's own cost measured and taken off."""
    spin = itertools.cycle(items)
    return (per_call_ns(rotating(fn, items), number=number, repeat=11)
            - per_call_ns(lambda: next(spin), number=number, repeat=11))


# --- the tables ----------------------------------------------------------------------------

HOWS = [f"{kind} {source}" for kind in KINDS for source in ("bytes, distinct", "bytes, cached", "data URL, distinct")] \
    + ["imagesize", "Pillow"]


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("how", HOWS)
def test_header(benchmark, name, how):
    benchmark.group = f"header: {name}"
    batch = files(name)
    kind, _, source = how.partition(" ")
    if kind in KINDS:
        info = load_twin("header", kind).image_info
        if source == "bytes, distinct" and WARM_IN_PLACE in name:
            in_place = InPlace(batch[0])
            fn = lambda: info(in_place.touch())  # noqa: E731
        elif source == "bytes, distinct":
            fn = rotating(info, batch)
        elif source == "bytes, cached":
            fn = lambda: info(batch[0])  # noqa: E731
        else:
            fn = rotating(info, [data_url(d) for d in batch[:256]] * 8)
        assert info(batch[7])[:2] == pillow_size(batch[7])  # every contender gives the right answer
        benchmark(fn)
    else:
        peer = imagesize_get if how == "imagesize" else pillow_size
        assert tuple(peer(batch[7])) == pillow_size(batch[7])
        benchmark(rotating(peer, batch[:64]))


GIF_HOWS = [f"{kind} {source}" for kind in KINDS for source in ("bytes", "data URL")] \
    + ["floor: bytes.find over the GIF", "floor: bytes.find over the data URL", "Pillow is_animated"]


@pytest.mark.parametrize("how", GIF_HOWS)
def test_gif_walk_per_mb(benchmark, how):
    benchmark.group = "header: a 1 MB GIF's animation walk (to its trailer)"
    gif = still_gif()
    url = data_url(gif, "image/gif").encode()
    if how.startswith("floor"):
        buffer = gif if "GIF" in how else url
        benchmark(buffer.find, absent_byte(buffer))
        return
    if how == "Pillow is_animated":
        assert pillow_animated(gif) is False
        benchmark.pedantic(pillow_animated, (gif,), rounds=10, iterations=1)
        return
    kind, _, source = how.partition(" ")
    twin = load_twin("header", kind)
    arg = gif if source == "bytes" else url
    assert twin.image_info(arg) == (1, 1, "gif", False, False)
    if kind == "python":
        benchmark.pedantic(twin.image_info, (arg,), rounds=5, iterations=1)
    else:
        benchmark(twin.image_info, arg)


def test_whole_decode_of_a_1mb_data_url(benchmark):
    benchmark.group = "header: base64-decoding a 1 MB data URL whole (the cost we avoid)"
    url = data_url(bytes(1_000_000))
    benchmark(base64.b64decode, url[url.index(",") + 1:])


# --- ratio checks (same run) ----------------------------------------------------------------

def best_of(attempts: int, measure) -> tuple[float, ...]:
    """The attempt with the lowest first figure (a ratio): on a shared machine a neighbour's
    burst inflates one attempt, never all of them."""
    return min((measure() for _ in range(attempts)), key=lambda figures: figures[0])


def test_header_ratios(measured):
    compiled, pure = load_twin("header", "cython"), load_twin("header", "python")
    gcd = lambda: per_call_ns(math.gcd, 1920, 1080, number=100000)  # noqa: E731
    lines, failures, over_target = [], [], []
    for name in FORMATS:
        batch = files(name)
        urls = [data_url(d) for d in batch]
        in_place = WARM_IN_PLACE in name

        def from_bytes():
            floor = gcd()
            value = (InPlace(batch[0]).ns(compiled.image_info, number=50000) if in_place
                     else distinct_ns(compiled.image_info, batch, number=50000))
            return value / floor, value, floor

        def from_url():
            floor = gcd()
            value = (per_call_ns(compiled.image_info, urls[0], number=50000) if in_place
                     else distinct_ns(compiled.image_info, urls, number=20000))
            return value / floor, value

        ratio, distinct, floor = best_of(3, from_bytes)
        url_ratio, url_ns = best_of(3, from_url)
        cached = per_call_ns(compiled.image_info, batch[0], number=100000)
        cached_url = per_call_ns(compiled.image_info, urls[0], number=100000)
        reference = (InPlace(batch[0]).ns(pure.image_info, number=2000) if in_place
                     else distinct_ns(pure.image_info, batch, number=2000))
        peer = per_call_ns(rotating(imagesize_get, batch[:64]), number=2000)
        pillow = per_call_ns(rotating(pillow_size, batch[:64]), number=500)
        lines.append(
            f"{name}: bytes {distinct:.0f} ns distinct ({ratio:.1f}x gcd {floor:.0f} ns), "
            f"{cached:.0f} ns cached; data URL {url_ns:.0f} ns ({url_ratio:.1f}x), {cached_url:.0f} "
            f"ns cached; pure twin {reference:.0f} ns ({reference / distinct:.0f}x); imagesize "
            f"{peer / 1000:.1f} us ({peer / distinct:.0f}x), Pillow {pillow / 1000:.1f} us "
            f"({pillow / distinct:.0f}x)")
        if ratio > (8 if in_place else 6):
            failures.append(f"{name}: bytes {ratio:.1f}x gcd")
        if name.split()[0] in TARGET_FORMATS and not in_place and ratio > TARGET_RATIO:
            over_target.append(f"{name} {distinct:.0f} ns ({ratio:.1f}x gcd)")
        if url_ratio > (20 if name.startswith("jpeg") else 12):
            failures.append(f"{name}: data URL {url_ratio:.1f}x gcd")
        if peer < 25 * distinct or pillow < 50 * distinct:
            failures.append(f"{name}: vs imagesize {peer / distinct:.0f}x, Pillow {pillow / distinct:.0f}x")
        if reference < 10 * distinct:
            failures.append(f"{name}: compiled only {reference / distinct:.1f}x the pure twin")
    big = data_url(pillow_image("PNG", (1448, 1448), compress_level=0) + bytes(1_000_000))
    big = big[: big.index(",") + 1 + (1_000_000 // 3) * 4]  # 1 MB of payload
    whole = per_call_ns(base64.b64decode, big[big.index(",") + 1:], number=20, repeat=5)
    ours = per_call_ns(compiled.image_info, big, number=100000)
    lines.append(f"1 MB data URL: header {ours:.0f} ns, whole decode {whole / 1000:.0f} us "
                 f"({whole / ours:.0f}x)")
    if whole < 5000 * ours:
        failures.append("1 MB data URL vs whole decode")
    print("\n" + "\n".join(lines))
    assert not failures, failures
    if over_target:
        pytest.xfail(f"target not met: a distinct header from bytes over {TARGET_RATIO}x "
                     f"math.gcd: {', '.join(over_target)}")


def test_gif_walk_ratios(measured):
    compiled = load_twin("header", "cython")
    gif = still_gif()
    url = data_url(gif, "image/gif").encode()
    mb = len(gif) / MB

    def on_bytes():
        find = per_call_ns(gif.find, absent_byte(gif), number=200, repeat=7) / mb
        walk = per_call_ns(compiled.image_info, gif, number=200, repeat=7) / mb
        return walk / find, walk, find

    def on_url():
        find = per_call_ns(url.find, absent_byte(url), number=200, repeat=7) / mb
        walk = per_call_ns(compiled.image_info, url, number=100, repeat=7) / mb
        return walk / find, walk, find

    _, walk, find = best_of(3, on_bytes)
    _, walk_url, find_url = best_of(3, on_url)
    pillow = per_call_ns(pillow_animated, gif, number=3, repeat=3) / mb
    print(f"\nGIF walk per MB of GIF: bytes {walk / 1000:.1f} us ({walk / find:.2f}x bytes.find "
          f"{find / 1000:.1f} us), data URL {walk_url / 1000:.1f} us ({walk_url / find_url:.2f}x "
          f"bytes.find over the URL {find_url / 1000:.1f} us); Pillow is_animated "
          f"{pillow / 1000:.0f} us ({pillow / walk:.0f}x)")
    assert walk <= 1.0 * find
    assert walk_url <= 4.0 * find_url
