"""Real servers for the integration tests: uvicorn on 127.0.0.1, a random port, in a thread.

``serve(app)`` starts an ASGI app under a real uvicorn server and stops it on exit;
``running(config)`` does so for ``visiontokens serve``'s app, with its lifespan (its counting
processes start before the first request and stop at the end);
``FakeOpenAI`` is an upstream that answers Chat Completions, Responses and Images API calls
(generations, edits) with minimal valid bodies and records what it received (the bytes' hash
and length, and the headers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from typing import Iterator


@contextlib.contextmanager
def serve(app, **config) -> Iterator[str]:
    """The base URL of ``app`` served by uvicorn on 127.0.0.1 until the block ends."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def running(config):
    """``visiontokens serve``'s app for ``config`` under uvicorn in a thread, with its lifespan:
    yields (base URL, app)."""
    import uvicorn

    from visiontokens.gateway.server import ServeApp

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = ServeApp(config)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


# a 1x1 PNG, base64: the "generated" image of the fake Images API
_ONE_PIXEL_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                  "hKmMIQAAAABJRU5ErkJggg==")


class FakeOpenAI:
    """A raw ASGI upstream standing in for the OpenAI API."""

    KEEP = 1 << 20

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.bodies: list[str] = []
        #: when set, Chat Completions answers bill this many image tokens
        #: (usage.prompt_tokens_details.image_tokens), as OpenAI reports them
        self.chat_image_tokens: int | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        digest, length, head = hashlib.sha256(), 0, bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            digest.update(chunk)
            length += len(chunk)
            if len(head) <= self.KEEP:
                head += chunk
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        record = {"path": scope["path"], "sha256": digest.hexdigest(), "length": length,
                  "headers": headers}
        self.received.append(record)
        if length <= self.KEEP:  # small bodies are kept whole, for tests to look into
            record = {**record, "body": bytes(head).decode("utf-8", "replace")}
            self.bodies.append(record["body"])
        answer = self.answer(scope["path"], {k: v for k, v in record.items() if k != "body"})
        body = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    def answer(self, path: str, record: dict) -> dict:
        usage: dict = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
        if self.chat_image_tokens is not None:
            usage = {"prompt_tokens": 10 + self.chat_image_tokens, "completion_tokens": 2,
                     "total_tokens": 12 + self.chat_image_tokens,
                     "prompt_tokens_details": {"cached_tokens": 0,
                                               "image_tokens": self.chat_image_tokens}}
        if path.endswith(("/images/generations", "/images/edits")):
            # one tiny generated image, as b64_json (what GPT Image models return)
            return {"created": 0, "data": [{"b64_json": _ONE_PIXEL_PNG}],
                    "usage": {"input_tokens": 10, "output_tokens": 272, "total_tokens": 282,
                              "input_tokens_details": {"image_tokens": 0, "text_tokens": 10}},
                    "received": record}
        if path.endswith("/v1/messages"):  # Anthropic's Messages API (a routed deployment)
            return {"id": "msg_fake", "type": "message", "role": "assistant",
                    "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 2}, "received": record}
        if path.endswith("/responses"):
            return {"id": "resp_fake", "object": "response", "created_at": 0, "status": "completed",
                    "model": "gpt-4o", "output": [{
                        "type": "message", "id": "msg_fake", "role": "assistant",
                        "status": "completed", "content": [
                            {"type": "output_text", "text": "ok", "annotations": []}]}],
                    "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12,
                              "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}},
                    "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                    "received": record}
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                "model": "gpt-4o", "choices": [{
                    "index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "ok"}}],
                "usage": usage, "received": record}
