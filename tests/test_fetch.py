"""Remote images: a real HTTP server on 127.0.0.1, SSRF protection, deadlines and caps."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from headers import jpeg_header, pillow_image

import visiontokens
from visiontokens import (
    BlockedAddressError,
    FetchError,
    ImageSizeUnknownError,
    UnsupportedImageFormatError,
    count_request,
    count_request_async,
)
from visiontokens.images.fetch import Fetcher, is_public

PNG = pillow_image("PNG", (1800, 2400))
LATE_JPEG = jpeg_header(640, 480, segments=[(0xE2, bytes(65000))] * 4)  # SOF after ~260 KB


class Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802
        Handler.hits.append(self.path)
        route = self.path.split("?")[0]
        if route == "/img.png":
            self._image(PNG, honour_range=True)
        elif route == "/no-range.png":
            self._image(PNG, honour_range=False)
        elif route == "/late.jpg":
            self._image(LATE_JPEG, honour_range=False)
        elif route == "/trickle.png":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(PNG[:10])
            for byte in PNG[10:200]:
                time.sleep(0.05)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        elif route == "/endless.jpg":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"\xff\xd8")
            try:
                while True:  # APP segments for ever: the SOF never comes
                    self.wfile.write(b"\xff\xe1\xff\xff" + bytes(65533))
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif route.startswith("/redirect/"):
            left = int(route.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/redirect/{left - 1}" if left > 1 else "/img.png")
            self.end_headers()
        elif route == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
        elif route == "/page.html":
            self._image(b"<html><body>not an image</body></html>", honour_range=False)
        else:
            self.send_response(int(route.strip("/")) if route.strip("/").isdigit() else 404)
            self.end_headers()

    def _image(self, data, honour_range):
        wanted = self.headers.get("Range", "")
        if honour_range and wanted.startswith("bytes=0-"):
            end = min(int(wanted[8:]), len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{end}/{len(data)}")
            self.send_header("Content-Length", str(end + 1))
            self.end_headers()
            self.wfile.write(data[:end + 1])
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def local(**kwargs):
    """A fetcher that may reach the test server on loopback, and nothing else private."""
    return Fetcher(allow_private=["127.0.0.1/32"], cache_size=0, **kwargs)


def body(url, model="gpt-4o", detail="high"):
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url, "detail": detail}}]}]}


@pytest.mark.parametrize("route", ["/img.png", "/no-range.png", "/redirect/3"])
def test_fetch_reads_the_header(server, route):
    fetcher = local()
    info, total = fetcher.fetch(server + route)
    assert info[:3] == (1800, 2400, "png") and total == len(PNG)
    result = count_request(body(server + route), fetch=fetcher)
    assert result.image_tokens == visiontokens.count_image_tokens(1800, 2400, "gpt-4o", "high")
    assert result.images[0].source == "url" and not result.upper_bound


def test_range_requests_keep_reads_small(server):
    fetcher = local(max_bytes=64 * 1024)
    assert fetcher.fetch(server + "/img.png")[0][:2] == (1800, 2400)
    # a server ignoring Range is read only until the header parses
    assert fetcher.fetch(server + "/no-range.png")[0][:2] == (1800, 2400)
    # ... or until max_bytes, when the header lies further in
    with pytest.raises(FetchError, match="no image header within the first 65536 bytes"):
        fetcher.fetch(server + "/late.jpg")
    assert local().fetch(server + "/late.jpg")[0][:2] == (640, 480)


def test_the_deadline_is_total_not_per_read(server):
    fetcher = local(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.5 s"):
        fetcher.fetch(server + "/trickle.png")
    assert time.monotonic() - started < 2.0  # each byte arrives well within a read timeout
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.5 s"):
        asyncio.run(fetcher.fetch_async(server + "/trickle.png"))
    assert time.monotonic() - started < 2.0


def test_an_endless_body_stops_at_the_byte_cap(server):
    with pytest.raises(FetchError, match="within the first 1000000 bytes"):
        local(max_bytes=1_000_000).fetch(server + "/endless.jpg")


def test_redirects_are_bounded_and_checked(server):
    with pytest.raises(FetchError, match="more than 3 redirects"):
        local().fetch(server + "/redirect/4")
    Handler.hits.clear()
    with pytest.raises(BlockedAddressError, match="169.254.169.254"):
        local().fetch(server + "/to-metadata")
    assert Handler.hits == ["/to-metadata"]


def test_not_an_image_is_a_violation_and_http_errors_are_unknown_sizes(server):
    with pytest.raises(UnsupportedImageFormatError):
        count_request(body(server + "/page.html"), fetch=local())
    for status in ("/404", "/500"):
        with pytest.raises(ImageSizeUnknownError, match=f"HTTP {status[1:]}") as caught:
            count_request(body(server + status), fetch=local())
        assert isinstance(caught.value.__cause__, FetchError)
        bound = count_request(body(server + status), fetch=local(), on_unknown="upper_bound")
        assert bound.image_tokens == 1445 and "HTTP" in bound.images[0].note


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]",
                                  "[::ffff:127.0.0.1]", "0.0.0.0", "192.168.1.20", "[fe80::1]",
                                  "100.64.0.1", "224.0.0.1", "localhost"])
def test_private_addresses_are_refused_without_connecting(server, host):
    Handler.hits.clear()
    port = server.rsplit(":", 1)[1]
    started = time.monotonic()
    with pytest.raises(BlockedAddressError, match="non-public address"):
        Fetcher().fetch(f"http://{host}:{port}/img.png")
    with pytest.raises(BlockedAddressError):
        asyncio.run(Fetcher().fetch_async(f"http://{host}:{port}/img.png"))
    assert Handler.hits == [] and time.monotonic() - started < 1.0


def test_public_addresses_pass_the_check():
    assert is_public("8.8.8.8") and is_public("2606:4700:4700::1111")
    assert not is_public("::ffff:10.0.0.1") and not is_public("fc00::1")


def test_async_fetches_concurrently(server):
    fetcher = local()
    urls = [f"{server}/img.png?n={i}" for i in range(8)]
    request = {"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": url, "detail": "low"} for url in urls]}]}
    result = asyncio.run(count_request_async(request, fetch=fetcher))
    assert result.image_tokens == 8 * 85 and len(result.images) == 8


def test_the_cache_remembers_sizes(server):
    fetcher = Fetcher(allow_private=True, cache_size=2)
    Handler.hits.clear()
    for _ in range(3):
        fetcher.fetch(server + "/img.png")
    assert Handler.hits == ["/img.png"]
    fetcher.fetch(server + "/no-range.png")
    fetcher.fetch(server + "/redirect/1")  # evicts /img.png, the least recent
    fetcher.fetch(server + "/img.png")
    assert Handler.hits.count("/img.png") == 3  # once itself, once after the redirect, once again


def test_fetcher_settings_are_checked():
    from visiontokens import InvalidArgumentError

    for bad in ({"timeout": 0}, {"max_bytes": 0}, {"max_redirects": -1}, {"cache_size": -1}):
        with pytest.raises(InvalidArgumentError):
            Fetcher(**bad)
    with pytest.raises(ValueError):
        Fetcher(allow_private=["not a network"])


def test_a_slow_dns_answer_is_within_the_deadline(monkeypatch):
    import socket

    from visiontokens.images import fetch as _fetch

    real = socket.getaddrinfo

    def slow(*args, **kwargs):
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(_fetch.socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.3 s"):
        Fetcher(timeout=0.3).fetch("http://example.invalid/cat.png")
    assert time.monotonic() - started < 1.0
