"""The parser under the Fetcher: a remote file longer than max_bytes still gets its size once its
header is in (issue 12 item 2), from a real HTTP server on 127.0.0.1 that ignores Range."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from headers import gif_header, jpeg_header, riff, vp8l_payload, webp_chunk

from visiontokens import AnimatedImageError, ImageInfo, count_request
from visiontokens.images.fetch import Fetcher

COMMENT = b"\x21\xfe" + (b"\xff" + bytes(255)) * 8000 + b"\x00"  # a 2 MB comment extension
FILES = {
    # one image, the comment, then a second image: animated, but only past the cap
    "/big.gif": gif_header(300, 200)[:-1] + COMMENT + gif_header(300, 200)[19:],
    "/still.gif": gif_header(300, 200)[:-1] + COMMENT + b"\x3b",
    # a simple WebP whose RIFF holds 2 MB of metadata after the image
    "/big.webp": riff(webp_chunk(b"VP8L", vp8l_payload(640, 480)), webp_chunk(b"XMP ", bytes(2 << 20))),
    # a JPEG cut into 64 KB segments: whatever the chunk boundaries, never a frame header
    "/no-frame.jpg": b"\xff\xd8" + (b"\xff\xe1\x00\x10" + bytes(14)) * 200_000,
    "/small.jpg": jpeg_header(64, 48, sos=True),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - the whole file, whatever Range asks
        data = FILES[self.path]
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


def fetcher(max_bytes: int) -> Fetcher:
    return Fetcher(allow_private=["127.0.0.1/32"], cache_size=0, max_bytes=max_bytes)


def test_a_gif_longer_than_max_bytes_is_sized_with_its_animation_undecided(server):
    capped = fetcher(256 * 1024)
    for path in ("/big.gif", "/still.gif"):
        info, total = capped.fetch(server + path)
        assert info == ImageInfo(300, 200, "gif", False, True) and total == len(FILES[path])
    # with room for the whole file, the animation is decided
    whole = fetcher(4 << 20)
    assert whole.fetch(server + "/big.gif")[0] == ImageInfo(300, 200, "gif", True)
    assert whole.fetch(server + "/still.gif")[0] == ImageInfo(300, 200, "gif", False)


def test_the_undecided_policy_applies_to_fetched_gifs(server):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": server + "/big.gif", "detail": "high"}}]}]}
    counted = count_request(body, fetch=fetcher(256 * 1024))
    assert counted.images[0].width == 300 and counted.image_tokens > 0
    with pytest.raises(AnimatedImageError, match="cannot tell"):
        count_request(body, fetch=fetcher(256 * 1024), undecided_animation="refuse")
    with pytest.raises(AnimatedImageError, match="an animated GIF"):
        count_request(body, fetch=fetcher(4 << 20))


def test_other_formats_past_max_bytes(server):
    assert fetcher(64 * 1024).fetch(server + "/big.webp")[0] == ImageInfo(640, 480, "webp", False)
    assert fetcher(64 * 1024).fetch(server + "/small.jpg")[0] == ImageInfo(64, 48, "jpeg", False)
    from visiontokens import FetchError

    with pytest.raises(FetchError, match="within the first 1000000 bytes"):
        fetcher(1_000_000).fetch(server + "/no-frame.jpg")
