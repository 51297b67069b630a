"""Writes examples/chat_request.json: a Chat Completions request with three embedded images.

The images are flat colours, so the file stays small; their headers are what count.
Run from the repository root: python examples/make_chat_request.py
"""

import base64
import io
import json

from PIL import Image


def data_url(size, fmt, media_type, **save):
    out = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(out, fmt, **save)
    return f"data:{media_type};base64,{base64.b64encode(out.getvalue()).decode()}"


request = {
    "model": "gpt-4.1-mini",
    "messages": [
        {"role": "system", "content": "You describe screenshots and photos."},
        {"role": "user", "content": [
            {"type": "text", "text": "What differs between these three images?"},
            {"type": "image_url", "image_url": {"url": data_url((1920, 1080), "PNG", "image/png"),
                                                "detail": "high"}},
            {"type": "image_url", "image_url": {"url": data_url((1800, 2400), "JPEG", "image/jpeg")}},
            {"type": "image_url", "image_url": {"url": data_url((1024, 768), "WEBP", "image/webp"),
                                                "detail": "low"}},
        ]},
    ],
}

with open("examples/chat_request.json", "w") as file:
    json.dump(request, file, indent=1)
