"""Writes the bundled examples: small images, request bodies of every API format, and logs.

Every image is a flat colour, so each file is a few KB whatever its size in pixels: what the
examples count is read from the headers. The output is deterministic, so running this again
leaves the committed files unchanged (Pillow's encoders permitting).

Run from the repository root (needs Pillow): python examples/make_examples.py
"""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
BOUNDARY = "visiontokens-example-boundary"


def encoded(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def chat_image(size: tuple[int, int], fmt: str, media_type: str, **save: object) -> str:
    """The images of chat_request.json, exactly as its first version made them."""
    return data_url(encoded(Image.new("RGB", size, (40, 90, 160)), fmt, **save), media_type)


def write_images() -> dict[str, bytes]:
    """examples/images/: the files the docs open by name."""
    IMAGES.mkdir(exist_ok=True)
    clip = [Image.new("P", (320, 240), colour) for colour in (1, 2, 3)]
    for frame, colour in zip(clip, ((200, 60, 40), (40, 160, 60), (40, 60, 200))):
        frame.putpalette(list(colour) * 256)
    gif = io.BytesIO()
    clip[0].save(gif, "GIF", save_all=True, append_images=clip[1:], duration=200, loop=0)
    files = {
        "screenshot.png": encoded(Image.new("P", (1920, 1080), 0), "PNG", optimize=True),
        "photo.jpg": encoded(Image.new("L", (1200, 1600), 120), "JPEG", quality=5, optimize=True),
        "scan.png": encoded(Image.new("1", (1700, 2200), 1), "PNG", optimize=True),
        "diagram.webp": encoded(Image.new("RGB", (1024, 768), (240, 240, 250)), "WEBP"),
        "clip.gif": gif.getvalue(),
        "edit-a.png": encoded(Image.new("RGB", (300, 200), (10, 20, 30)), "PNG"),
        "edit-b.png": encoded(Image.new("RGB", (256, 256), (10, 20, 30)), "PNG"),
        "mask.png": encoded(Image.new("RGBA", (300, 200), (0, 0, 0, 0)), "PNG"),
    }
    for name, data in files.items():
        (IMAGES / name).write_bytes(data)
    return files


def write_json(name: str, body: object, newline: bool = True) -> None:
    with open(HERE / name, "w", encoding="utf-8") as file:
        json.dump(body, file, indent=1)
        if newline:
            file.write("\n")


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> bytes:
    """A multipart/form-data body as the openai SDK sends an images.edit call."""
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                  f"{value}\r\n".encode())
    for name, filename, data in files:
        out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                  f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode())
        out.write(data + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def main() -> None:
    files = write_images()
    def png(name: str) -> str:
        return data_url(files[name], "image/png")

    # The README's first command counts this one (kept byte for byte as it always was).
    write_json("chat_request.json", {
        "model": "gpt-4.1-mini",
        "messages": [
            {"role": "system", "content": "You describe screenshots and photos."},
            {"role": "user", "content": [
                {"type": "text", "text": "What differs between these three images?"},
                {"type": "image_url", "image_url": {
                    "url": chat_image((1920, 1080), "PNG", "image/png"), "detail": "high"}},
                {"type": "image_url", "image_url": {
                    "url": chat_image((1800, 2400), "JPEG", "image/jpeg")}},
                {"type": "image_url", "image_url": {
                    "url": chat_image((1024, 768), "WEBP", "image/webp"), "detail": "low"}},
            ]},
        ],
    }, newline=False)

    # A Responses request: an embedded image and a Files API id (resolve_file= sizes it).
    write_json("responses_request.json", {
        "model": "gpt-5.4",
        "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "Summarise the scanned page and the diagram."},
            {"type": "input_image", "image_url": data_url(files["diagram.webp"], "image/webp"),
             "detail": "high"},
            {"type": "input_image", "file_id": "file-scan-001", "detail": "high"},
        ]}],
    })

    # The Images API: a generation, and an edit as JSON and as the SDK's multipart form.
    write_json("images_generation.json", {
        "model": "gpt-image-1", "prompt": "a lighthouse at dusk", "size": "1024x1536",
        "quality": "high", "n": 2})
    write_json("images_edit.json", {
        "model": "gpt-image-1", "prompt": "add a lighthouse", "input_fidelity": "high",
        "size": "1024x1024", "quality": "medium",
        "images": [{"image_url": png("edit-a.png")}, {"image_url": png("edit-b.png")}]})
    (HERE / "images_edit.multipart").write_bytes(multipart(
        {"model": "gpt-image-1", "prompt": "add a lighthouse", "n": "2", "input_fidelity": "high",
         "partial_images": "1"},
        [("image[]", "edit-a.png", files["edit-a.png"]), ("image[]", "edit-b.png", files["edit-b.png"]),
         ("mask", "mask.png", files["mask.png"])]))

    # An Anthropic Messages request: a base64 image, an image returned by a tool, and an
    # image inside a document with a content source.
    def b64(name: str) -> str:
        return base64.b64encode(files[name]).decode()

    write_json("anthropic_messages.json", {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You describe screenshots and photos.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What does this screen show?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": b64("screenshot.png")}}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_01", "name": "take_photo", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                                 "data": b64("photo.jpg")}}]},
                {"type": "document", "source": {"type": "content", "content": [
                    {"type": "text", "text": "Figure 1"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": b64("edit-a.png")}}]}}]},
        ],
    })

    # A Gemini generateContent request: its model is in the URL path, not the body
    # (visiontokens request --model gemini-2.5-flash). camelCase, as the SDK sends it.
    write_json("gemini_generate_content.json", {
        "contents": [{"role": "user", "parts": [
            {"text": "Compare the diagram and the screenshot."},
            {"inlineData": {"mimeType": "image/webp", "data": b64("diagram.webp")}},
            {"inlineData": {"mimeType": "image/png", "data": b64("screenshot.png")}},
        ]}],
        "generationConfig": {"mediaResolution": "MEDIA_RESOLUTION_MEDIUM"},
    })

    # A request log: one body per line, as a gateway writes them.
    lines = [
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What does this screen show?"},
            {"type": "image_url", "image_url": {"url": png("screenshot.png"), "detail": "high"}}]}]},
        {"model": "gpt-5.4", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": png("scan.png"), "detail": "high"}]}]},
        {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://images.example.com/cat.png"}}]}]},
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": png("screenshot.png"), "detail": "low"}}]}]},
    ]
    with open(HERE / "requests.jsonl", "w", encoding="utf-8") as file:
        for line in lines:
            file.write(json.dumps(line, separators=(",", ":")) + "\n")

    # A table of images, one per row, as an analytics export holds them.
    with open(HERE / "images.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["width", "height", "model", "detail"])
        writer.writerows([
            (1024, 768, "gpt-4o", "high"), (1920, 1080, "gpt-4.1-mini", "auto"),
            (4096, 512, "gpt-4o", "high"), (800, 600, "gpt-5.4", "low"),
            (1800, 2400, "gpt-5.4", "high"), (640, 480, "gpt-4o-mini", "low"),
        ])


if __name__ == "__main__":
    main()
