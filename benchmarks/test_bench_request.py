"""count_request speed: a body with four data-URL images, against decoding each image whole.

Targets (issue 5): a Chat body (a dict) with a small PNG, a 1800x2400 JPEG with a 40 KB ICC
profile, an uncompressed 1920x1080 PNG and a WebP: <= 10 us a request (checked as <= 250x a
math.gcd call measured in the same run), and >= 500x faster
than decoding each image whole; the same in the Responses shape.
"""

from __future__ import annotations

import base64
import io
import math

import pytest
from benchutil import per_call_ns
from headers import data_url, pillow_image
from implementations import KINDS, load_twin

import visiontokens

ICC = bytes(range(256)) * 160  # 40 KB
_images: dict[str, tuple[bytes, str]] = {}


def images() -> dict[str, tuple[bytes, str]]:
    if not _images:
        _images.update({
            "small png": (pillow_image("PNG", (64, 48)), "image/png"),
            "jpeg": (pillow_image("JPEG", (1800, 2400), icc_profile=ICC), "image/jpeg"),
            "raw png": (pillow_image("PNG", (1920, 1080), compress_level=0), "image/png"),
            "webp": (pillow_image("WEBP", (1024, 768)), "image/webp"),
        })
    return _images


def chat_body() -> dict:
    parts = [{"type": "text", "text": "Compare these."}] + [
        {"type": "image_url", "image_url": {"url": data_url(data, media), "detail": "high"}}
        for data, media in images().values()]
    return {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": parts}]}


def responses_body() -> dict:
    parts = [{"type": "input_text", "text": "Compare these."}] + [
        {"type": "input_image", "image_url": data_url(data, media), "detail": "high"}
        for data, media in images().values()]
    return {"model": "gpt-4.1-mini", "input": [{"role": "user", "content": parts}]}


def decode_whole(body: dict) -> int:
    """The peer: decode every data URL and every image in full, as a naive counter would."""
    from PIL import Image

    total = 0
    for part in body["messages"][0]["content"][1:]:
        url = part["image_url"]["url"]
        with Image.open(io.BytesIO(base64.b64decode(url[url.index(",") + 1:]))) as image:
            image.load()
            total += visiontokens.count_image_tokens(*image.size, body["model"], "high")
    return total


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", ["chat", "responses"])
def test_count_request(benchmark, shape, kind):
    benchmark.group = "request: 4 data-URL images"
    walk = load_twin("request", kind)  # the compiled walk and its pure twin, side by side
    body = chat_body() if shape == "chat" else responses_body()
    assert walk.count_request(body).image_tokens == decode_whole(chat_body())
    benchmark(walk.count_request, body)


def test_decode_whole(benchmark):
    benchmark.group = "request: 4 data-URL images"
    benchmark.pedantic(decode_whole, (chat_body(),), rounds=5, iterations=1)


def test_request_ratios(measured):
    count_request = load_twin("request", "cython").count_request
    chat, responses = chat_body(), responses_body()
    # Interleaved rounds, best of each: the floor and the walks see the same machine (it is
    # shared, and a floor taken once, after the walks, moved the ratio by 2x under load).
    ours = ours_responses = floor = math.inf
    for _ in range(3):
        floor = min(floor, per_call_ns(math.gcd, 1920, 1080, number=100000, repeat=3))
        ours = min(ours, per_call_ns(count_request, chat, number=5000, repeat=3))
        ours_responses = min(ours_responses, per_call_ns(count_request, responses, number=5000,
                                                         repeat=3))
    peer = per_call_ns(decode_whole, chat, number=3, repeat=5)
    print(f"\ncount_request: chat {ours / 1000:.2f} us, responses {ours_responses / 1000:.2f} us "
          f"({ours / floor:.0f}x and {ours_responses / floor:.0f}x math.gcd, {floor:.0f} ns); "
          f"decoding whole {peer / 1000:.0f} us ({peer / ours:.0f}x)")
    # issue 5's 10 us a request, as a ratio to a floor measured in the same run (gcd ~40 ns)
    assert peer >= 500 * ours and peer >= 500 * ours_responses
    # (An expected failure while it was at the edge, 2026-12-04: 143-320x with the machine
    # shared and loaded. Since the walk's rework, on this machine otherwise idle: 170-195x in
    # five runs and three CI runs of 2026-12-05 and 2026-12-06, so an assertion again.)
    assert ours <= 250 * floor and ours_responses <= 250 * floor


# --- raw bytes (issue 10): count_request(bytes) against json.loads and jiter.from_json ----------
# Targets: on a 24 MB Chat body holding four large data-URL images, count_request(bytes) is
# >= 5x faster than json.loads alone and within 1.5x of jiter.from_json alone, in one run.

from pathlib import Path  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chat_request.json"
_bodies: dict[str, bytes] = {}


def raw_body(name: str) -> bytes:
    if name not in _bodies:
        if name == "24 MB, 4 images":
            from test_request_bytes import large_body

            _bodies[name] = large_body()
        else:
            _bodies[name] = EXAMPLE.read_bytes()
    return _bodies[name]


def _parsers():
    import json

    import jiter

    return {"json.loads": json.loads, "jiter.from_json": jiter.from_json,
            "count_request": load_twin("request", "cython").count_request}


@pytest.mark.parametrize("body", ["24 MB, 4 images", "bundled example"])
@pytest.mark.parametrize("what", ["json.loads", "jiter.from_json", "count_request"])
def test_raw_bytes(benchmark, body, what):
    benchmark.group = f"request bytes: {body}"
    data = raw_body(body)
    fn = _parsers()[what]
    if body == "24 MB, 4 images":
        benchmark.pedantic(fn, (data,), rounds=7, iterations=3)
    else:
        benchmark(fn, data)


def test_raw_bytes_ratios(measured):
    fns = _parsers()
    for body, number in (("24 MB, 4 images", 3), ("bundled example", 200)):
        data = raw_body(body)
        times = {name: per_call_ns(fn, data, number=number, repeat=7) for name, fn in fns.items()}
        ours, peer, floor = times["count_request"], times["json.loads"], times["jiter.from_json"]
        print(f"\n{body} ({len(data)} B): count_request {ours / 1e6:.2f} ms, json.loads "
              f"{peer / 1e6:.2f} ms ({peer / ours:.1f}x), jiter.from_json {floor / 1e6:.2f} ms "
              f"(ours = {ours / floor:.2f}x)")
        if body == "24 MB, 4 images":
            assert peer >= 5 * ours and ours <= 1.5 * floor
