"""nginx + njs in front of a fake provider, asking ``visiontokens serve`` about every request
(issue 20): all three started by the test on 127.0.0.1, nginx with exactly the configuration and
script shipped in examples/gateways/nginx/ (only their addresses changed).

client (httpx) -> nginx (njs: POST /v1/check to serve) -> the fake provider (uvicorn).
Over-budget and refused requests never reach the provider; accepted ones reach it byte for
byte, with the count headers; the refusals come back in the provider's error shape.

Needs Debian's ``nginx`` and ``libnginx-mod-http-js`` (CI installs them); skipped without.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from headers import data_url, gif_header, jpeg_header, png_header
from servers import FakeOpenAI, serve

pytest.importorskip("uvicorn", reason="uvicorn is in the serve and test extras")

import visiontokens  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateways" / "nginx"
NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
if NGINX is None or not os.path.exists(NJS_MODULE):
    pytest.skip("nginx with njs is not installed (Debian: apt-get install nginx "
                "libnginx-mod-http-js)", allow_module_level=True)

from test_serve import free_port, subprocess_serve  # noqa: E402

BUDGET = 10_000


@pytest.fixture(scope="module")
def upstream():
    fake = FakeOpenAI()
    with serve(fake) as url:
        fake.url = url
        yield fake


@contextlib.contextmanager
def nginx(directory: Path, serve_address: str, upstream_address: str):
    """nginx with the shipped configuration and script, only their addresses changed."""
    for sub in ("tmp", "logs"):
        (directory / sub).mkdir(exist_ok=True)
    port = free_port()
    conf = (EXAMPLE / "nginx.conf").read_text()
    addresses = {"127.0.0.1:8080": f"127.0.0.1:{port}", "127.0.0.1:8000": serve_address,
                 "127.0.0.1:9000": upstream_address}
    for shipped, here in addresses.items():
        assert shipped in conf
        conf = conf.replace(shipped, here)
    (directory / "nginx.conf").write_text(conf)
    shutil.copy(EXAMPLE / "visiontokens.js", directory / "visiontokens.js")
    # -e: the error log from the start (before the configuration names it), for a non-root run
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                                "-e", "stderr", "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)
        process.stderr.close()


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    """nginx between the client and the fake provider, serve answering its checks."""
    with subprocess_serve("--max-image-tokens", str(BUDGET)) as (_, serve_url), \
            nginx(tmp_path_factory.mktemp("nginx"), serve_url.removeprefix("http://"),
                  upstream.url.removeprefix("http://")) as url:
        yield url


def chat_body(*urls: str, detail: str | None = None, padding: int = 0) -> bytes:
    parts: list[dict] = [{"type": "text", "text": "Compare." + " " * padding}]
    for url in urls:
        image = {"url": url} if detail is None else {"url": url, "detail": detail}
        parts.append({"type": "image_url", "image_url": image})
    return json.dumps({"model": "gpt-4.1-mini",
                       "messages": [{"role": "user", "content": parts}]}).encode()


def big_image(header: bytes, media: str, size: int) -> str:
    return data_url(header + os.urandom(size), media)


def post(url: str, body: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(url, content=body, timeout=60,
                      headers={"content-type": "application/json", **(headers or {})})


def test_accepted_requests_reach_the_provider_byte_for_byte(gateway, upstream):
    body = chat_body(big_image(png_header(800, 600), "image/png", 400_000),
                     big_image(jpeg_header(640, 480, sos=True), "image/jpeg", 300_000),
                     detail="low")
    expected = visiontokens.count_request(body)
    assert 0 < expected.image_tokens <= BUDGET
    before = len(upstream.received)
    response = post(f"{gateway}/v1/chat/completions", body,
                    {"x-image-tokens": "0", "x-output-image-tokens": "0"})  # spoofed
    assert response.status_code == 200, response.text
    assert len(upstream.received) == before + 1
    got = upstream.received[-1]
    assert got["path"] == "/v1/chat/completions"
    assert (got["sha256"], got["length"]) == (hashlib.sha256(body).hexdigest(), len(body))
    assert got["headers"]["x-image-tokens"] == str(expected.image_tokens)
    assert got["headers"]["x-image-tokens-upper-bound"] == "false"
    assert got["headers"]["x-output-image-tokens"] == "0"
    assert response.json()["object"] == "chat.completion"  # the provider's own answer


def test_an_images_api_edit_as_multipart_reaches_the_provider_intact(gateway, upstream):
    from forms import multipart

    form, content_type = multipart([("model", b"gpt-image-1"), ("prompt", b"x"),
                                    ("size", b"1024x1024"), ("quality", b"low"),
                                    ("image[]", png_header(512, 512) + os.urandom(50_000),
                                     "a.png")])
    expected = visiontokens.count_request(form, content_type=content_type, api="images.edits")
    response = httpx.post(f"{gateway}/v1/images/edits", content=form,
                          headers={"content-type": content_type}, timeout=60)
    assert response.status_code == 200, response.text
    got = upstream.received[-1]
    assert (got["path"], got["sha256"]) == ("/v1/images/edits", hashlib.sha256(form).hexdigest())
    assert got["headers"]["content-type"] == content_type
    assert got["headers"]["x-image-tokens"] == str(expected.image_tokens)
    assert got["headers"]["x-output-image-tokens"] == str(expected.output_image_tokens) != "0"


def openai_error(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert set(data) == {"error"} and set(data["error"]) == {"message", "type", "param", "code"}
    return data["error"]


def test_over_budget_requests_never_reach_the_provider(gateway, upstream):
    png, jpeg = png_header(1920, 1080), jpeg_header(1800, 2400, sos=True)
    body = chat_body(*[data_url(png), data_url(jpeg, "image/jpeg")] * 2)
    assert visiontokens.count_request(body).image_tokens > BUDGET
    before = len(upstream.received)
    response = post(f"{gateway}/v1/chat/completions", body)
    assert response.status_code == 429
    error = openai_error(response)
    assert error["code"] == "rate_limit_exceeded" and str(BUDGET) in error["message"]
    assert response.headers.get("retry-after") == "1"
    # the client's own header lowers the budget, through nginx too
    small = chat_body(data_url(png), detail="low")
    lowered = post(f"{gateway}/v1/chat/completions", small,
                   {"x-visiontokens-max-image-tokens": "1"})
    assert lowered.status_code == 429 and "limit of 1 " in openai_error(lowered)["message"]
    assert len(upstream.received) == before


def test_refused_bodies_get_the_providers_400(gateway, upstream):
    before = len(upstream.received)
    animated = chat_body(data_url(png_header(64, 64)),
                         data_url(gif_header(64, 64, frames=3), "image/gif"))
    response = post(f"{gateway}/v1/chat/completions", animated)
    assert response.status_code == 400
    error = openai_error(response)
    assert (error["code"], error["param"]) == ("invalid_image_format", "messages[0].content[2]")
    malformed = post(f"{gateway}/v1/chat/completions", b'{"model": "gpt-4o", "messages": [')
    assert malformed.status_code == 400 and openai_error(malformed)["code"] == "malformed_request"
    wrong_type = httpx.post(f"{gateway}/v1/chat/completions", content=b"hello",
                            headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415 and openai_error(wrong_type)["type"]
    assert len(upstream.received) == before


def test_without_serve_nothing_passes_uncounted(upstream, tmp_path):
    """serve down (nothing listens where it should): nginx refuses with a 503, fail closed."""
    before = len(upstream.received)
    with nginx(tmp_path, f"127.0.0.1:{free_port()}",
               upstream.url.removeprefix("http://")) as url:
        response = post(f"{url}/v1/chat/completions",
                        chat_body(data_url(png_header(64, 64)), detail="low"))
    assert response.status_code == 503 and openai_error(response)["type"] == "server_error"
    assert len(upstream.received) == before


def test_the_docs_show_the_tested_files():
    """The nginx page's snippets are the files this test runs, character for character."""
    page_path = EXAMPLE.parents[2] / "docs" / "gateways.md"
    if not page_path.is_file():
        pytest.skip("the docs are not part of this copy of the tests")
    from test_docs import fenced_blocks

    page = page_path.read_text(encoding="utf-8")
    blocks = {language: code for language, _, code in fenced_blocks(page)}
    assert blocks["nginx"] == (EXAMPLE / "nginx.conf").read_text()
    assert blocks["javascript"] == (EXAMPLE / "visiontokens.js").read_text()
