"""The compiled header parser and the reference agree on any input: sizes and errors alike.

Hypothesis drives arbitrary bytes, valid headers with random sizes (every leniency path of the
corpus among them: junk between GIF blocks and before JPEG markers, fill bytes, a GIF without
its trailer, a logical screen other than the image, APNG frames, WebP VP8X stills and
animations), every prefix of them and mutations of them, as bytes, as data URLs and as
prefixes (``complete=False``); a seeded mutation fuzzer then runs the compiled parser over
many more inputs (no crash, no hang, nothing but our errors).
"""

from __future__ import annotations

import base64
import random

from headers import (
    anmf,
    data_url,
    gif_header,
    jpeg_header,
    jpeg_sos,
    mutated,
    png_chunk,
    png_header,
    riff,
    valid_headers,
    vp8_payload,
    vp8l_payload,
    vp8x_payload,
    webp_chunk,
    webp_header,
)
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from implementations import load_parser

from visiontokens import InvalidImageError, TruncatedImageError

compiled = load_parser("cython")
reference = load_parser("python")


def outcome(call, *args):
    try:
        return ("value", call(*args))
    except InvalidImageError as error:  # anything else escapes and fails the test
        info = getattr(error, "info", None)
        return ("error", type(error), str(error), info)


def agree(source):
    fast, slow = outcome(compiled.image_info, source), outcome(reference.image_info, source)
    assert fast == slow
    return fast


def agree_prefix(data):
    """Both twins parse ``data`` as the start of a longer file alike."""
    fast = outcome(compiled.parse_buffer, data, False)
    assert fast == outcome(reference.parse_buffer, data, False)
    return fast


@given(st.binary(max_size=200))
@example(b"")
@example(b"\xff")
@example(b"RIFF")
def test_arbitrary_bytes(data):
    agree(data)
    agree(data_url(data))


@given(valid_headers)
def test_valid_headers_and_their_data_urls(header):
    result = agree(header)
    assert result[0] == "value"
    assert agree(data_url(header)) == result
    assert agree(data_url(header).encode()) == result
    # as its own prefix, a whole file gives the same answer or, at most, "read on"
    prefix = agree_prefix(header)
    assert prefix == result or (prefix[1] is TruncatedImageError and prefix[3] is not None)


@given(valid_headers, st.data())
def test_every_prefix(header, data):
    whole = agree(header)[1]
    cut = data.draw(st.integers(0, len(header) - 1))
    part = agree(header[:cut])
    assert agree(data_url(header[:cut])) == part
    if part[0] == "value":
        info = part[1]
        if info.format == "gif":  # cut after its first image: still so far, or undecided
            assert info[:2] == whole[:2]
            assert info.animated == whole.animated or info.animation_undecided
        else:  # cut after what Pillow reads (a PNG's IDAT header, a JPEG's frame header)
            assert info == whole
    else:
        assert part[1] is TruncatedImageError or whole.format in ("webp", "jpeg")
    # read as the start of the file: the whole file's answer, or "read on" with what is known
    prefix = agree_prefix(header[:cut])
    if prefix[0] == "value":
        assert prefix[1] == whole
    else:
        assert prefix[1] is TruncatedImageError or whole.format == "webp"
        known = prefix[3]
        if known is not None:
            assert known[:3] == whole[:3] and (known.animation_undecided or not whole.animated)


@given(mutated())
def test_mutated_headers(data):
    agree(data)
    agree(data_url(data))
    agree_prefix(data)


base64_text = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -_\n",
                      max_size=80)


@given(base64_text)
@example("iVBORw0KGgo=")
@example("====")
@example("A===")
@example("QQ==QUJD")
def test_arbitrary_base64_payloads(payload):
    agree("data:image/png;base64," + payload)


@given(valid_headers, st.data())
def test_corrupted_base64_of_valid_headers(header, data):
    text = base64.b64encode(header).decode()
    at = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from("=!-_ \x00é"))
    agree("data:image/png;base64," + text[:at] + char + text[at + 1:])


@given(st.text(max_size=40), st.text(max_size=10))
def test_arbitrary_data_url_headers(header, payload):
    agree("data:" + header + "," + payload)


def fctl(sequence, w, h, x=0, y=0):
    return png_chunk(b"fcTL", b"".join(v.to_bytes(4, "big") for v in (sequence, w, h, x, y))
                     + bytes(6))


SEEDS = [
    png_header(640, 480, before_idat=[(b"iCCP", bytes(30))]),
    png_header(64, 64, animated=True),
    png_header(8, 8, before_idat=[(b"acTL", bytes([0, 0, 0, 2]) + bytes(4))])[:-12]
    + fctl(0, 8, 8) + png_chunk(b"IDAT", b"\x00") + fctl(1, 4, 4) + png_chunk(b"fdAT", bytes(5)),
    png_header(8, 8, before_idat=[(b"PLTE", bytes(48))]),
    jpeg_header(40, 30, segments=[(0xDB, bytes(65)), (0xC4, bytes(30))], fill=1, sos=True),
    b"\xff\xd8\xff\xe0\x00\x04ab" + b"junk\x00\xff\x00" + jpeg_header(9, 7, marker=0xDE)[2:] + jpeg_sos(),
    gif_header(300, 200, frames=2, junk=b"\x00\x01", screen=(0, 0), offset=(4, 2)),
    gif_header(30, 20, frames=1, trailer=False),
    riff(webp_chunk(b"VP8X", vp8x_payload(9, 9, 0x10)), webp_chunk(b"ALPH", bytes(3)),
         webp_chunk(b"VP8 ", vp8_payload(9, 9)), webp_chunk(b"EXIF", bytes(7))),
    riff(webp_chunk(b"VP8X", vp8x_payload(40, 40, 0x02)), webp_chunk(b"ANIM", bytes(6)),
         anmf(8, 8, 2, 2), anmf(4, 4), anmf(40, 40, image=webp_chunk(b"VP8 ", vp8_payload(40, 40)))),
    riff(webp_chunk(b"VP8L", vp8l_payload(33, 5)), webp_chunk(b"XMP ", bytes(3))),
    jpeg_header(1800, 2400, segments=[(0xE0, bytes(14)), (0xE2, bytes(100)), (0xDB, bytes(65))]),
    jpeg_header(31, 17, marker=0xC2, fill=2),
    gif_header(300, 200, frames=2, extensions=1),
    gif_header(1, 1),
    webp_header(1024, 768, "VP8 "),
    webp_header(1024, 768, "VP8L"),
    webp_header(1024, 768, "VP8X", animated=True),
]


def test_mutation_fuzz_of_the_compiled_parser():
    """A bounded, seeded fuzz run: 20,000 mutants of real headers, both parsers, as bytes
    and (every tenth) as data URLs."""
    rng = random.Random(20261124)
    for i in range(20_000):
        data = bytearray(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            action = rng.random()
            if action < 0.5:
                data[at] = rng.randrange(256)
            elif action < 0.7:
                data[at] = rng.choice((0x00, 0xFF, 0x2C, 0x21, 0x3B, 0xC0, 0xD9, 0xDA))
            elif action < 0.85:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            else:
                del data[at:at + rng.randint(1, 8)]
            if not data:
                break
        agree(bytes(data))
        if i % 10 == 0:
            agree(data_url(bytes(data)))


@st.composite
def gifs_with_runs(draw):
    """A GIF whose image data is runs of equal sub-blocks (long enough for the eight-at-once
    jumps, short and long blocks alike), with stray bytes, maybe a second image, maybe cut."""
    chain = b""
    for _ in range(draw(st.integers(0, 4))):
        n = draw(st.sampled_from([1, 2, 7, 15, 16, 47, 48, 100, 254, 255]))
        chain += (bytes([n]) + bytes([0x2C]) * n) * draw(st.integers(1, 40))
    frame = b"\x2c" + bytes(4) + b"\x01\x00\x01\x00\x00\x02" + chain + b"\x00"
    stray = draw(st.sampled_from([b"", b"\x00", b"\x07" * 5000]))
    data = b"GIF89a\x01\x00\x01\x00\x00\x00\x00" + frame + stray
    data += draw(st.sampled_from([b"", b"\x3b", frame + b"\x3b", b"\x21\xfe\x05hello\x00" + frame]))
    return data[:draw(st.integers(len(data) // 2, len(data)))]


@given(gifs_with_runs(), st.data())
def test_gif_sub_block_walks(data, draw):
    agree(data)
    agree_prefix(data)
    url = data_url(data)
    agree(url)
    # a bad character anywhere in the base64: reported only if the walk reads its group
    at = draw.draw(st.integers(len("data:image/png;base64,"), len(url) - 1))
    agree(url[:at] + draw.draw(st.sampled_from("!-_ ")) + url[at + 1:])


@given(st.integers(min_value=0, max_value=1 << 40),
       st.sampled_from(["", "=", "==", "a=", "=a", "ab", "A", "="]),
       st.booleans())
def test_decoded_size_twins(length, tail, as_bytes):
    """The walk's payload arithmetic (spec 5): the compiled twin gives the rule's answer."""
    text_tail = tail.encode() if as_bytes else tail
    assert compiled.decoded_size(length, text_tail) == reference.decoded_size(length, text_tail)



# --- raw base64 with a media type (Anthropic base64 sources, Gemini inlineData) ---------------

def agree_base64(text, media_type):
    fast = outcome(compiled.parse_base64, text, media_type)
    assert fast == outcome(reference.parse_base64, text, media_type)
    return fast


@given(valid_headers, st.sampled_from(["image/png", "image/jpeg", "IMAGE/WEBP", "image/gif"]))
def test_raw_base64_reads_as_its_data_url(header, media_type):
    """parse_base64 answers what the data URL of the same payload answers, in both twins."""
    text = base64.b64encode(header).decode()
    assert agree_base64(text, media_type) == agree(data_url(header))
    assert agree_base64(text.encode(), media_type) == agree(data_url(header))


@given(base64_text, st.one_of(st.text(max_size=20), st.sampled_from(["image/png", "text/plain", "image/"])))
@example("iVBORw0KGgo=", "image/png")
@example("A===", "image/png")
@example("é", "image/png")
def test_arbitrary_raw_base64_and_media_types(text, media_type):
    result = agree_base64(text, media_type)
    if not media_type[:6].lower() == "image/":
        assert result[0] == "error" and "not an image type" in result[2]


@given(valid_headers, st.data())
def test_corrupted_raw_base64(header, data):
    text = base64.b64encode(header).decode()
    at = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from("=!-_ \x00é"))
    agree_base64(text[:at] + char + text[at + 1:], "image/png")


# --- the URL-safe alphabet (Gemini): read in place as if translated to the standard one --------

URL_SAFE_AS_STANDARD = str.maketrans("-_", "+/")


def url_safe_outcome(parser, text, media_type):
    """parse_base64 with url_safe=True, checked against the same twin on the text translated
    to the standard alphabet (what the Gemini walker did before, with a copy), and against
    base64_info on the text's bytes (a scanned body): results and errors alike."""
    expected = outcome(parser.parse_base64, text.translate(URL_SAFE_AS_STANDARD), media_type)
    got = outcome(lambda t, m: parser.parse_base64(t, m, url_safe=True), text, media_type)
    assert got == expected, text[:80]
    if text.isascii():
        in_body = outcome(lambda t, m: parser.base64_info(t, m, url_safe=True),
                          memoryview(text.encode()), media_type)
        assert in_body == expected, text[:80]
    return got


@given(valid_headers, st.data())
def test_url_safe_base64_reads_as_the_standard_alphabet(header, data):
    """Both twins, on the header of every format written in the URL-safe alphabet, then with a
    character replaced (a bad one, or the other alphabet's, anywhere): the same answer as the
    translated text, and the same in both twins."""
    text = base64.urlsafe_b64encode(header).decode()
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(text) - 1))
        text = text[:at] + data.draw(st.sampled_from("=!-_+/ \x00é")) + text[at + 1:]
    fast = url_safe_outcome(compiled, text, "image/png")
    assert fast == url_safe_outcome(reference, text, "image/png")


@given(base64_text)
def test_url_safe_base64_on_arbitrary_text(text):
    assert url_safe_outcome(compiled, text, "image/png") == url_safe_outcome(reference, text,
                                                                             "image/png")


def test_the_url_safe_alphabet_only_when_asked():
    """"-" and "_" stay bad base64 for the others (a data URL, Anthropic's base64 source),
    with the position of the first, in both twins."""
    # a width whose IHDR bytes the parser must read encode to "-" or "_"
    width = next(w for w in range(0xFBFF00, 0xFC0000)
                 if set("-_") & set(base64.urlsafe_b64encode(png_header(w, 480))[:32].decode()))
    text = base64.urlsafe_b64encode(png_header(width, 480)).decode()
    for parser in (compiled, reference):
        assert parser.parse_base64(text, "image/png", url_safe=True)[:2] == (width, 480)
        with pytest.raises(InvalidImageError):
            parser.parse_base64(text, "image/png")
        with pytest.raises(InvalidImageError):
            parser.parse_data_url("data:image/png;base64," + text)


@given(gifs_with_runs())
def test_url_safe_gif_walks(data):
    """The GIF walk's fast paths (decoded windows, length bytes read eight at a time) use the
    alphabet asked for too."""
    text = base64.urlsafe_b64encode(data).decode()
    assert url_safe_outcome(compiled, text, "image/gif") == url_safe_outcome(reference, text,
                                                                             "image/gif")
