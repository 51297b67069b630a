"""data_url_info: a data URL's header read from its bytes where they lie (a window on a request
body), with the same result and the same error as image_info on the equal str, in both header
twins; and through the scan, from a BodyString's view."""

from __future__ import annotations

import base64
import json

import pytest
from headers import data_url, mutated, png_header, valid_headers
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


# --- base64_info: raw base64 (an Anthropic or Gemini image, Chat's bare base64) in the body -------

def base64_same_as_str(parser, payload: str, media_type, shift: int = 0):
    """base64_info on the payload's bytes, wherever they lie, answers what parse_base64 answers
    on the equal str; with ``shift``, what parse_data_url answers on the URL of that header
    length (the positions an error names count from the URL's start)."""
    expected = outcome(parser.parse_base64, payload, media_type)
    if shift:
        url = f"data:{media_type};base64,"
        assert len(url) == shift
        expected = outcome(parser.parse_data_url, url + payload)
    text = payload.encode("utf-8")
    for window in windows(text):
        assert outcome(parser.base64_info, window, media_type, shift=shift) == expected, (
            payload[:80], type(window))
        if payload.isascii():
            assert outcome(parser.base64_info, window, media_type, ascii=True,
                           shift=shift) == expected
    return expected


def base64_both(payload: str, media_type="image/png", shift: int = 0):
    results = [base64_same_as_str(load_twin("header", kind), payload, media_type, shift)
               for kind in KINDS]
    assert results[0] == results[1]
    return results[0]


media_types = st.sampled_from(["image/png", "IMAGE/JPEG", "image/*", "image/gif", "text/plain",
                               "image", ""])


@given(valid_headers, media_types, st.integers(0, 3))
def test_raw_base64_of_valid_images_cut_or_whole(image, media_type, cut):
    payload = base64.b64encode(image).decode()
    base64_both(payload[:len(payload) - cut], media_type)


@given(mutated(), st.integers(0, 3))
def test_raw_base64_of_mutated_images_as_chats_data_url(image, cut):
    payload = base64.b64encode(image).decode()
    base64_both(payload[:len(payload) - cut], "image/*", shift=len("data:image/*;base64,"))


@given(st.binary(max_size=200), st.integers(0, 1000), st.integers(0, 255))
@example(b"\x89PNG\r\n\x1a\n" + bytes(40), 12, ord("*"))
@example(b"\x89PNG\r\n\x1a\n" + bytes(40), 3, 0xE9)  # non-ASCII: the str's error, from bytes
def test_flipped_characters_in_raw_base64(image, where, byte):
    encoded = bytearray(base64.b64encode(image))
    if encoded:
        encoded[where % len(encoded)] = byte
    payload = encoded.decode("latin-1")
    base64_both(payload)
    base64_both(payload, "image/*", shift=len("data:image/*;base64,"))


def test_a_raw_base64_found_by_the_scan(parser):
    raw = base64.b64encode(png_header(1920, 1080) + bytes(6000)).decode()
    body = json.dumps({"source": {"type": "base64", "media_type": "image/png",
                                  "data": raw}}).encode()
    for kind in KINDS:
        scan = load_twin("scan", kind)
        text = scan.Document(body).root.get("source").get("data")
        assert isinstance(text, scan.BodyString)
        info = parser.base64_info(text.view(), "image/png", ascii=text.isascii())
        assert info == parser.parse_base64(raw, "image/png") and info.width == 1920


def test_base64_info_wrong_types_are_typed_errors(parser):
    with pytest.raises(ArgumentTypeError):
        parser.base64_info("AAAA", "image/png")
    with pytest.raises(InvalidImageError):
        parser.base64_info(b"AAAA", 5)


def test_a_fill_hook_is_a_body_strings_or_none(parser):
    """``fill`` comes from BodyString.header_view, and only a compiled BodyBuffer's windows
    have one; anything else is a typed error, in either twin."""
    url = data_url(png_header(640, 480)).encode()
    assert parser.data_url_info(url, fill=None).width == 640
    for wrong in ("hook", 5, object()):
        with pytest.raises(ArgumentTypeError):
            parser.data_url_info(url, fill=wrong)
        with pytest.raises(ArgumentTypeError):
            parser.base64_info(url[22:], "image/png", fill=wrong)


def test_a_body_strings_header_view_in_a_reused_body_buffer():
    """The window and hook header_view gives for an image in a compiled BodyBuffer read as
    the bytes do, though most of the image's blocks were never copied in; the pure twin's
    bodies are whole, and its hook is None."""
    url = data_url(png_header(1920, 1080) + bytes(40000))  # ("AAAA...": plain blocks)
    body = json.dumps({"url": url}).encode()
    for kind in KINDS:
        scan, parser = load_twin("scan", kind), load_twin("header", kind)
        buffer = scan.BodyBuffer()
        for at in range(0, len(body), 8192):
            buffer.put(body[at:at + 8192])
        text = scan.Document(buffer).root.get("url")
        view, fill = text.header_view()
        assert (fill is None) == (kind == "python")
        assert (buffer._blocks_not_copied() > 8) == (kind == "cython")
        assert parser.data_url_info(view, ascii=True, fill=fill) == parser.image_info(url)
        assert bytes(view[:22]) == url[:22].encode() and bytes(view[-2:]) == url[-2:].encode()
