"""The compiled header parser and the reference agree on any input: sizes and errors alike.

Hypothesis drives arbitrary bytes, valid headers with random sizes, every prefix of them and
mutations of them, as bytes and as data URLs; a seeded mutation fuzzer then runs the
compiled parser over many more inputs (no crash, no hang, nothing but our errors).
"""

from __future__ import annotations

import base64
import random

from headers import data_url, gif_header, jpeg_header, mutated, png_header, valid_headers, webp_header
from hypothesis import example, given
from hypothesis import strategies as st
from implementations import load_parser

from visiontokens import InvalidImageError, TruncatedImageError

compiled = load_parser("cython")
reference = load_parser("python")


def outcome(parser, source):
    try:
        return ("value", parser.image_info(source))
    except InvalidImageError as error:  # anything else escapes and fails the test
        return ("error", type(error), str(error))


def agree(source):
    fast, slow = outcome(compiled, source), outcome(reference, source)
    assert fast == slow
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


@given(valid_headers, st.data())
def test_every_prefix(header, data):
    whole = agree(header)
    cut = data.draw(st.integers(0, len(header) - 1))
    part = agree(header[:cut])
    # a prefix is too short, or (a GIF cut after its second frame) already conclusive
    assert part == whole or part[1] is TruncatedImageError
    assert agree(data_url(header[:cut])) == part


@given(mutated())
def test_mutated_headers(data):
    agree(data)
    agree(data_url(data))


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


SEEDS = [
    png_header(640, 480, before_idat=[(b"iCCP", bytes(30))]),
    png_header(64, 64, animated=True),
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
