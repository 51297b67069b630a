"""Writes the bundled examples: small images, request bodies of every API format, and logs.

Every image is a flat colour, so each file is a few KB whatever its size in pixels: what the
examples count is read from the headers. The output is deterministic, so running this again
leaves the committed files unchanged (Pillow's encoders permitting).

Run from the repository root (needs Pillow, and visiontokens importable: the logs that carry
usage hold real counts from the library): PYTHONPATH=src python examples/make_examples.py
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


    write_billed_logs(png, data_url(files["photo.jpg"], "image/jpeg"),
                      data_url(files["diagram.webp"], "image/webp"))


def chat_body(model: str, url: str, detail: str | None = None) -> dict[str, object]:
    part: dict[str, object] = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": part}]}]}


def chat_usage(image_tokens: int, text_tokens: int = 14, completion: int = 60) -> dict[str, object]:
    prompt = image_tokens + text_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0,
                                      "image_tokens": image_tokens},
            "completion_tokens_details": {"reasoning_tokens": 0}}


def responses_usage(image_tokens: int, text_tokens: int = 12) -> dict[str, object]:
    # the Responses API reports its input total only: images are not broken out
    return {"input_tokens": image_tokens + text_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 48, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": image_tokens + text_tokens + 48}


def images_usage(image_tokens: int, output_tokens: int, text_tokens: int = 9) -> dict[str, object]:
    return {"input_tokens": image_tokens + text_tokens, "output_tokens": output_tokens,
            "total_tokens": image_tokens + text_tokens + output_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens}}


def write_jsonl(name: str, lines: list[object]) -> None:
    with open(HERE / name, "w", encoding="utf-8") as file:
        for line in lines:
            file.write(json.dumps(line, separators=(",", ":")) + "\n")


def write_billed_logs(png, photo: str, diagram: str) -> None:  # type: ignore[no-untyped-def]
    """A Batch API input file and its output file, and a gateway's log of requests with their
    responses. The billed figures are our counts, except a few differences put there on
    purpose (marked below), so that ``visiontokens logs`` has drift to show."""
    import visiontokens as vt

    screenshot = png("screenshot.png")
    edit = {"model": "gpt-image-1", "prompt": "add a lighthouse", "size": "1024x1024",
            "quality": "medium", "images": [{"image_url": png("edit-a.png")}]}
    # custom_id, url, body, how the bill differs from our count (None: the request failed)
    batch = [
        ("req-1", "/v1/chat/completions", chat_body("gpt-4o", screenshot, "high"), 0),
        ("req-2", "/v1/chat/completions", chat_body("gpt-4.1-mini", screenshot), 37),  # drift
        ("req-3", "/v1/chat/completions", chat_body("gpt-5.4", png("scan.png"), "high"), 0),
        ("req-4", "/v1/chat/completions", chat_body("gpt-4o", photo, "low"), 0),
        ("req-5", "/v1/responses", {"model": "gpt-5.4", "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "Describe the diagram."},
            {"type": "input_image", "image_url": diagram, "detail": "high"}]}]}, 0),
        ("req-6", "/v1/images/generations", {"model": "gpt-image-1", "prompt": "a lighthouse",
                                             "size": "1024x1024", "quality": "medium"}, 0),
        ("req-7", "/v1/images/edits", edit, -129),  # drift: one tile fewer billed
        ("req-8", "/v1/chat/completions", chat_body("gpt-4o-mini", photo, "high"), None),
        ("req-9", "/v1/chat/completions", chat_body("gpt-5.4", screenshot, "high"), 0),
    ]
    inputs, outputs = [], []
    for number, (custom_id, url, body, drift) in enumerate(batch, 1):
        inputs.append({"custom_id": custom_id, "method": "POST", "url": url, "body": body})
        if custom_id == "req-9":
            continue  # its output line is missing: the batch was cancelled before it ran
        if drift is None:
            outputs.append({"id": f"batch_req_{number:03d}", "custom_id": custom_id,
                            "response": None, "error": {"code": "rate_limit_exceeded",
                                                        "message": "Rate limit reached"}})
            continue
        count = vt.count_request(body, api={"/v1/chat/completions": "chat",
                                            "/v1/responses": "responses",
                                            "/v1/images/generations": "images.generations",
                                            "/v1/images/edits": "images.edits"}[url])
        if url == "/v1/chat/completions":
            usage = chat_usage(count.image_tokens + drift)
        elif url == "/v1/responses":
            usage = responses_usage(count.image_tokens + drift)
        else:
            usage = images_usage(count.image_tokens + drift, count.output_image_tokens)
        outputs.append({"id": f"batch_req_{number:03d}", "custom_id": custom_id,
                        "response": {"status_code": 200, "request_id": f"req_{number:03d}",
                                     "body": {"model": body["model"], "usage": usage}},
                        "error": None})
    write_jsonl("batch_input.jsonl", inputs)
    write_jsonl("batch_output.jsonl", outputs)

    # A gateway's log: each request beside the response it got.
    pairs = []
    for body, drift in [(chat_body("gpt-4o", screenshot, "high"), 0),
                        (chat_body("gpt-5.4", photo), 0),
                        (chat_body("gpt-4.1-mini", png("scan.png"), "high"), 36),  # drift
                        (chat_body("gpt-4o", photo, "low"), 0)]:
        count = vt.count_request(body)
        pairs.append({"request": body, "response": {
            "id": "chatcmpl-example", "object": "chat.completion", "model": body["model"],
            "usage": chat_usage(count.image_tokens + drift)}})
    pairs.append({"request": chat_body("gpt-4o", screenshot), "response": {
        "error": {"message": "The server had an error", "type": "server_error"}}})
    write_jsonl("logged_pairs.jsonl", pairs)


if __name__ == "__main__":
    main()
