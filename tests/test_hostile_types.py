"""Values of the wrong type where the walk reads a field, and the other defects of the
foundation review (issue 17): each test here failed before its fix."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys

import pytest

import visiontokens
from visiontokens._errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    MalformedRequestError,
    PayloadTooLargeError,
)

URL = "https://example.com/a.png"
UNHASHABLE = [[], {}, [{}], {"a": []}]


def bodies(kind):
    """(body, pointer of the bad 'type') for every place a part's type is looked up."""
    return [
        ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi"}, {"type": kind, "image_url": {"url": URL}}]}]},
         "/messages/0/content/1/type"),
        ({"model": "gpt-4o", "input": [{"role": "user", "content": [
            {"type": kind, "image_url": URL}]}]}, "/input/0/content/0/type"),
        ({"model": "gpt-4o", "input": [{"type": kind, "content": []}]}, "/input/0/type"),
        ({"model": "gpt-4o", "input": [{"type": "function_call_output", "call_id": "c",
                                        "output": [{"type": kind}]}]}, "/input/0/output/0/type"),
        ({"model": "gpt-4o", "prompt": {"id": "p", "variables": {"a/b": {"type": kind}}}},
         "/prompt/variables/a~1b/type"),
    ]


@pytest.mark.parametrize("kind", UNHASHABLE, ids=["list", "object", "list-of-object", "object-of-list"])
def test_an_unhashable_type_is_a_malformed_request(walk, kind):
    for body, pointer in bodies(kind):
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request(body)
        assert caught.value.pointer == pointer, body
        assert "'type' must be a string" in str(caught.value)


def test_a_null_type_is_still_no_image(walk):
    for body, _ in bodies(None):
        assert walk.count_request(body).images == ()


def test_under_the_middleware_an_unhashable_type_is_never_a_500():
    from visiontokens.asgi import ERROR_STATE_KEY, ImageTokenMiddleware

    import json

    seen = {}

    async def app(scope, receive, send):
        seen["error"] = scope["state"].get(ERROR_STATE_KEY)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    for body, _ in bodies([]):
        raw = json.dumps(body).encode()
        messages = [{"type": "http.request", "body": raw, "more_body": False}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/v1/responses", "headers": []}
        asyncio.run(ImageTokenMiddleware(app, reject_violations=True)(scope, receive, send))
        assert sent[0]["status"] in (200, 400)
        assert isinstance(seen.pop("error"), MalformedRequestError)


def test_a_list_among_batch_models_is_our_error():
    with pytest.raises(ArgumentTypeError) as caught:
        visiontokens.count_image_tokens_batch([512, 512], [512, 512], ["gpt-4o", ["x"]])
    assert caught.value.row == 1
    with pytest.raises(VisionTokensError_ := visiontokens.VisionTokensError):
        visiontokens.count_image_tokens_batch([512, 512], [512, 512], "gpt-4o", ["low", {}])
    del VisionTokensError_


def test_max_read_is_checked_for_every_source(parser):
    png = b"\x89PNG\r\n\x1a\n" + bytes(40)
    for source in (png, bytearray(png), memoryview(png), "data:image/png;base64,iVBORw0KGgo=",
                   io.BytesIO(png)):
        with pytest.raises(InvalidArgumentError) as caught:
            parser.image_info(source, max_read=0)
        assert caught.value.argument == "max_read" and not isinstance(caught.value, TypeError)
        with pytest.raises(ArgumentTypeError):
            parser.image_info(source, max_read="64")


def test_images_api_gets_enforce_patch_limit(walk, monkeypatch):
    """The Images API resolves its input model with the caller's enforce_patch_limit."""
    seen = []
    tokens = walk._LOWER.tokens
    real = tokens.get_model

    def spy(*args, **kwargs):
        seen.append(kwargs.get("enforce_patch_limit"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens, "get_model", spy)
    body = {"model": "gpt-image-1", "prompt": "x", "images": [{"image_url": URL}]}
    walk.count_request(body, on_unknown="upper_bound", enforce_patch_limit=False)
    assert False in seen


def test_an_assumed_image_model_has_an_upper_bound(walk):
    """An edit for an undocumented image model, counted like a documented one, of unknown
    size: a bound, not an error telling the caller to pass what they passed."""
    body = {"model": "gpt-image-1.5", "prompt": "x", "images": [{"image_url": URL}]}
    result = walk.count_request(body, undocumented="assume", on_unknown="upper_bound")
    assert result.upper_bound and result.image_tokens > 0 and not result.violations


class Endless(io.RawIOBase):
    """A stream of zeros that never ends, counting what it gave."""

    def __init__(self):
        self.given = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        size = len(buffer)
        buffer[:] = bytes(size)
        self.given += size
        return size


@pytest.mark.parametrize("command", ["request", "image"])
def test_the_cli_stops_reading_stdin_at_the_payload_limit(command, monkeypatch, capsys):
    from visiontokens.cli import main as cli

    monkeypatch.setattr(cli, "READ_LIMIT", 1 << 20)
    stream = Endless()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(stream)))
    argv = [command, "-"] + (["--model", "gpt-4o"] if command == "image" else [])
    assert cli.main(argv) == 1
    said = capsys.readouterr()
    assert "standard input holds more than 1048576 bytes" in said.out + said.err
    assert stream.given <= (1 << 20) + (2 << 20)  # the limit and a chunk, not forever


def test_the_cli_stops_reading_a_large_file(tmp_path, monkeypatch, capsys):
    from visiontokens.cli import main as cli

    path = tmp_path / "body.json"
    path.write_bytes(b" " * (3 << 20))
    monkeypatch.setattr(cli, "READ_LIMIT", 1 << 20)
    assert cli.main(["request", str(path)]) == 1
    assert "more than 1048576 bytes" in capsys.readouterr().err
    with pytest.raises(PayloadTooLargeError):
        cli.read_limited(io.BytesIO(bytes(100)), "x", limit=99)
    assert cli.read_limited(io.BytesIO(bytes(99)), "x", limit=99) == bytes(99)


def test_replay_releases_the_body_it_was_given():
    from visiontokens.asgi import _replay

    chunks = [b"a" * 1000, b"b" * 1000]

    async def receive():
        return {"type": "http.disconnect"}

    replay = _replay(chunks, receive, more=True)
    assert chunks == []  # cleared: the caller's list no longer holds the body
    # the app gets the chunks as they came, in order, each saying more follows (``more``)
    given = [asyncio.run(replay()) for _ in range(2)]
    assert [message["body"] for message in given] == [b"a" * 1000, b"b" * 1000]
    assert all(message["more_body"] is True for message in given)
    assert asyncio.run(replay()) == {"type": "http.disconnect"}
    # a body read whole: its last chunk says no more follows
    last = _replay([b"x", b"y"], receive, more=False)
    assert [asyncio.run(last())["more_body"] for _ in range(2)] == [True, False]


def test_the_pure_walk_is_pure_all_the_way_down():
    """The python request twin runs on the python parser, calculator and output twins in the
    same process as the compiled ones; no compiled function is called while it counts."""
    import base64

    from implementations import load_twin

    walk = load_twin("request", "python")
    assert {walk._header.IMPLEMENTATION, walk._tokens.IMPLEMENTATION,
            walk._output.IMPLEMENTATION} == {"python"}
    assert walk._LOWER.header is walk._header
    import zlib

    ihdr = b"IHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\r" + ihdr + zlib.crc32(ihdr).to_bytes(4, "big")
           + b"\x00\x00\x00\x00IDAT" + zlib.crc32(b"IDAT").to_bytes(4, "big"))
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    bodies = [
        {"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}]}]},
        {"model": "gpt-5", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": url}]}],
         "tools": [{"type": "image_generation", "model": "gpt-image-1"}]},
        {"model": "gpt-image-1", "prompt": "x", "images": [{"image_url": url}]},
    ]
    for body in bodies:
        walk.count_request(body)  # warm: models resolved, code loaded

    from visiontokens import _extensions

    compiled = [name for twin in ("header", "tokens", "output")
                for name in _extensions.TWINS[twin][0]]
    if not _extensions.use_extensions() or any(
            importlib.util.find_spec(f"visiontokens.{name}") is None for name in compiled):
        return  # a pure install: nothing compiled exists to be called
    # Every public callable of every compiled module replaced by a recorder: the pure walk
    # must reach none of them (a lower twin bound by the process's choice would).
    called = []
    patch = pytest.MonkeyPatch()
    # every compiled module imported before any is patched: one cimports another's types
    modules = {name: __import__(f"visiontokens.{name}", fromlist=["_"]) for name in compiled}
    try:
        for module_name, module in modules.items():
            for attribute in dir(module):
                value = getattr(module, attribute)
                if attribute.startswith("__") or not callable(value):
                    continue

                def recorder(*args, _where=f"{module_name}.{attribute}", _real=value, **kwargs):
                    called.append(_where)
                    return _real(*args, **kwargs)

                patch.setattr(module, attribute, recorder)
        for body in bodies:
            walk.count_request(body)
        assert called == []
        load_twin("header", "cython").image_info(url)  # the check can fail: a call is seen
        assert called == ["images._header_c.image_info"]
    finally:
        patch.undo()
