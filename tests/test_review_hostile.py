"""Hostile use of the merged public API (review of issues 10, 11, 12): every wrong argument and
hostile body ends in one of our errors, the same type and message in the compiled and pure
twins, in bounded time. Each test here pins a bug the review found."""

from __future__ import annotations

import asyncio
import base64
import sys

import pytest
from headers import png_header
from implementations import load_twin

import visiontokens
from visiontokens import (
    ArgumentTypeError,
    InvalidArgumentError,
    MalformedRequestError,
    VisionTokensError,
)
from visiontokens.requests._request_py import MAX_DEPTH

PNG_URL = "data:image/png;base64," + base64.b64encode(png_header(100, 50)).decode()
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": PNG_URL}}]}]}
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def outcome(fn, *args, **kwargs):
    """("ok", value) or (error type, message); a foreign exception fails the test."""
    try:
        value = fn(*args, **kwargs)
        if asyncio.iscoroutine(value):
            value = asyncio.run(value)
        return ("ok", value)
    except VisionTokensError as error:
        return (type(error), str(error))


WRONG = [None, 1, 1.5, True, b"gpt-4o", ["gpt-4o"], object(), float("nan"), 10**30]


# --- the compiled request walk checks every argument as the pure one does ----------------------
# It is _request_py.py compiled by Cython: a `str` annotation made Cython raise a bare
# TypeError before our check, and a `bool` one turned any object into a bool (-1 and ""
# were accepted as enforce_patch_limit).

VALID = {"ruleset": None, "content_type": None, "api": None, "enforce_patch_limit": True}


@pytest.mark.parametrize("keyword", ["ruleset", "on_unknown", "on_violation", "undecided_animation",
                                     "content_type", "api", "undocumented", "enforce_patch_limit"])
@pytest.mark.parametrize("value", WRONG + [-1, ""], ids=repr)
@pytest.mark.parametrize("function", ["count_request", "count_request_async"])
def test_request_keywords_of_a_wrong_type_raise_ours_in_both_twins(walk, function, keyword, value):
    if value is VALID.get(keyword):
        return
    pure = load_twin("request", "python")
    got = outcome(getattr(walk, function), CHAT, **{keyword: value})
    assert got[0] != "ok" and issubclass(got[0], VisionTokensError)
    assert got == outcome(getattr(pure, function), CHAT, **{keyword: value})


@pytest.mark.parametrize("value", [-1, "", 0, 1, None])
def test_enforce_patch_limit_is_a_bool_in_both_twins(walk, value):
    with pytest.raises(ArgumentTypeError, match="enforce_patch_limit must be True or False"):
        walk.count_request(CHAT, enforce_patch_limit=value)


@pytest.mark.parametrize("position", ["model", "detail", "ruleset", "input_fidelity"])
@pytest.mark.parametrize("value", WRONG, ids=repr)
def test_count_image_arguments_of_a_wrong_type_raise_ours_in_both_twins(walk, position, value):
    if value is None and position != "model":
        return  # None is valid there (detail None is auto)
    pure = load_twin("request", "python")
    arguments = {"model": "gpt-4o", "detail": "auto", position: value}
    got = outcome(walk.count_image, GIF, **arguments)
    assert got[0] != "ok" and issubclass(got[0], VisionTokensError)
    assert got == outcome(pure.count_image, GIF, **arguments)


# --- unhashable arguments reach our checks, not the cache ------------------------------------

@pytest.mark.parametrize("arguments", [
    dict(model=["gpt-image-1"]), dict(model="gpt-image-1", ruleset=["2026-09"]),
    dict(model="gpt-image-1", ruleset={}), dict(model={"gpt-image-1": 1}),
])
def test_output_tokens_with_unhashable_arguments_raise_ours(output, arguments):
    for function in (output.count_output_image_tokens, output.explain_output_image_tokens):
        with pytest.raises(ArgumentTypeError):
            function(**arguments)
    compiled, pure = load_twin("output", "cython"), load_twin("output", "python")
    assert outcome(compiled.count_output_image_tokens, **arguments) == \
        outcome(pure.count_output_image_tokens, **arguments)


def test_a_request_with_an_unhashable_ruleset_raises_ours(walk):
    with pytest.raises(ArgumentTypeError, match="ruleset"):
        walk.count_request(CHAT, ruleset=["2026-09"])


# --- paths that cannot be opened ----------------------------------------------------------------

@pytest.mark.parametrize("path", ["a\x00b", "\ud800.png"])
def test_a_path_that_cannot_be_opened_is_ours(parser, path):
    with pytest.raises(InvalidArgumentError, match="the path cannot be opened"):
        parser.image_info(path)


def test_a_missing_file_stays_an_oserror(parser, tmp_path):
    with pytest.raises(FileNotFoundError):  # documented: file-system errors stay OSError
        parser.image_info(str(tmp_path / "missing.png"))


# --- multipart content types: bounded, and parameters parsed as before ------------------------------

def form() -> bytes:
    parts = [(b'Content-Disposition: form-data; name="model"', b"gpt-image-1"),
             (b'Content-Disposition: form-data; name="prompt"', b"a cat"),
             (b'Content-Disposition: form-data; name="image"; filename="a.png"\r\n'
              b"Content-Type: image/png", png_header(100, 50))]
    return b"".join(b"--XyZ\r\n" + head + b"\r\n\r\n" + body + b"\r\n" for head, body in parts) \
        + b"--XyZ--\r\n"


@pytest.mark.parametrize("content_type", [
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data;;; charset ; boundary=XyZ",  # bare words without '=' are skipped
    "multipart/form-data; a=1;b;c; boundary=\"XyZ\"",
    "multipart/form-data" + ";" * 4000 + "boundary=XyZ",  # was quadratic in the semicolons
])
def test_multipart_parameters(walk, content_type):
    assert walk.count_request(form(), content_type=content_type).images[0].width == 100


@pytest.mark.parametrize("content_type", [
    "multipart/form-data" + ";" * 200_000 + "boundary=XyZ",  # took a second, a minute at 1 MB
    "multipart/form-data; boundary=\"" + "a\\" * 100_000,
])
def test_an_overlong_content_type_is_refused(walk, content_type):
    with pytest.raises(MalformedRequestError, match="the content type has .* characters, over the 4096"):
        walk.count_request(form(), content_type=content_type)


# --- JSON nesting: our own depth rule, whichever parser and however deep the stack -------------

TOO_DEEP = f"the request body nests deeper than {MAX_DEPTH} levels"


def nested(depth: int, opener: str = "[") -> str:
    """A Chat body nesting ``depth`` levels, its own object the first."""
    if opener == "[":
        inner = "[" * (depth - 1) + "1" + "]" * (depth - 1)
    else:
        inner = '{"a": ' * (depth - 2) + '{"a": 1}' + "}" * (depth - 2)
    return '{"model": "gpt-4o", "messages": [], "x": ' + inner + "}"


@pytest.mark.parametrize("opener", ["[", "{"])
def test_a_body_at_the_depth_limit_counts(walk, opener):
    text = nested(MAX_DEPTH, opener)
    for body in (text, text.encode()):
        assert walk.count_request(body).image_tokens == 0


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, MAX_DEPTH + 2, 300, 1_000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{"])
def test_a_body_over_the_depth_limit_is_one_error(walk, depth, opener):
    text = nested(depth, opener)
    cut = text[: text.rindex(opener) + 1]  # cut short after the innermost opening
    for body in (text, cut):
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request(body)
        assert str(caught.value) == TOO_DEEP
    for body in (text.encode(), cut.encode()):  # read in place: the scan also says where
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request(body)
        assert str(caught.value).startswith(TOO_DEEP + ": at byte ")


def test_the_json_loads_path_has_the_same_depth_rule(walk):
    # a lone surrogate escape: jiter refuses it and json.loads reads the body
    shallow = '{"model": "gpt-4o", "messages": [], "s": "\\ud800", "x": [[1]]}'
    assert walk.count_request(shallow).image_tokens == 0
    deep = '{"model": "gpt-4o", "messages": [], "s": "\\ud800", "x": ' + "[" * 250 + "]" * 250 + "}"
    with pytest.raises(MalformedRequestError, match=TOO_DEEP):
        walk.count_request(deep.encode())
    # brackets inside strings, escaped quotes included, are not nesting
    in_string = '{"model": "gpt-4o", "messages": [], "s": "\\ud800 \\" ' + "[" * 500 + '"}'
    assert walk.count_request(in_string).image_tokens == 0


def test_the_depth_error_does_not_depend_on_the_callers_stack(walk):
    """The fuzz finding request-json-nesting-near-recursion-limit: a body ~1,000 deep, cut
    short, was "nests too deeply" or "not JSON" by how deep the caller's stack was."""
    body = ('{"model":"gpt-4o","messages":' + "[" * 1_000).encode()
    seen = set()

    def at_depth(frames):
        if frames:
            return at_depth(frames - 1)
        try:
            walk.count_request(body)
        except MalformedRequestError as error:
            return str(error)

    for frames in range(0, sys.getrecursionlimit() - 100, 50):
        seen.add(at_depth(frames))
    (only,) = seen  # one error, whatever the stack (a byte body's also says where)
    assert only.startswith(TOO_DEEP)


def test_the_facade_uses_the_same_rule():
    with pytest.raises(visiontokens.MalformedRequestError, match=TOO_DEEP):
        visiontokens.count_request("[" * 500)


@pytest.mark.parametrize("function", ["count_request", "count_request_async"])
@pytest.mark.parametrize("value", [5, "resolver", b"x"], ids=repr)
def test_a_resolve_file_that_is_not_callable_is_ours(walk, function, value):
    # refused even when the body holds no file id, so the mistake shows on the first request
    assert outcome(getattr(walk, function), CHAT, resolve_file=value) == (
        ArgumentTypeError, f"resolve_file must be a callable or None, got {type(value).__name__}")


@pytest.mark.parametrize("scheme", ["DATA:", "Data:", "dAtA:"])
def test_image_info_reads_a_data_url_in_any_case(parser, scheme):
    # as count_request does (URL schemes are case-insensitive); it was read as a file path
    url = scheme + PNG_URL[5:]
    for source in (url, url.encode(), bytearray(url.encode()), memoryview(url.encode())):
        info = parser.image_info(source)
        assert (info.width, info.height, info.format) == (100, 50, "png")


def test_image_info_bytes_that_only_look_like_a_scheme_are_not_a_data_url(parser):
    # '$' | 0x20 is '$', and 'D' - 0x20 is '$': only letters fold
    with pytest.raises(visiontokens.UnsupportedImageFormatError):
        parser.image_info(b"$ATA:image/png;base64,AAAA")
