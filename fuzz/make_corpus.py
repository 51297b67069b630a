"""Writes the seed corpus: fuzz/corpus/<target>/<name>, small files (each well under 4 KB).

    python fuzz/make_corpus.py

Seeds are the shapes each target should start mutating from: real tiny images from Pillow
in every format the API takes (and a few it refuses), headers at the edges the parsers walk,
data URLs, and Chat and Responses bodies with images in every place they sit. Inputs a
fuzzer found are added by hand under their own names and never rewritten by this script.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).parent / "corpus"


def pillow(fmt: str, size=(6, 4), frames=1, mode="RGB", **save) -> bytes:
    images = [Image.new(mode, size, (i * 60 % 256, 20, 200) if mode == "RGB" else i * 60 % 256)
              for i in range(frames)]
    out = io.BytesIO()
    if frames > 1:
        save.update(save_all=True, append_images=images[1:], duration=40)
    images[0].save(out, fmt, **save)
    return out.getvalue()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload))


def images() -> dict[str, bytes]:
    png_head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1920, 1080, 8, 2, 0, 0, 0))
    sof = b"\xff\xc0\x00\x11\x08\x09\x60\x07\x08\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    gif_head = b"GIF89a" + struct.pack("<HHBBB", 640, 480, 0x80, 0, 0) + bytes(6)
    gif_frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 640, 480, 0) + b"\x02\x02\x44\x01\x00"
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x02\x00\x00\x00" + (4095).to_bytes(3, "little") \
        + (2047).to_bytes(3, "little")
    return {
        "png": pillow("PNG"),
        "png-palette-interlaced": pillow("PNG", mode="P", interlace=1),
        "apng": pillow("PNG", frames=2),
        "jpeg": pillow("JPEG"),
        "jpeg-progressive": pillow("JPEG", progressive=True),
        "gif": pillow("GIF"),
        "gif-animated": pillow("GIF", frames=2),
        "webp-lossy": pillow("WEBP"),
        "webp-lossless": pillow("WEBP", lossless=True),
        "webp-animated": pillow("WEBP", frames=2),
        "png-header-text-before-idat": png_head + chunk(b"tEXt", b"k\x00v") + chunk(b"IDAT", b"\x00"),
        "png-actl-after-idat": png_head + chunk(b"IDAT", b"\x00") + chunk(b"acTL", bytes(8)),
        "jpeg-app-segments-fill-bytes": b"\xff\xd8\xff\xe0\x00\x04ab\xff\xff\xff\xfe\x00\x03c" + sof,
        "jpeg-dht-before-sof2": b"\xff\xd8\xff\xc4\x00\x03\x00" + sof.replace(b"\xc0", b"\xc2", 1),
        "jpeg-rst-and-stray-bytes": b"\xff\xd8\xff\xd0\x00\x00\xff\xe1\x00\x02" + sof,
        "gif-two-frames-extensions": gif_head + b"\x21\xf9\x04\x00\x00\x00\x00\x00" + gif_frame * 2 + b"\x3b",
        "gif-no-trailer": gif_head + gif_frame,
        "gif-one-byte-sub-blocks": gif_head + gif_frame[:-3] + b"\x02" + b"\x01\x00" * 200 + b"\x00\x3b",
        "webp-vp8x-animated": b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x,
        "bmp": pillow("BMP"),
        "tiff": pillow("TIFF"),
        "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4"/>',
        "heic-ftyp": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        "empty": b"",
    }


def data_urls(pictures: dict[str, bytes]) -> dict[str, bytes]:
    """Seeds for the data_url target: the first byte picks the mode (see fuzz_targets.data_url)."""
    seeds = {}
    for name in ("png", "jpeg", "gif", "webp-lossy", "jpeg-app-segments-fill-bytes"):
        seeds[f"encoded-{name}"] = b"\x00" + pictures[name]
        url = "image/png;base64," + base64.b64encode(pictures[name]).decode()
        seeds[f"raw-{name}"] = b"\x01" + url.encode()
        seeds[f"flipped-{name}"] = b"\x02" + pictures[name]
    seeds["raw-padding-inside"] = b"\x01image/gif;base64,R0lG=ODlh"
    seeds["raw-not-base64"] = b"\x01image/png,%89PNG"
    seeds["raw-text-type"] = b"\x01text/plain;base64,aGVsbG8="
    seeds["raw-uppercase"] = b"\x01IMAGE/PNG;BASE64,iVBORw0KGgo="
    return seeds


def requests(pictures: dict[str, bytes]) -> dict[str, bytes]:
    """Seeds for the request target: JSON bodies after a mode byte (0-2: the body itself)."""
    png = "data:image/png;base64," + base64.b64encode(pictures["png"]).decode()
    gif = "data:image/gif;base64," + base64.b64encode(pictures["gif-animated"]).decode()
    chat = {"model": "gpt-4.1-mini", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": png, "detail": "high"}},
            {"type": "image_url", "image_url": "https://example.com/cat.png"},
            {"type": "image_url", "image_url": {"url": gif}}]}]}
    responses = {"model": "gpt-6-astra", "input": [
        {"role": "user", "content": [
            {"type": "input_text", "text": "Compare."},
            {"type": "input_image", "image_url": png, "detail": "original"},
            {"type": "input_image", "file_id": "file-abc123"}]},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_image", "image_url": png, "detail": "low"}]},
        {"type": "computer_call_output", "call_id": "c2", "output": {
            "type": "computer_screenshot", "image_url": png}}]}
    raw = base64.b64encode(pictures["png"]).decode()
    anthropic = {"model": "claude-sonnet-4-5", "max_tokens": 64, "system": "Be brief.",
                 "messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What is this?"},
                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                  "data": raw}},
                     {"type": "tool_result", "tool_use_id": "t1", "content": [
                         {"type": "image", "source": {"type": "url",
                                                      "url": "https://example.com/cat.png"}}]}]}]}
    gemini = {"model": "gemini-2.5-flash", "contents": [{"role": "user", "parts": [
        {"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": raw}},
        {"inline_data": {"mime_type": "image/gif", "data": base64.b64encode(
            pictures["gif-animated"]).decode()}, "mediaResolution": {"level": "MEDIA_RESOLUTION_LOW"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/a.png"}}]}],
        "generationConfig": {"mediaResolution": "MEDIA_RESOLUTION_MEDIUM"}}
    malformed = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": 5}}]}]}
    seeds = {
        "chat": b"\x00" + json.dumps(chat).encode(),
        "chat-collect-upper-bound": b"\x0c" + json.dumps(chat).encode(),
        "responses": b"\x04" + json.dumps(responses).encode(),
        "responses-tile-model": b"\x08" + json.dumps({**responses, "model": "gpt-4o"}).encode(),
        "malformed": b"\x00" + json.dumps(malformed).encode(),
        "deep-nesting": b"\x00" + b'{"model":"gpt-4o","messages":' + b"[" * 2000 + b"]" * 2000 + b"}",
        "not-json": b"\x01{\"model\": \"gpt-4o\", \"messages\": [",
        "anthropic": b"\x00" + json.dumps(anthropic).encode(),
        "gemini": b"\x04" + json.dumps(gemini).encode(),
        "image-png": b"\x03" + pictures["png"],
        "image-jpeg": b"\x07" + pictures["jpeg"],
        "image-gif-animated": b"\x0f" + pictures["gif-animated"],
    }
    seeds.update(wrong_types())
    return seeds


#: Values of every JSON type but the one a field wants: a list or an object where a str is
#: read was a bare TypeError once ({"type": []} as a dict key: unhashable).
WRONG = {"list": [], "object": {}, "number": 7, "null": None, "bool": True, "string": "x",
         "list-of-object": [{}]}


def wrong_types() -> dict[str, bytes]:
    """Seeds for the request target: a small body of each part type, with each field the walk
    reads given a value of each wrong type."""
    url = "https://example.com/a.png"
    templates = {
        # (name, body maker taking the wrong value)
        "chat-part-type": lambda v: {"model": "gpt-4o", "messages": [
            {"role": "user", "content": [{"type": v, "image_url": {"url": url}}]}]},
        "chat-image-url": lambda v: {"model": "gpt-4o", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": v}]}]},
        "chat-url": lambda v: {"model": "gpt-4o", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": v}}]}]},
        "chat-detail": lambda v: {"model": "gpt-4o", "messages": [
            {"role": "user", "content": [{"type": "image_url",
                                          "image_url": {"url": url, "detail": v}}]}]},
        "chat-content": lambda v: {"model": "gpt-4o", "messages": [{"role": "user", "content": v}]},
        "chat-messages": lambda v: {"model": "gpt-4o", "messages": v},
        "chat-model": lambda v: {"model": v, "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]},
        "responses-item-type": lambda v: {"model": "gpt-4o", "input": [{"type": v, "content": []}]},
        "responses-part-type": lambda v: {"model": "gpt-4o", "input": [
            {"role": "user", "content": [{"type": v, "image_url": url}]}]},
        "responses-image-url": lambda v: {"model": "gpt-4o", "input": [
            {"role": "user", "content": [{"type": "input_image", "image_url": v}]}]},
        "responses-file-id": lambda v: {"model": "gpt-4o", "input": [
            {"role": "user", "content": [{"type": "input_image", "file_id": v}]}]},
        "responses-detail": lambda v: {"model": "gpt-4o", "input": [
            {"role": "user", "content": [{"type": "input_image", "image_url": url, "detail": v}]}]},
        "responses-output": lambda v: {"model": "gpt-4o", "input": [
            {"type": "function_call_output", "call_id": "c", "output": v}]},
        "responses-output-part-type": lambda v: {"model": "gpt-4o", "input": [
            {"type": "function_call_output", "call_id": "c", "output": [{"type": v}]}]},
        "responses-screenshot": lambda v: {"model": "gpt-4o", "input": [
            {"type": "computer_call_output", "call_id": "c", "output": v}]},
        "responses-input": lambda v: {"model": "gpt-4o", "input": v},
        "prompt": lambda v: {"model": "gpt-4o", "prompt": v},
        "prompt-variables": lambda v: {"model": "gpt-4o", "prompt": {"id": "p", "variables": v}},
        "prompt-variable-type": lambda v: {"model": "gpt-4o", "prompt": {"id": "p", "variables": {
            "a": {"type": v, "image_url": url}}}},
        "tools-type": lambda v: {"model": "gpt-4o", "input": "x", "tools": [{"type": v}]},
        "tools-model": lambda v: {"model": "gpt-4o", "input": "x", "tools": [
            {"type": "image_generation", "model": v}]},
        "images-edit-images": lambda v: {"model": "gpt-image-1", "prompt": "x", "images": v},
        "images-edit-image-url": lambda v: {"model": "gpt-image-1", "prompt": "x",
                                            "images": [{"image_url": v}]},
        "images-size": lambda v: {"model": "gpt-image-1", "prompt": "x", "size": v},
    }
    seeds = {}
    for name, make in templates.items():
        for kind, value in WRONG.items():
            seeds[f"wrong-{name}-{kind}"] = b"\x04" + json.dumps(make(value)).encode()
    return seeds


def scans(pictures: dict[str, bytes]) -> dict[str, bytes]:
    """Seeds for the scan target: JSON bodies as they are, valid and not."""
    png = "data:image/png;base64," + base64.b64encode(pictures["png"]).decode()
    chat = {"model": "gpt-4.1-mini", "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is this? \u00e9\u6f22\U0001F600 \"quoted\"\n"},
            {"type": "image_url", "image_url": {"url": png, "detail": "high"}}]}]}
    long_url = "data:image/png;base64," + "A" * 1100  # a BodyString (1,024 bytes or more)
    return {
        "chat": json.dumps(chat).encode(),
        "chat-raw-utf8": json.dumps(chat, ensure_ascii=False, indent=1).encode(),
        "long-string": json.dumps({"input": [{"image_url": long_url}]}).encode(),
        "dense": b'{"model":"gpt-4o","messages":[' + b",".join([b"{}"] * 300) + b"]}",
        "depth-200": b"[" * 200 + b"]" * 200,
        "depth-201": b"[" * 201 + b"]" * 201,
        "numbers": b"[0,-0,1.5e-3,1E+400,123456789012345678901234567890,-0.0,1e2,01,1.,-]",
        "escapes": b'{"k\\u0061":"\\ud800\\udc00\\ud83d\\u0041\\/\\b\\f\\t","ka":1,"ka":2}',
        "bad-utf8": b'{"a":"\xed\xa0\x80\xc0\x80\xf4\x90\x80\x80"}',
        "not-rfc": b'[NaN, Infinity, -Infinity, "\x01", \xef\xbb\xbf]',
        "truncated": json.dumps(chat).encode()[:300],
        # across a BodyBuffer's 4 KB blocks: plain ones, an escape at a block's edge, a plain
        # run outside any string
        "blocks": b'["' + b"QA/+" * 1023 + b'\\"' + b"Q" * 5000 + b'", 1]',
        "blocks-outside": b"[1, " + b"Q" * 9000 + b"]",
    }


def main() -> None:
    pictures = images()
    for target, seeds in (("image_bytes", pictures), ("data_url", data_urls(pictures)),
                          ("request", requests(pictures)), ("scan", scans(pictures))):
        folder = HERE / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            # small seeds, but for the scan's, which may span a BodyBuffer's 4 KB blocks
            assert len(data) < (12288 if target == "scan" else 4096), (target, name, len(data))
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds in {folder}")


if __name__ == "__main__":
    main()
