"""data_url_info: a data URL's header read from its bytes where they lie (a window on a request
body), with the same result and the same error as image_info on the equal str, in both header
twins; and through the scan, from a BodyString's view."""

from __future__ import annotations

import base64
import json

import pytest
from headers import data_url, mutated, valid_headers
from hypothesis import example, given
from hypothesis import strategies as st
from implementations import KINDS, load_twin

from visiontokens import InvalidImageError
from visiontokens._errors import ArgumentTypeError


def outcome(call, *args, **kwargs):
    try:
        return ("value", call(*args, **kwargs))
    except InvalidImageError as error:  # anything else escapes and fails the test
        return ("error", type(error), str(error), getattr(error, "info", None))


def windows(text: bytes):
    """The URL's bytes as a request body would hold them: alone, and inside a larger buffer."""
    body = b'{"url": "' + text + b'", "detail": "high"}'
    start = 9
    yield text
    yield bytearray(text)
    yield memoryview(body)[start:start + len(text)]
    yield memoryview(bytearray(body))[start:start + len(text)]


def same_as_str(parser, url: str):
    expected = outcome(parser.image_info, url)
    text = url.encode("utf-8")
    for window in windows(text):
        assert outcome(parser.data_url_info, window) == expected, (url[:80], type(window))
        if url.isascii():  # the scan's hint: the check is skipped, the answer is the same
            assert outcome(parser.data_url_info, window, ascii=True) == expected
    return expected


def both(url: str):
    results = [same_as_str(load_twin("header", kind), url) for kind in KINDS]
    assert results[0] == results[1]
    return results[0]


headers_ = st.sampled_from(["image/png;base64", "IMAGE/JPEG;BASE64", "image/webp;base64",
                            "image/png", "text/plain;base64", "image/gif;charset=x;base64", ""])


@given(valid_headers, headers_)
def test_valid_images_under_any_header(image, header):
    both(f"data:{header}," + base64.b64encode(image).decode())


@given(mutated(), headers_, st.integers(0, 3))
def test_mutated_images_and_cut_payloads(image, header, cut):
    payload = base64.b64encode(image).decode()
    both(f"data:{header}," + payload[:len(payload) - cut])


@given(st.text(max_size=80), st.binary(max_size=60))
@example("image/png;base64", b"\x89PNG")
@example("image/png;base64,é", b"")  # non-ASCII: the str's error, from bytes
@example("x" * 300, b"")  # no comma within the header's limit
def test_arbitrary_text_after_the_scheme(header, payload):
    both("data:" + header + "," + base64.b64encode(payload).decode())
    both("DATA:" + header)


@given(st.binary(max_size=200), st.integers(0, 3), st.integers(0, 255))
def test_flipped_base64_characters(image, where, byte):
    encoded = bytearray(data_url(image).encode())
    if len(encoded) > 22:
        encoded[22 + where % (len(encoded) - 22)] = byte % 128  # stays ASCII: read as a str would be
    both(encoded.decode())


def test_a_data_url_found_by_the_scan(parser):
    from headers import png_header

    url = data_url(png_header(1920, 1080) + bytes(6000))
    body = json.dumps({"messages": [{"content": [{"type": "image_url",
                                                  "image_url": {"url": url}}]}]}).encode()
    for kind in KINDS:
        scan = load_twin("scan", kind)
        text = next(iter(next(iter(scan.Document(body).root.get("messages"))).get("content"))) \
            .get("image_url").get("url")
        assert isinstance(text, scan.BodyString) and text.startswith("data:")
        info = parser.data_url_info(text.view(), ascii=text.isascii())
        assert info == parser.image_info(url) and (info.width, info.height) == (1920, 1080)


def test_wrong_types_are_typed_errors(parser):
    with pytest.raises(ArgumentTypeError):
        parser.data_url_info("data:image/png;base64,")
    with pytest.raises(ArgumentTypeError):
        parser.data_url_info(5)
