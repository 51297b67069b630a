"""Fetching the size of a remote image: only when asked, only as far as the header, safely.

A remote host is hostile until proven otherwise, so every fetch is bounded:

- **Where it connects.** SSRF protection lives in the network backend that httpx's connection
  pool uses to open every TCP connection, the first one and each one a redirect leads to. The
  backend resolves the host itself, refuses any address that is not public (see
  :func:`is_public`) before connecting, and connects to the address it checked, so a second
  DNS answer cannot slip in. TLS still verifies the certificate against the host name.
- **How long.** One total deadline per image covers waiting for a connection slot, the DNS
  lookup, connects, redirects and every read and write (the async path also wraps the whole
  fetch in ``asyncio.timeout``): a server trickling a byte at a time cannot hold us.
- **How much.** At most ``max_bytes`` raw bytes are read, and a ``Range`` request asks for no
  more. The body is read raw (``iter_raw``): httpx would otherwise undo any
  ``Content-Encoding`` the server names, layer by layer, before any cap applies (1,893 bytes of
  ``gzip, gzip`` became 2 GB). gzip and deflate are decoded here, each layer capped at
  ``max_bytes`` of output; any other encoding is refused.
- **How often.** A Fetcher runs at most ``max_concurrency`` fetches at once, across threads and
  event loops; name lookups run on their own threads, at most ``MAX_LOOKUPS`` at once in the
  process, identical lookups in flight shared, and an IP literal needs none. A lookup that
  outlives its fetch's deadline keeps its thread, but never anyone else's.
- **What escapes.** Every failure is a :class:`FetchError`: a hostile URL, host name, redirect
  or header never raises anything else (a header that parses but is not an image stays an
  ``InvalidImageError``: the image is bad, not the fetch).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import ipaddress
import math
import socket
import threading
import time
import zlib
from concurrent.futures import Future
from typing import Any, Iterator

import httpcore
import httpx

from .._errors import (
    ArgumentTypeError,
    BlockedAddressError,
    FetchError,
    InvalidArgumentError,
    TruncatedImageError,
    VisionTokensError,
    quoted,
    with_hint,
)
from .._extensions import twin
from .sources import ImageInfo

_header = twin("header")  # the image-header parser

#: monotonic time by which the current fetch must be done (set per fetch, per task/thread)
_DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar("visiontokens_deadline")

#: Name lookups running at once in the process, whatever their Fetcher (each is a thread).
MAX_LOOKUPS = 32
#: Content-Encoding layers decoded at most ("gzip, gzip" is two).
MAX_ENCODING_LAYERS = 2

_clock = time.monotonic  # the cache's clock (a test may replace it)


def _remaining(timeout: float | None) -> float:
    left = _DEADLINE.get(math.inf) - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch deadline passed")
    return left if timeout is None else min(timeout, left)


# --- which addresses are public -------------------------------------------------------------------

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a site's own translators


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where the packets really go: v4-mapped
    (::ffff:a.b.c.d), 6to4 (2002:AABB:CCDD::/48) and NAT64 (64:ff9b::a.b.c.d)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _plainly_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private
                                 or (ip.version == 6 and ip.is_site_local))


def is_public(address: str) -> bool:
    """True if ``address`` (an IP address) may be fetched from without allow_private.

    Refused: loopback, private, link-local, site-local (fec0::/10), multicast, reserved,
    unspecified and shared (100.64/10), IPv4 and IPv6. An IPv6 address that embeds an IPv4
    one (v4-mapped, 6to4, NAT64) is judged by the IPv4 address; Teredo (2001::/32) by both
    the server and the client address it embeds; a site's own NAT64 prefix is refused.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.teredo is not None:
            server, client = ip.teredo
            return _plainly_public(server) and _plainly_public(client)
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _plainly_public(embedded)
        if ip in _NAT64_LOCAL:
            return False
    return _plainly_public(ip)


def _allowed(address: str, allow_private: Any) -> bool:
    if allow_private is True or is_public(address):
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[Any] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            candidates.append(embedded)
    return any(candidate in network for network in allow_private or ()
               for candidate in candidates if candidate.version == network.version)


def _check(host: str, addresses: list[str], allow_private: Any) -> list[str]:
    if not addresses:
        raise FetchError(f"{quoted(host)} did not resolve")
    if allow_private is not True:
        blocked = [a for a in addresses if not _allowed(a, allow_private)]
        if blocked:  # one non-public answer is enough to refuse: DNS rebinding picks its moment
            hint = "Fetcher(allow_private=True)"
            raise with_hint(BlockedAddressError(
                f"refusing to connect to {quoted(host)}: it resolves to non-public address "
                f"{blocked[0]} ({hint} allows it)"), "allow_private", True, hint)
    return addresses


def _literal(host: str) -> str | None:
    """The address itself when ``host`` is an IP literal: it needs no lookup."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return host


def _checked_target(host: str, port: int) -> None:
    if not host:
        raise FetchError("the URL has no host")
    if not 0 < port < 65536:
        raise FetchError(f"port {port} is not a TCP port")


# --- slots: a counting semaphore that threads and event loops can share ---------------------------

class _Slots:
    """At most ``n`` holders at once, waited for in first-come order by threads (``acquire``)
    and by tasks on any event loop (``acquire_async``). asyncio.Semaphore belongs to one loop
    and threading.Semaphore blocks a loop; a Fetcher is shared by both."""

    def __init__(self, n: int):
        self._free = n
        self._lock = threading.Lock()
        self._waiters: collections.deque[Any] = collections.deque()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            ready = threading.Event()
            self._waiters.append(ready)
        if ready.wait(timeout):
            return True
        with self._lock:
            if ready in self._waiters:
                self._waiters.remove(ready)
                return False
        return True  # handed a slot just as the wait ended: it is ours

    async def acquire_async(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except asyncio.CancelledError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise
            if waiter[1].done() and not waiter[1].cancelled():
                self.release()  # handed a slot, then cancelled: give it on
            raise  # (handed but not yet delivered: _deliver sees the cancel and gives it on)

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if isinstance(waiter, threading.Event):
                    waiter.set()
                    return
                loop, future = waiter
                try:
                    loop.call_soon_threadsafe(self._deliver, future)
                    return
                except RuntimeError:  # that loop is closed: the next waiter
                    continue
            self._free += 1

    def _deliver(self, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            self.release()
        else:
            future.set_result(None)


# --- name lookups --------------------------------------------------------------------------------

class _Resolver:
    """getaddrinfo on threads of its own, for every Fetcher, sync and async.

    The C resolver cannot be interrupted, so a lookup that outlives its fetch's deadline
    keeps running. Each lookup gets its own thread, so a slow one holds only itself; at most
    ``limit`` run at once (a new one waits for a free slot, within its fetch's deadline); and
    a lookup of a (host, port) already in flight joins it instead of starting another. The
    asyncio loop's default executor is never used.
    """

    def __init__(self, limit: int = MAX_LOOKUPS):
        self._slots = _Slots(limit)
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, int], Future[list[str]]] = {}

    def _joined(self, key: tuple[str, int]) -> Future[list[str]] | None:
        with self._lock:
            return self._in_flight.get(key)

    def _start(self, key: tuple[str, int]) -> Future[list[str]]:
        """Starts the lookup, the caller holding a slot, which the lookup's thread frees."""
        with self._lock:
            running = self._in_flight.get(key)
            if running is not None:  # started by another caller meanwhile: join it
                self._slots.release()
                return running
            lookup: Future[list[str]] = Future()
            lookup.set_running_or_notify_cancel()  # a caller giving up cannot cancel it for all
            self._in_flight[key] = lookup
        threading.Thread(target=self._run, args=(key, lookup), daemon=True,
                         name=f"visiontokens-dns {key[0][:40]}").start()
        return lookup

    def _run(self, key: tuple[str, int], lookup: Future[list[str]]) -> None:
        try:
            infos = socket.getaddrinfo(key[0], key[1], type=socket.SOCK_STREAM)
            lookup.set_result(list(dict.fromkeys(str(info[4][0]) for info in infos)))
        except BaseException as error:  # handed to the caller, who makes it a FetchError
            lookup.set_exception(error)
        finally:
            with self._lock:
                del self._in_flight[key]
            self._slots.release()

    def lookup(self, host: str, port: int) -> list[str]:
        key = (host, port)
        running = self._joined(key)
        if running is None:
            if not self._slots.acquire(_remaining(None)):
                raise httpcore.ConnectTimeout(f"no free DNS lookup slot for {quoted(host)}")
            running = self._start(key)
        try:
            return running.result(timeout=_remaining(None))
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {quoted(host)} outlasted the deadline") from None
        except (OSError, UnicodeError) as error:
            raise FetchError(f"cannot resolve {quoted(host)}: {error}") from None

    async def lookup_async(self, host: str, port: int) -> list[str]:
        key = (host, port)
        running = self._joined(key)
        if running is None:
            await self._slots.acquire_async()
            running = self._start(key)
        try:  # the fetch's asyncio.timeout bounds this wait
            return await asyncio.wrap_future(running)
        except (OSError, UnicodeError) as error:
            raise FetchError(f"cannot resolve {quoted(host)}: {error}") from None


_RESOLVER = _Resolver()


# --- the guarded network backends ----------------------------------------------------------------

class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allow_private: Any):
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        _checked_target(host, port)
        literal = _literal(host)
        addresses = [literal] if literal is not None else _RESOLVER.lookup(host, port)
        error: Exception | None = None
        for address in _check(host, addresses, self._allow_private):
            try:  # connect to the address just checked, never to the name
                stream = self._inner.connect_tcp(address, port, _remaining(timeout), local_address,
                                                 socket_options)
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error  # type: ignore[misc]

    def connect_unix_socket(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise FetchError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, allow_private: Any):
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        _checked_target(host, port)
        literal = _literal(host)
        addresses = [literal] if literal is not None else await _RESOLVER.lookup_async(host, port)
        error: Exception | None = None
        for address in _check(host, addresses, self._allow_private):
            try:  # an IP literal: anyio connects without a lookup of its own
                return await self._inner.connect_tcp(address, port, _remaining(timeout),
                                                     local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error  # type: ignore[misc]

    async def connect_unix_socket(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise FetchError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# --- argument checks -----------------------------------------------------------------------------

def _number(name: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{name} must be a number of seconds, got {quoted(value)}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{name} must be a finite number of seconds > 0, got {quoted(value)}")
    return float(value)


def _integer(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{name} must be an int, got {quoted(value)}")
    if value < low:
        raise InvalidArgumentError(f"{name} must be at least {low}, got {value}")
    return value


def _networks(value: Any) -> bool | tuple[Any, ...]:
    if isinstance(value, bool):
        return value
    if value is None or isinstance(value, (str, bytes, bytearray)):
        raise ArgumentTypeError(
            "allow_private must be True, False or a list of networks such as "
            f"['10.20.0.0/16'], got {quoted(value)}")
    try:
        items = list(value)
    except TypeError:
        raise ArgumentTypeError(f"allow_private must be True, False or a list of networks, "
                                f"got {quoted(value)}") from None
    networks = []
    for item in items:
        if not isinstance(item, (str, ipaddress.IPv4Network, ipaddress.IPv6Network,
                                 ipaddress.IPv4Address, ipaddress.IPv6Address)):
            raise ArgumentTypeError(f"allow_private: a network must be a str such as "
                                    f"'10.20.0.0/16', got {quoted(item)}")
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as error:
            raise InvalidArgumentError(f"allow_private: {error}") from None
    return tuple(networks)


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArgumentTypeError(f"headers must be a dict of str to str, got {quoted(value)}")
    for key, item in value.items():
        if not (isinstance(key, str) and isinstance(item, str)):
            raise ArgumentTypeError(f"headers must be a dict of str to str, got {quoted(key)}: "
                                    f"{quoted(item)}")
        if any(c in key + item for c in "\r\n\0") or not key.strip():
            raise InvalidArgumentError(f"header {quoted(key)} holds a line break or is empty")
    return dict(value)


# --- the fetcher ---------------------------------------------------------------------------------

_TLS: Any = None
_TLS_LOCK = threading.Lock()


def _tls_context() -> Any:
    """The TLS context every fetch shares: loading the CA bundle costs tens of ms, once per
    process, not once per thread that happens to fetch first (within its deadline)."""
    global _TLS
    with _TLS_LOCK:
        if _TLS is None:
            _TLS = httpx.create_ssl_context()
        return _TLS

class Fetcher:
    """How remote ``http(s)`` images are fetched: ``count_request(body, fetch=Fetcher(...))``.

    timeout: total seconds per image (waiting for a slot, DNS, connects, redirects and reads
        together); a finite number > 0.
    max_bytes: the most read per image; the header must lie within it.
    max_redirects: redirects followed, each to a checked address.
    allow_private: True to also connect to loopback/private/link-local addresses, or the
        networks to allow among them, e.g. ["10.20.0.0/16"] for an internal image store.
    cache_size: URLs whose size is remembered (LRU; 0 turns the cache off).
    cache_ttl: seconds a remembered size stays valid; None: until evicted.
    max_concurrency: fetches this Fetcher runs at once, over all threads and event loops.
    headers: extra request headers.
    """

    def __init__(self, *, timeout: float = 5.0, max_bytes: int = 4 * 1024 * 1024,
                 max_redirects: int = 3, allow_private: Any = False, cache_size: int = 1024,
                 cache_ttl: float | None = 600.0, max_concurrency: int = 32,
                 headers: dict[str, str] | None = None):
        self.timeout: float = _number("timeout", timeout)  # type: ignore[assignment]
        self.max_bytes = _integer("max_bytes", max_bytes, 1)
        self.max_redirects = _integer("max_redirects", max_redirects, 0)
        self.allow_private: bool | tuple[Any, ...] = _networks(allow_private)
        self.cache_size = _integer("cache_size", cache_size, 0)
        self.cache_ttl = _number("cache_ttl", cache_ttl, allow_none=True)
        self.max_concurrency = _integer("max_concurrency", max_concurrency, 1)
        self.headers = {"Accept": "image/*", "Accept-Encoding": "identity",
                        "User-Agent": "visiontokens", **_headers(headers)}
        # url -> (expiry on _clock, result); the lock makes the LRU safe to share by threads
        self._cache: collections.OrderedDict[str, tuple[float, tuple[ImageInfo, int | None]]] = (
            collections.OrderedDict())
        self._cache_lock = threading.Lock()
        self._slots = _Slots(self.max_concurrency)

    def __repr__(self) -> str:
        return (f"Fetcher(timeout={self.timeout}, max_bytes={self.max_bytes}, "
                f"max_redirects={self.max_redirects}, allow_private={self.allow_private}, "
                f"max_concurrency={self.max_concurrency})")

    # -- clients: httpx's transports, with the guarded backend in their connection pool.
    # One client per fetch, closed with it: nothing outlives the call (or its event loop);
    # the TLS context, the costly part, is made once.

    def _tls(self) -> Any:
        return _tls_context()

    def _sync_client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(verify=self._tls(), retries=0)
        transport._pool._network_backend = _GuardedBackend(self.allow_private)  # noqa: SLF001
        return httpx.Client(transport=transport, trust_env=False, timeout=self.timeout,
                            follow_redirects=False)

    def _async_client(self) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(verify=self._tls(), retries=0)
        transport._pool._network_backend = _AsyncGuardedBackend(self.allow_private)  # noqa: SLF001
        return httpx.AsyncClient(transport=transport, trust_env=False, timeout=self.timeout,
                                 follow_redirects=False)

    # -- the cache

    def _cached(self, url: str) -> tuple[ImageInfo, int | None] | None:
        with self._cache_lock:
            hit = self._cache.get(url)
            if hit is None:
                return None
            if _clock() >= hit[0]:
                del self._cache[url]
                return None
            self._cache.move_to_end(url)
            return hit[1]

    def _remember(self, url: str, result: tuple[ImageInfo, int | None]) -> None:
        if not self.cache_size:
            return
        expires = math.inf if self.cache_ttl is None else _clock() + self.cache_ttl
        with self._cache_lock:
            self._cache[url] = (expires, result)
            self._cache.move_to_end(url)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    # -- the fetch

    def _request(self, url: httpx.URL) -> httpx.Request:
        if url.scheme not in ("http", "https"):
            raise FetchError(f"only http and https URLs are fetched, not {quoted(url.scheme)}")
        headers = {**self.headers, "Range": f"bytes=0-{self.max_bytes - 1}"}
        return httpx.Request("GET", url, headers=headers)

    @contextlib.contextmanager
    def _deadline(self, url: str) -> Iterator[None]:
        """One fetch: its deadline for the guarded backend, and every failure as a FetchError.

        httpx, httpcore, h11, idna and the codecs raise a dozen types on hostile input
        (UnicodeError for an empty label, InvalidURL, IDNAError, ValueError ...); a remote host
        must never crash a request, so anything but our own errors becomes a FetchError, its
        original kept as the cause."""
        token = _DEADLINE.set(time.monotonic() + self.timeout)
        try:
            yield
        except VisionTokensError:
            raise
        except (TimeoutError, httpx.TimeoutException, httpcore.TimeoutException):
            raise FetchError(f"fetching {quoted(url)} took longer than {self.timeout} s") from None
        except Exception as error:
            detail = quoted(str(error), 200)[1:-1] if str(error) else type(error).__name__
            raise FetchError(f"fetching {quoted(url)} failed: {detail}") from error
        finally:
            _DEADLINE.reset(token)

    def fetch(self, url: str) -> tuple[ImageInfo, int | None]:
        """(header info, the image's full size in bytes when the server says) for ``url``."""
        if not isinstance(url, str):
            raise ArgumentTypeError(f"url must be a str, got {type(url).__name__}")
        hit = self._cached(url)
        if hit is not None:
            return hit
        with self._deadline(url):
            if not self._slots.acquire(_remaining(None)):
                raise TimeoutError
            try:
                result = self._fetch_sync(url)
            finally:
                self._slots.release()
        self._remember(url, result)
        return result

    def _fetch_sync(self, url: str) -> tuple[ImageInfo, int | None]:
        with self._sync_client() as client:
            request = self._request(httpx.URL(url))
            for _ in range(self.max_redirects + 1):
                response = client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        reader = _HeaderReader(url, response, self.max_bytes)
                        for chunk in response.iter_raw():
                            if reader.feed(chunk):
                                break
                        return reader.result()
                finally:
                    response.close()
                request = self._request(response.next_request.url)
        raise FetchError(f"fetching {quoted(url)}: more than {self.max_redirects} redirects")

    async def fetch_async(self, url: str) -> tuple[ImageInfo, int | None]:
        if not isinstance(url, str):
            raise ArgumentTypeError(f"url must be a str, got {type(url).__name__}")
        hit = self._cached(url)
        if hit is not None:
            return hit
        with self._deadline(url):
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire_async()
                try:
                    result = await self._fetch_async(url)
                finally:
                    self._slots.release()
        self._remember(url, result)
        return result

    async def _fetch_async(self, url: str) -> tuple[ImageInfo, int | None]:
        async with self._async_client() as client:
            request = self._request(httpx.URL(url))
            for _ in range(self.max_redirects + 1):
                response = await client.send(request, stream=True)
                try:
                    if response.next_request is None:
                        reader = _HeaderReader(url, response, self.max_bytes)
                        async for chunk in response.aiter_raw():
                            if reader.feed(chunk):
                                break
                        return reader.result()
                finally:
                    await response.aclose()
                request = self._request(response.next_request.url)
        raise FetchError(f"fetching {quoted(url)}: more than {self.max_redirects} redirects")


# --- reading the body ----------------------------------------------------------------------------

class _Inflate:
    """One gzip or deflate layer whose output stops at ``cap`` bytes, in total: a bomb
    inflates only as far as the cap, whatever its ratio."""

    def __init__(self, encoding: str, cap: int):
        self._decoder = zlib.decompressobj(zlib.MAX_WBITS | (16 if "gzip" in encoding else 0))
        self._left = cap

    def push(self, data: bytes) -> bytes:
        if self._left <= 0 or self._decoder.eof:
            return b""
        out = self._decoder.decompress(self._decoder.unconsumed_tail + data, self._left)
        self._left -= len(out)
        return out


def _decoders(url: str, response: httpx.Response, cap: int) -> list[_Inflate]:
    """The layers to undo, last applied first; identity needs none, and anything but
    gzip or deflate (br, zstd, compress ...) is refused rather than decoded uncapped."""
    named = [part.strip().lower()
             for value in response.headers.get_list("content-encoding")
             for part in value.split(",")]
    layers = [name for name in named if name not in ("", "identity")]
    unknown = [name for name in layers if name not in ("gzip", "x-gzip", "deflate")]
    if unknown or len(layers) > MAX_ENCODING_LAYERS:
        raise FetchError(f"fetching {quoted(url)}: refusing Content-Encoding "
                         f"{quoted(', '.join(named), 60)} (identity, gzip or deflate, at most "
                         f"{MAX_ENCODING_LAYERS} layers)")
    return [_Inflate(name, cap) for name in reversed(layers)]


class _HeaderReader:
    """Collects a response body until the header parses, then says stop.

    The parser starts from the first byte each time, so it runs only when the data has at
    least doubled since the last try (or reached what the parser said it needs): O(log n)
    parses and O(n) parsing work in all, where parsing on every chunk was quadratic (a GIF of
    1-byte sub-blocks sent in 128-byte writes cost seconds)."""

    def __init__(self, url: str, response: httpx.Response, max_bytes: int):
        if response.status_code not in (200, 206):
            raise FetchError(f"fetching {quoted(url)}: HTTP {response.status_code}")
        self.url, self.max_bytes = url, max_bytes
        self.layers = _decoders(url, response, max_bytes)
        self.raw = 0  # raw bytes read: capped too, as a stream may inflate to nothing
        self.data = bytearray()
        self.next_parse = 1  # parse once the data reaches this length
        self.parsed_at = -1  # the length of the data at the last parse
        self.info: ImageInfo | None = None
        # the image's own size in bytes; an encoded body's length is not it
        self.total = None if self.layers else _full_size(response)
        self.partial: ImageInfo | None = None  # the answer so far, once the size is in

    def feed(self, chunk: bytes) -> bool:
        """Takes a raw chunk; True once the header is known."""
        self.raw += len(chunk)
        for layer in self.layers:
            try:
                chunk = layer.push(chunk)
            except zlib.error as error:
                raise FetchError(f"fetching {quoted(self.url)}: corrupt compressed body: "
                                 f"{error}") from None
        self.data += chunk[: self.max_bytes - len(self.data)]
        full = len(self.data) >= self.max_bytes or self.raw >= self.max_bytes
        if len(self.data) >= self.next_parse or (full and self.parsed_at != len(self.data)):
            if self._parse():
                return True
        if full:
            if self.partial is not None:  # sized; the rest (a GIF's later frames) is not read
                self.info = self.partial
                return True
            raise FetchError(f"fetching {quoted(self.url)}: no image header within the first "
                             f"{self.max_bytes} bytes")
        return False

    def _parse(self) -> bool:
        self.parsed_at = len(self.data)
        try:  # the start of the body: an answer only once no later byte can change it
            self.info = _header.parse_buffer(self.data, complete=False)
            return True
        except TruncatedImageError as short:
            self.next_parse = max(short.needed, 2 * len(self.data))
            if isinstance(short.info, ImageInfo):
                self.partial = short.info
            return False

    def result(self) -> tuple[ImageInfo, int | None]:
        if self.info is None:  # the body ended: a complete parse, or the real error
            self.info = _header.parse_buffer(self.data)  # (truncated, not an image ...)
        return self.info, self.total


def _digits(text: str) -> int | None:
    """A non-negative ASCII decimal of at most 18 digits, else None: ``str.isdigit`` takes
    "²" and int() refuses it, and int() of a 5,000-digit header is an error too."""
    text = text.strip()
    if 0 < len(text) <= 18 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _full_size(response: httpx.Response) -> int | None:
    """The whole image's size in bytes, when the headers give it."""
    if response.status_code == 206:
        return _digits(response.headers.get("content-range", "").rpartition("/")[2])
    return _digits(response.headers.get("content-length", ""))
