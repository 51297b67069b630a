"""count_request on raw bytes: the in-place scan reads them, and the result is the dict path's.

A hypothesis differential test holds count_request(bytes) and count_request(str) to
count_request(json.loads(...)) over generated bodies, results and errors alike; the memory
tests hold the peak for a body of N bytes under 2.5 N.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import textwrap
import tracemalloc

import pytest
from headers import data_url, gif_header, jpeg_header, png_header, webp_header
from hypothesis import example, given
from hypothesis import strategies as st

import visiontokens
from visiontokens import VisionTokensError

IMAGE_URLS = [data_url(png_header(1920, 1080)), data_url(jpeg_header(1800, 2400), "image/jpeg"),
              data_url(gif_header(640, 480), "image/gif"),
              data_url(webp_header(1024, 768, "VP8L"), "image/webp"),
              data_url(gif_header(8, 8, frames=2), "image/gif"),  # animated: a violation
              "data:image/png;base64,iVBORw0K", "DATA:image/png;base64," + data_url(
                  png_header(300, 200)).split(",", 1)[1],
              "https://example.com/cat.png", "ftp://example.com/x.png"]
text = st.text(max_size=12)  # any Unicode: escapes, astral characters, surrogates as \u pairs
details = st.sampled_from([None, "low", "high", "original", "auto", "medium"])
models = st.sampled_from(["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "gpt-6-astra", "gpt-6-sol", "nope"])
junk = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                              st.floats(allow_nan=False, allow_infinity=False), text),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(text, inner, max_size=3)),
                    max_leaves=8)


@st.composite
def chat_part(draw):
    kind = draw(st.sampled_from(["text", "image_url", "image_url", "file", "input_image"]))
    if kind == "text":
        return {"type": "text", "text": draw(text)}
    if kind == "image_url":
        image = {"url": draw(st.sampled_from(IMAGE_URLS))}
        detail = draw(details)
        if detail:
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    return {"type": kind, "extra": draw(junk)}


@st.composite
def responses_part(draw):
    kind = draw(st.sampled_from(["input_text", "input_image", "input_image", "input_file",
                                 "image_url"]))
    part = {"type": kind}
    if kind == "input_image":
        part["image_url"] = draw(st.sampled_from(IMAGE_URLS))
        detail = draw(details)
        if detail:
            part["detail"] = detail
    else:
        part["text"] = draw(text)
    return part


@st.composite
def bodies(draw):
    body = {"model": draw(models)}
    if draw(st.booleans()):
        body["messages"] = [{"role": "user", "content": draw(st.lists(chat_part(), max_size=4))}
                            for _ in range(draw(st.integers(0, 3)))]
    else:
        body["input"] = [{"role": "user", "content": draw(st.lists(responses_part(), max_size=4))}]
        if draw(st.booleans()):
            body["prompt"] = {"id": "p", "variables": {draw(text): draw(responses_part())}}
    for key, value in draw(st.dictionaries(text, junk, max_size=3)).items():
        body.setdefault(key, value)
    return body


def outcome(fn, *args, **kwargs):
    """A comparable record of what a call did: errors by type and message."""
    try:
        result = fn(*args, **kwargs)
    except VisionTokensError as error:
        return ("error", type(error), str(error))
    images = tuple(i._replace(error=(type(i.error), str(i.error)) if i.error else None)
                   for i in result.images)
    return ("value", result._replace(images=images, violations=tuple(
        (type(v), str(v)) for v in result.violations)))


@given(body=bodies(), ascii_only=st.booleans(), separators=st.sampled_from([None, (",", ":")]))
@example(body={"model": "gpt-4o", "messages": [{"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": IMAGE_URLS[0]}}]}], "x": "\U0001F600 \u00e9 \ud800"},
    ascii_only=False, separators=None)
def test_bytes_and_text_count_as_the_dict(body, ascii_only, separators, walk):
    text_body = json.dumps(body, ensure_ascii=ascii_only, separators=separators)
    options = dict(on_unknown="upper_bound", on_violation="collect")
    expected = outcome(walk.count_request, json.loads(text_body), **options)
    assert outcome(walk.count_request, text_body, **options) == expected
    # a lone surrogate has no UTF-8 form: bytes holding one ('surrogatepass') are not UTF-8,
    # and the scan refuses them (RFC 8259 8.1), as the API does; escaped ("\\ud800") it counts
    raw = text_body.encode("utf-8", "surrogatepass")
    try:
        text_body.encode("utf-8")
    except UnicodeEncodeError:
        refused = outcome(walk.count_request, raw, **options)
        assert refused[:2] == ("error", visiontokens.MalformedRequestError)
        assert refused[2].startswith("the request body is not JSON: invalid UTF-8 at byte ")
        return
    assert outcome(walk.count_request, raw, **options) == expected
    assert outcome(walk.count_request, bytearray(raw), **options) == expected
    assert outcome(walk.count_request, memoryview(raw), **options) == expected


@pytest.mark.parametrize("raw", [
    b"", b"{", b"[1, 2", b'{"model": "gpt-4o", "input": "x"} trailing', b"\xff\xfe{}",
    b'{"a": "\\ud800"}',  # a lone surrogate: jiter refuses it, json.loads takes it
    b'{"model": "gpt-4o", "input": NaN}', b"null", b"42",
])
def test_bytes_errors_are_the_scans_or_the_dict_paths(raw, walk):
    """A bytes body the scan refuses (RFC 8259: NaN, a byte-order mark, bad UTF-8 are not
    JSON) has the scan's error, exactly; one it accepts counts as its json.loads value."""
    try:
        walk._scan.validate(raw)  # (the scan twin of the walk's own kind)
    except VisionTokensError as error:
        expected = ("error", type(error), str(error))
    else:
        expected = outcome(walk.count_request, json.loads(raw))
    assert outcome(walk.count_request, raw) == expected


def large_body(images: int = 4, each: int = 4_500_000) -> bytes:
    """A Chat body of about ``images`` x 6 MB: data-URL images whose payload is mostly noise
    after a real header, as a gateway sees with large photos."""
    rnd = random.Random(10)
    heads = [png_header(1920, 1080), jpeg_header(1800, 2400, sos=True), webp_header(1024, 768, "VP8L"),
             png_header(4000, 3000)]
    media = ["image/png", "image/jpeg", "image/webp", "image/png"]
    parts = [{"type": "text", "text": "Compare these."}] + [
        {"type": "image_url", "image_url": {
            "url": data_url(heads[k % 4] + rnd.randbytes(each), media[k % 4]), "detail": "high"}}
        for k in range(images)]
    return json.dumps({"model": "gpt-4.1-mini",
                       "messages": [{"role": "user", "content": parts}]}).encode()


def provider_body(api: str, images: int = 4, each: int = 1_500_000) -> bytes:
    """A body of about ``images`` x 4/3 ``each`` bytes whose images are raw base64 (a real
    header, then noise): an Anthropic Messages body, a Gemini one, or a Chat body sending
    the base64 alone (spec 6.1)."""
    rnd = random.Random(11)
    heads = [png_header(1920, 1080), jpeg_header(1800, 2400, sos=True),
             webp_header(1024, 768, "VP8L"), png_header(4000, 3000)]
    media = ["image/png", "image/jpeg", "image/webp", "image/png"]
    raws = [base64.b64encode(heads[k % 4] + rnd.randbytes(each)).decode() for k in range(images)]
    if api == "anthropic":
        body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{
            "role": "user", "content": [{"type": "text", "text": "Compare these."}] + [
                {"type": "image", "source": {"type": "base64", "media_type": media[k % 4],
                                             "data": raw}} for k, raw in enumerate(raws)]}]}
    elif api == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": "Compare these."}] + [
            {"inlineData": {"mimeType": media[k % 4], "data": raw}}
            for k, raw in enumerate(raws)]}]}
    else:
        body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": raw}} for raw in raws]}]}
    return json.dumps(body).encode()


@pytest.mark.parametrize("api", ["anthropic", "gemini", "chat raw base64"])
def test_raw_base64_images_are_read_where_they_lie(walk, api):
    """tracemalloc sees every Python allocation: counting a body whose four images are raw
    base64 allocates a small fraction of one image (each is a quarter of the body), in both
    twins. (Before the providers' bodies were scanned in place: the body's size again.)"""
    body = provider_body(api)
    n = len(body)
    options = {"model": "gemini-2.5-flash"} if api == "gemini" else {}
    walk.count_request(body, **options)  # imports and the model's record, before the baseline
    tracemalloc.start()
    try:
        result = walk.count_request(body, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [i.width for i in result.images] == [1920, 1800, 1024, 4000]
    assert peak <= 0.02 * n, f"body {n} B, peak while counting {peak} B"


def test_python_heap_peak_under_the_body_size():
    """tracemalloc sees Python's allocations: the parsed values (the data-URL strings are the
    bulk, about N) and nothing like a second copy."""
    body = large_body()
    n = len(body)
    tracemalloc.start()
    try:
        result = visiontokens.count_request(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.images) == 4
    assert n + peak <= 2.5 * n, f"body {n} B, peak while counting {peak} B"


PEAK_SCRIPT = textwrap.dedent("""
    import json, sys
    import visiontokens, jiter  # imported before the baseline is read
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    body = open(sys.argv[1], "rb").read()
    visiontokens.count_request(b'{"model": "gpt-4o", "input": "warm up"}')
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident size
    before = status("VmRSS")
    result = visiontokens.count_request(body)
    print(json.dumps({"n": len(body), "before": before, "peak": status("VmHWM"),
                      "images": len(result.images)}))
""")


def test_process_peak_under_two_and_a_half_times_the_body(tmp_path):
    """The whole process, Rust allocations included (tracemalloc cannot see jiter's): from
    the body alone in memory to the peak while counting it, at most 2.5 N in all."""
    path = tmp_path / "body.json"
    path.write_bytes(large_body())
    try:
        out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], check=True,
                             capture_output=True, text=True, timeout=120).stdout
    except subprocess.CalledProcessError as error:
        if "clear_refs" in error.stderr:
            pytest.skip("this kernel cannot reset the peak resident size")
        raise
    figures = json.loads(out)
    n, grown = figures["n"], figures["peak"] - figures["before"]
    assert figures["images"] == 4
    assert n + grown <= 2.5 * n, f"body {n} B, grew {grown} B while counting"
