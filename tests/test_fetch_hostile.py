"""Hostile hosts and hostile URLs (issue 12, item 3): each bug found by attacking the fetcher,
pinned by a regression test against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gzip
import json
import math
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from headers import data_url, pillow_image

from visiontokens import (
    ArgumentTypeError,
    BlockedAddressError,
    FetchError,
    InvalidArgumentError,
    TooManyImagesError,
    count_request,
    count_request_async,
)
from visiontokens.images import fetch as _fetch
from visiontokens.cli.main import main
from visiontokens.images.fetch import Fetcher, is_public

PNG = pillow_image("PNG", (1800, 2400))


def drip_gif(sub_blocks: int) -> bytes:
    """A 320x200 still GIF whose one image is ``sub_blocks`` sub-blocks of one byte: the parser
    must walk every one to reach the trailer."""
    head = b"GIF89a" + struct.pack("<HHBBB", 320, 200, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 320, 200, 0) + b"\x02"
    return head + image + b"\x01\x00" * sub_blocks + b"\x00\x3b"


DRIP = drip_gif(30_000)  # 60 KB


@functools.cache
def gzip_bomb(layers: int, inflated: int) -> bytes:
    """A JPEG start whose APP segments go on for ``inflated`` bytes (the frame header never
    comes, so the reader keeps asking for more), gzip'ed ``layers`` times: KBs on the wire."""
    segment = b"\xff\xe1\xff\xff" + bytes(65533)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = packer.compress(b"\xff\xd8") + b"".join(
        packer.compress(segment * 16) for _ in range(inflated // len(segment) // 16)) + packer.flush()
    for _ in range(layers - 1):
        data = gzip.compress(data, 9)
    return data


def bomb() -> bytes:
    return gzip_bomb(2, 64 << 20)  # 64 MB inside a few KB; made on first use (0.3 s)


class Server:
    """The state the handler shares with the tests."""

    active = 0
    most_active = 0
    lock = threading.Lock()
    hits: list[str] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def raw_response(self, status: str, headers: list[bytes], body: bytes = b"") -> None:
        """Headers written as bytes, as a hostile server may: no latin-1 check on the way."""
        lines = [f"HTTP/1.1 {status}".encode()] + headers + [
            b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
        self.wfile.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self.close_connection = True

    def do_GET(self):  # noqa: N802
        Server.hits.append(self.path)
        route, _, query = self.path.partition("?")
        try:
            self.route(route, query)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, route: str, query: str) -> None:
        if route == "/img.png":
            self.raw_response("200 OK", [b"Content-Type: image/png"], PNG)
        elif route == "/bomb":
            self.raw_response("200 OK", [b"Content-Encoding: gzip, gzip"], bomb())
        elif route == "/gzip.png":
            self.raw_response("200 OK", [b"Content-Encoding: gzip"], gzip.compress(PNG))
        elif route == "/deflate.png":
            self.raw_response("200 OK", [b"Content-Encoding: deflate"], zlib.compress(PNG))
        elif route == "/br.png":
            self.raw_response("200 OK", [b"Content-Encoding: br"], PNG)
        elif route == "/gzip3.png":
            body = gzip.compress(gzip.compress(gzip.compress(PNG)))
            self.raw_response("200 OK", [b"Content-Encoding: gzip, gzip, gzip"], body)
        elif route == "/bad-gzip.png":
            self.raw_response("200 OK", [b"Content-Encoding: gzip"], b"\x1f\x8b" + bytes(500))
        elif route == "/range-total":
            total = {"superscript": "²³".encode(), "huge": b"9" * 5000,
                     "arabic": "٣٠٠".encode()}[query]
            self.raw_response("206 Partial Content", [b"Content-Range: bytes 0-99/" + total],
                              PNG[:100])
        elif route == "/location":
            self.raw_response("302 Found", [b"Location: " + LOCATIONS[int(query)].encode()])
        elif route == "/drip.gif":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DRIP)))
            self.end_headers()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for at in range(0, len(DRIP), 128):
                self.wfile.write(DRIP[at:at + 128])
                time.sleep(0.0005)
        elif route == "/slow.png":  # counts the fetches being served at once
            with Server.lock:
                Server.active += 1
                Server.most_active = max(Server.most_active, Server.active)
            time.sleep(0.1)
            with Server.lock:
                Server.active -= 1
            self.raw_response("200 OK", [], PNG[:4096])
        else:
            self.raw_response("404 Not Found", [])


#: Location headers that made httpx, idna or the codecs raise their own exceptions.
LOCATIONS = ["http://a..b/", "http://[::1/", "http://xn--localhost/", "http://0177.0.0.1/",
             "http://" + "a" * 64 + ".com/", "http://１２７.0.0.1/", "http://xn--/",
             "ftp://example.com/x.png", "http://%00/", "http://:0/", "//"]


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 64
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def local(**kwargs):
    """A fetcher that may reach the test server on loopback, and nothing else private."""
    kwargs.setdefault("cache_size", 0)
    return Fetcher(allow_private=["127.0.0.1/32"], **kwargs)


def body(*urls, model="gpt-4o", detail="high"):
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url, "detail": detail}} for url in urls]}]}


# --- decompression bombs -------------------------------------------------------------------------

def test_a_gzip_gzip_bomb_inflates_only_to_the_byte_cap(server):
    """A few KB of 'Content-Encoding: gzip, gzip' held 64 MB: httpx decoded it whole before any
    cap applied. Read raw, each layer capped at max_bytes of output, it costs ~1 MB."""
    assert len(bomb()) < 16 << 10
    for fetch in (lambda f, u: f.fetch(u), lambda f, u: asyncio.run(f.fetch_async(u))):
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="no image header within the first 1048576 bytes"):
                fetch(local(max_bytes=1 << 20, timeout=5.0), server + "/bomb")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 16 << 20, f"{peak} bytes allocated for a 1 MB cap"


@pytest.mark.parametrize("route", ["/gzip.png", "/deflate.png"])
def test_gzip_and_deflate_bodies_are_decoded(server, route):
    info, total = local().fetch(server + route)
    assert info[:3] == (1800, 2400, "png")
    assert total is None  # the encoded length is not the image's size


@pytest.mark.parametrize("route,message", [
    ("/br.png", "refusing Content-Encoding 'br'"),
    ("/gzip3.png", "refusing Content-Encoding 'gzip, gzip, gzip'"),
    ("/bad-gzip.png", "corrupt compressed body"),
])
def test_other_encodings_are_refused(server, route, message):
    with pytest.raises(FetchError, match=message):
        local().fetch(server + route)
    with pytest.raises(FetchError, match=message):
        asyncio.run(local().fetch_async(server + route))


# --- every failure is a FetchError ---------------------------------------------------------------

#: URLs that made Fetcher.fetch raise UnicodeError, httpx.InvalidURL, idna errors ...
HOSTILE_URLS = {
    "empty label": "http://a..b/",
    "64-char label": "http://" + "a" * 64 + ".com/",
    "octal IPv4": "http://0177.0.0.1/",
    "unclosed IPv6": "http://[::1/",
    "100 KB URL": "http://example.com/" + "a" * 100_000,
    "fullwidth digits": "http://１２７.0.0.1/",
    "tab": "http://exa\tmple.com/",
    "bad punycode": "http://xn--localhost/",
    "empty punycode": "http://xn--/",
    "no host": "http:///x",
    "port out of range": "http://a:99999/",
    "lone surrogate": "http://example.com/\ud800",
    "surrogate host": "http://\ud800.com/",
}


@pytest.mark.parametrize("name", HOSTILE_URLS)
def test_hostile_urls_are_fetch_errors(name):
    url = HOSTILE_URLS[name]
    with pytest.raises(FetchError) as caught:
        Fetcher().fetch(url)
    assert len(str(caught.value)) < 400  # the URL is quoted, not copied whole
    with pytest.raises(FetchError):
        asyncio.run(Fetcher().fetch_async(url))


@pytest.mark.parametrize("name", HOSTILE_URLS)
def test_hostile_urls_never_crash_a_request(name, walk):
    url = HOSTILE_URLS[name]
    request = body(url, data_url(PNG))
    options = dict(fetch=Fetcher(timeout=1.0), on_unknown="upper_bound", on_violation="collect")
    for result in (walk.count_request(request, **options),
                   asyncio.run(walk.count_request_async(request, **options))):
        assert result.images[0].upper_bound and result.images[0].tokens == 1445
        assert "fetch failed" in result.images[0].note
        assert result.images[1].width == 1800 and not result.images[1].upper_bound


@pytest.mark.parametrize("index", range(len(LOCATIONS)))
def test_hostile_redirects_are_fetch_errors(server, index):
    url = f"{server}/location?{index}"
    with pytest.raises(FetchError):
        local().fetch(url)
    with pytest.raises(FetchError):
        asyncio.run(local().fetch_async(url))
    result = count_request(body(url), fetch=local(), on_unknown="upper_bound")
    assert result.upper_bound and result.image_tokens == 1445


@pytest.mark.parametrize("total", ["superscript", "huge", "arabic"])
def test_a_content_range_total_that_is_not_ascii_digits_is_no_size(server, total):
    """'²³'.isdigit() is True and int('²³') raises; 5,000 digits exceed int()'s limit."""
    info, size = local().fetch(f"{server}/range-total?{total}")
    assert info[:2] == (1800, 2400) and size is None


def test_the_command_line_prints_one_line_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body(*HOSTILE_URLS.values())))
    assert main(["request", str(path), "--fetch"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("visiontokens: error: /messages/0/content/0: the image's size is unknown")
    assert "Traceback" not in err and err.count("\n") == 1
    assert main(["request", str(path), "--fetch", "--upper-bound", "--collect", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["upper_bound"] and out["image_tokens"] == 1445 * len(HOSTILE_URLS)
    # and as a user runs it, in a process of its own
    run = subprocess.run([sys.executable, "-m", "visiontokens", "request", str(path), "--fetch"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr and run.stderr.count("\n") == 1


# --- the 1,500-image limit -----------------------------------------------------------------------

class CountingFetcher(Fetcher):
    """Counts the fetches it is asked for, and fetches nothing."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def fetch(self, url):
        self.calls += 1
        raise FetchError("not fetched in this test")

    async def fetch_async(self, url):
        self.calls += 1
        raise FetchError("not fetched in this test")


def responses_body(message_images: int, screenshots: int) -> dict:
    items: list[dict] = [{"role": "user", "content": [
        {"type": "input_image", "image_url": f"https://example.com/{i}.png", "detail": "low"}
        for i in range(message_images)]}]
    items += [{"type": "computer_call_output", "call_id": f"c{i}", "output": {
        "type": "computer_screenshot", "image_url": f"https://example.com/shot{i}.png"}}
        for i in range(screenshots)]
    return {"model": "gpt-4o", "input": items}


@pytest.mark.parametrize("messages,screenshots", [(1500, 0), (1499, 1), (0, 1500), (750, 750)])
def test_1500_images_are_allowed_wherever_they_sit(walk, messages, screenshots):
    result = walk.count_request(responses_body(messages, screenshots), on_unknown="upper_bound")
    assert len(result.images) == 1500


@pytest.mark.parametrize("messages,screenshots", [(1501, 0), (1500, 1), (1499, 2), (0, 1501),
                                                  (1, 100_000)])
def test_the_1501st_image_is_refused_wherever_it_sits(walk, messages, screenshots):
    """computer_call_output screenshots were not counted, and once past 1,500 an '==' check
    let every later image through: 100,000 images, and with fetching on, 100,000 fetches."""
    request = responses_body(messages, screenshots)
    fetcher = CountingFetcher()
    for run in (lambda: walk.count_request(request, fetch=fetcher, on_unknown="upper_bound",
                                           on_violation="collect"),
                lambda: asyncio.run(walk.count_request_async(request, fetch=fetcher,
                                                             on_unknown="upper_bound"))):
        with pytest.raises(TooManyImagesError, match="more than 1500 images"):
            run()
    assert fetcher.calls == 0  # the limit is checked before anything is fetched


def test_chat_images_past_1500_are_refused(walk):
    request = body(*[f"https://example.com/{i}.png" for i in range(1501)])
    fetcher = CountingFetcher()
    with pytest.raises(TooManyImagesError, match="more than 1500 images"):
        walk.count_request(request, fetch=fetcher)
    assert fetcher.calls == 0


# --- DNS: lookups cannot starve other fetches ----------------------------------------------------

class FakeDNS:
    """getaddrinfo where '*.slow.test' hangs until released, 'fast.test' answers 127.0.0.1 at
    once, and anything else goes to the real resolver. Records each name and its thread."""

    def __init__(self, real):
        self.real = real
        self.release = threading.Event()
        self.calls: list[tuple[str, str]] = []

    def __call__(self, host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.calls.append((name, threading.current_thread().name))
        if name.endswith(".slow.test"):
            self.release.wait(30)
            raise socket.gaierror(socket.EAI_NONAME, "released")
        if name == "fast.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]
        return self.real(host, port, *args, **kwargs)


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    monkeypatch.setattr(_fetch, "_RESOLVER", _fetch._Resolver(limit=64))
    yield fake
    fake.release.set()  # let the hung lookups end


def test_slow_lookups_cannot_starve_other_fetches(server, dns):
    """40 lookups that never answer held every pool thread: every sync fetch in the process,
    IP literals included, failed for 48 s. Now each lookup holds only its own thread."""
    port = server.rsplit(":", 1)[1]
    fetcher = local(timeout=1.0)
    fast = Fetcher(allow_private=True, cache_size=0, timeout=2.0)
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        slow = [pool.submit(fetcher.fetch, f"http://h{i}.slow.test/x.png") for i in range(40)]
        for future in slow:
            with pytest.raises(FetchError, match="longer than 1.0 s"):
                future.result(timeout=5)
    # the lookups still hang; an IP literal needs no lookup, a name gets a thread of its own
    slow_threads = {thread for name, thread in dns.calls if name.endswith(".slow.test")}
    assert len(slow_threads) >= 20 and all(t.startswith("visiontokens-dns") for t in slow_threads)
    assert fast.fetch(server + "/img.png")[0][:2] == (1800, 2400)
    assert fast.fetch(f"http://fast.test:{port}/img.png")[0][:2] == (1800, 2400)
    assert not any(name in ("127.0.0.1",) for name, thread in dns.calls
                   if thread.startswith("visiontokens-dns"))


def test_a_lookup_in_flight_is_shared(server, dns):
    fetcher = local(timeout=0.3)
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        for future in [pool.submit(fetcher.fetch, "http://same.slow.test/x.png") for _ in range(20)]:
            with pytest.raises(FetchError):
                future.result(timeout=5)
    assert [name for name, _ in dns.calls].count("same.slow.test") == 1


def test_when_every_lookup_slot_hangs_others_fail_by_their_deadline(server, dns, monkeypatch):
    monkeypatch.setattr(_fetch, "_RESOLVER", _fetch._Resolver(limit=4))
    port = server.rsplit(":", 1)[1]
    fetcher = local(timeout=0.3)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(fetcher.fetch, f"http://h{i}.slow.test/") for i in range(8)]:
            with pytest.raises(FetchError):
                future.result(timeout=5)
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than 0.3 s"):
        fetcher.fetch(f"http://fast.test:{port}/img.png")
    assert time.monotonic() - started < 1.5  # by its deadline, not the hung lookups' end
    assert local().fetch(server + "/img.png")[0][:2] == (1800, 2400)  # no lookup needed


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):
        CountingExecutor.submitted += 1
        return super().submit(*args, **kwargs)


def test_async_lookups_never_use_the_default_executor(server, dns):
    """In async, slow lookups blocked the loop's default executor for 9 s."""
    port = server.rsplit(":", 1)[1]

    async def scenario():
        loop = asyncio.get_running_loop()
        CountingExecutor.submitted = 0
        loop.set_default_executor(CountingExecutor(max_workers=1))
        fetcher = local(timeout=0.3)
        fast = Fetcher(allow_private=True, cache_size=0, timeout=2.0)
        slow = [fetcher.fetch_async(f"http://a{i}.slow.test/x.png") for i in range(40)]
        results = await asyncio.gather(*slow, fast.fetch_async(server + "/img.png"),
                                       fast.fetch_async(f"http://fast.test:{port}/img.png"),
                                       return_exceptions=True)
        assert all(isinstance(r, FetchError) for r in results[:40])
        assert results[40][0][:2] == results[41][0][:2] == (1800, 2400)
        assert CountingExecutor.submitted == 0

    asyncio.run(scenario())


# --- concurrency limits --------------------------------------------------------------------------

def slow_urls(server, n, tag):
    return [f"{server}/slow.png?{tag}{i}" for i in range(n)]


@pytest.fixture
def counting(server):
    Server.active = Server.most_active = 0
    return server


def test_a_request_fetches_at_most_max_concurrency_at_once(counting):
    request = body(*slow_urls(counting, 16, "a"), detail="low")
    result = asyncio.run(count_request_async(request, fetch=local(), max_concurrency=4))
    assert result.image_tokens == 16 * 85
    assert 2 <= Server.most_active <= 4


def test_a_fetcher_fetches_at_most_max_concurrency_at_once(counting):
    fetcher = local(max_concurrency=3)

    async def two_requests():
        return await asyncio.gather(*(count_request_async(
            body(*slow_urls(counting, 8, tag), detail="low"), fetch=fetcher, max_concurrency=8)
            for tag in "bc"))

    results = asyncio.run(two_requests())
    assert [r.image_tokens for r in results] == [8 * 85] * 2
    assert 2 <= Server.most_active <= 3
    # the same limit holds for threads, and for threads and event loops together
    Server.most_active = 0
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(fetcher.fetch, url) for url in slow_urls(counting, 6, "d")]
        futures += [pool.submit(asyncio.run, fetcher.fetch_async(url))
                    for url in slow_urls(counting, 6, "e")]
        assert all(f.result(timeout=10)[0][:2] == (1800, 2400) for f in futures)
    assert 2 <= Server.most_active <= 3


def test_max_concurrency_is_checked():
    for bad in (0, -1, 1.5, "4", None, True):
        with pytest.raises(InvalidArgumentError):
            asyncio.run(count_request_async(body("https://example.com/a.png"), max_concurrency=bad))


def test_slots_are_handed_on_when_waiters_give_up():
    """A thread that times out, or a task that is cancelled, while waiting for a slot never
    leaks it: afterwards every slot can be taken again."""
    slots = _fetch._Slots(2)
    assert slots.acquire(1) and slots.acquire(1)
    assert not slots.acquire(0.01)

    async def cancelled_waiters():
        waiters = [asyncio.ensure_future(slots.acquire_async()) for _ in range(5)]
        await asyncio.sleep(0.01)
        slots.release()  # handed to the first waiter ...
        for waiter in waiters:  # ... which is cancelled with the rest before it runs
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        await asyncio.sleep(0.01)  # let the hand-over see the cancel

    asyncio.run(cancelled_waiters())
    slots.release()
    assert slots.acquire(0.01) and slots.acquire(0.01) and not slots.acquire(0.01)


# --- the cache -----------------------------------------------------------------------------------

@pytest.mark.parametrize("urls,size", [(9, 8), (3, 2), (2, 1)])
def test_the_cache_is_safe_from_many_threads(urls, size):
    """12 threads sharing the default fetcher raised hundreds of raw KeyErrors a minute: an
    entry evicted by one thread between another's get and move_to_end."""
    fetcher = Fetcher(cache_size=size)
    names = [f"https://example.com/{i}.png" for i in range(urls)]
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def hammer(seed):
        pick = random.Random(seed)
        start.wait()
        try:
            for _ in range(5000):
                url = names[pick.randrange(urls)]
                if fetcher._cached(url) is None:
                    fetcher._remember(url, ((1, 1, "png", False), None))
        except BaseException as error:  # noqa: BLE001 - any error at all fails the test
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and len(fetcher._cache) <= size


def test_the_cache_from_12_threads_fetching(server):
    fetcher = local(cache_size=4)
    urls = [f"{server}/img.png?{i}" for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda n: [fetcher.fetch(urls[(n + i) % 8]) for i in range(20)],
                                range(12)))
    assert all(info[:2] == (1800, 2400) for rows in results for info, _ in rows)


def test_cached_sizes_expire_after_cache_ttl(server, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(_fetch, "_clock", lambda: now[0])
    fetcher = local(cache_size=8, cache_ttl=60)
    Server.hits.clear()
    fetcher.fetch(server + "/img.png?ttl")
    now[0] += 59
    fetcher.fetch(server + "/img.png?ttl")
    assert Server.hits == ["/img.png?ttl"]
    now[0] += 2
    fetcher.fetch(server + "/img.png?ttl")
    assert Server.hits == ["/img.png?ttl"] * 2
    never = local(cache_size=8, cache_ttl=None)
    never.fetch(server + "/img.png?forever")
    now[0] += 1e9
    never.fetch(server + "/img.png?forever")
    assert Server.hits.count("/img.png?forever") == 1


# --- parsing cost while bytes arrive -------------------------------------------------------------

def test_a_dripping_gif_is_parsed_a_logarithmic_number_of_times(server, monkeypatch):
    """The reader re-parsed from the first byte on every chunk: a GIF of 1-byte sub-blocks in
    128-byte writes cost seconds. Now it parses only when the data has doubled."""
    parses, chunks = [0], [0]
    real_parse, real_feed = _fetch._header.parse_buffer, _fetch._HeaderReader.feed

    class CountingParser:
        @staticmethod
        def parse_buffer(data, complete=True):
            parses[0] += 1
            return real_parse(data, complete)

    def counting_feed(self, chunk):
        chunks[0] += 1
        return real_feed(self, chunk)

    monkeypatch.setattr(_fetch, "_header", CountingParser)
    monkeypatch.setattr(_fetch._HeaderReader, "feed", counting_feed)
    info, _ = local().fetch(server + "/drip.gif")
    assert info[:4] == (320, 200, "gif", False)
    assert chunks[0] >= 50  # the body did come in many small pieces
    assert parses[0] <= 2 * math.log2(len(DRIP) / 128) + 4, (parses[0], chunks[0])


# --- which addresses are public -------------------------------------------------------------------

@pytest.mark.parametrize("address,public", [
    ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
    ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
    ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
    ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
    ("fec0::1", False),  # site-local (deprecated, still routed inside sites)
    ("feff::1", False),
    ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8 (what DNS64 answers on IPv6-only hosts)
    ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", False),
    ("64:ff9b:1::808:808", False),  # a site's own NAT64 prefix
    ("2001:0:808:808:0:0:f7f7:f7f7", True),  # Teredo: server 8.8.8.8, client 8.8.8.8
    ("2001:0:808:808:0:0:80ff:fffe", False),  # Teredo client 127.0.0.1
    ("2001:0:a00:1:0:0:f7f7:f7f7", False),  # Teredo server 10.0.0.1
    ("::ffff:8.8.8.8", True), ("::ffff:10.0.0.1", False), ("fc00::1", False),
    ("2606:4700:4700::1111", True), ("8.8.8.8", True),
])
def test_address_classes(address, public):
    assert is_public(address) is public


@pytest.mark.parametrize("host", ["[2002:7f00:1::1]", "[fec0::1]", "[64:ff9b::7f00:1]",
                                  "[2001:0:808:808:0:0:80ff:fffe]"])
def test_embedded_private_addresses_are_refused_without_connecting(host):
    with pytest.raises(BlockedAddressError, match="non-public address"):
        Fetcher().fetch(f"http://{host}/img.png")
    with pytest.raises(BlockedAddressError):
        asyncio.run(Fetcher().fetch_async(f"http://{host}/img.png"))


def test_allow_private_networks_cover_embedded_addresses():
    assert _fetch._allowed("2002:a00:1::", (_fetch.ipaddress.ip_network("10.0.0.0/8"),))
    assert not _fetch._allowed("2002:a00:1::", (_fetch.ipaddress.ip_network("192.168.0.0/16"),))


# --- Fetcher's settings ----------------------------------------------------------------------------

@pytest.mark.parametrize("setting,error", [
    ({"allow_private": "10.0.0.0/8"}, ArgumentTypeError),  # was iterated as characters
    ({"allow_private": b"10.0.0.0/8"}, ArgumentTypeError),
    ({"allow_private": None}, ArgumentTypeError),
    ({"allow_private": 5}, ArgumentTypeError),
    ({"allow_private": [10]}, ArgumentTypeError),
    ({"allow_private": ["not a network"]}, InvalidArgumentError),
    ({"timeout": float("inf")}, InvalidArgumentError),  # no deadline at all
    ({"timeout": float("nan")}, InvalidArgumentError),
    ({"timeout": -1}, InvalidArgumentError),
    ({"timeout": 0}, InvalidArgumentError),
    ({"timeout": "5"}, ArgumentTypeError),
    ({"timeout": None}, ArgumentTypeError),
    ({"timeout": True}, ArgumentTypeError),
    ({"max_bytes": 0}, InvalidArgumentError),
    ({"max_bytes": 1.5}, ArgumentTypeError),
    ({"max_bytes": "4096"}, ArgumentTypeError),
    ({"max_redirects": -1}, InvalidArgumentError),
    ({"max_redirects": None}, ArgumentTypeError),
    ({"cache_size": -1}, InvalidArgumentError),
    ({"cache_ttl": 0}, InvalidArgumentError),
    ({"cache_ttl": float("inf")}, InvalidArgumentError),
    ({"cache_ttl": "60"}, ArgumentTypeError),
    ({"max_concurrency": 0}, InvalidArgumentError),
    ({"max_concurrency": 2.0}, ArgumentTypeError),
    ({"headers": [("a", "b")]}, ArgumentTypeError),
    ({"headers": {"X-A": 1}}, ArgumentTypeError),
    ({"headers": {"X-A": "b\r\nHost: evil"}}, InvalidArgumentError),
])
def test_fetcher_settings_are_checked(setting, error):
    with pytest.raises(error) as caught:
        Fetcher(**setting)
    assert caught.type is error or error is InvalidArgumentError
    assert len(str(caught.value)) < 200


def test_good_settings_are_kept():
    fetcher = Fetcher(timeout=2, allow_private=("10.0.0.0/8", "fd00::/8"), cache_ttl=None,
                      max_concurrency=4, headers={"X-Team": "vision"})
    assert fetcher.timeout == 2.0 and len(fetcher.allow_private) == 2
    assert fetcher.cache_ttl is None and fetcher.headers["X-Team"] == "vision"
    with pytest.raises(ArgumentTypeError):
        Fetcher().fetch(b"http://example.com/")  # type: ignore[arg-type]
