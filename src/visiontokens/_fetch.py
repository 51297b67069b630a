"""Fetching the size of a remote image: only when asked, only as far as the header, safely.

SSRF protection lives in the network backend that httpx's connection pool uses to open
every TCP connection, the first one and each one a redirect leads to. The backend resolves
the host itself, refuses any address that is not public (loopback, private, link-local,
multicast, reserved, unspecified, IPv4 and IPv6, v4-mapped v6 included) before connecting,
and connects to the address it checked, so a DNS answer cannot change in between. TLS still
verifies the certificate against the host name. The same backend enforces one total
deadline per image on every connect, read and write (the async path also wraps the whole
fetch in ``asyncio.timeout``), so a server trickling a byte at a time cannot hold us, and neither can a slow DNS answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
import time
from collections import OrderedDict
from typing import Any, Iterator

import httpcore
import httpx

from ._extensions import twin
from ._errors import BlockedAddressError, FetchError, InvalidArgumentError, TruncatedImageError
from ._image_input import ImageInfo

_header = twin("header")  # the image-header parser

#: monotonic time by which the current fetch must be done (set per fetch, per task/thread)
_DEADLINE: contextvars.ContextVar[float] = contextvars.ContextVar("visiontokens_deadline")


def _remaining(timeout: float | None) -> float:
    left = _DEADLINE.get(float("inf")) - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch deadline passed")
    return left if timeout is None else min(timeout, left)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


def _allowed(address: str, allow_private: Any) -> bool:
    if allow_private is True or is_public(address):
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(ip in network for network in allow_private or ())


def _check(host: str, infos: list[Any], allow_private: Any) -> list[str]:
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise FetchError(f"{host!r} did not resolve")
    if allow_private is not True:
        blocked = [a for a in addresses if not _allowed(a, allow_private)]
        if blocked:  # one non-public answer is enough to refuse: DNS rebinding picks its moment
            raise BlockedAddressError(
                f"refusing to connect to {host!r}: it resolves to non-public address {blocked[0]} "
                "(Fetcher(allow_private=True) allows it)")
    return addresses


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


_RESOLVER: Any = None


def _resolve(host: str, port: int) -> list[Any]:
    """getaddrinfo within the fetch's deadline. The C resolver cannot be interrupted, so it
    runs on a small pool of threads and the caller stops waiting when the deadline comes."""
    global _RESOLVER
    if _RESOLVER is None:
        from concurrent.futures import ThreadPoolExecutor

        _RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="visiontokens-dns")
    lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout=_remaining(None))
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host!r} outlasted the deadline") from None
    except OSError as error:
        raise FetchError(f"cannot resolve {host!r}: {error}") from None


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allow_private: Any):
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        infos = _resolve(host, port)
        error: Exception | None = None
        for address in _check(host, infos, self._allow_private):
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
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise FetchError(f"cannot resolve {host!r}: {error}") from None
        error: Exception | None = None
        for address in _check(host, infos, self._allow_private):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        raise error  # type: ignore[misc]

    async def connect_unix_socket(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise FetchError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# --- the fetcher ---------------------------------------------------------------------------------

class Fetcher:
    """How remote ``http(s)`` images are fetched: ``count_request(body, fetch=Fetcher(...))``.

    timeout: total seconds per image (connect, redirects and reads together).
    max_bytes: the most read per image; the header must lie within it.
    max_redirects: redirects followed, each to a checked address.
    allow_private: True to also connect to loopback/private/link-local addresses, or the
        networks to allow among them, e.g. ["10.20.0.0/16"] for an internal image store.
    cache_size: URLs whose size is remembered (LRU).
    """

    def __init__(self, *, timeout: float = 5.0, max_bytes: int = 4 * 1024 * 1024,
                 max_redirects: int = 3, allow_private: Any = False, cache_size: int = 1024,
                 headers: dict[str, str] | None = None):
        if not timeout > 0 or max_bytes < 1 or max_redirects < 0 or cache_size < 0:
            raise InvalidArgumentError("timeout and max_bytes must be positive, max_redirects "
                                       "and cache_size non-negative")
        self.timeout = float(timeout)
        self.max_bytes = int(max_bytes)
        self.max_redirects = int(max_redirects)
        self.allow_private: bool | tuple[Any, ...] = (
            bool(allow_private) if isinstance(allow_private, bool) else
            tuple(ipaddress.ip_network(n, strict=False) for n in allow_private))
        self.cache_size = int(cache_size)
        self.headers = {"Accept": "image/*", "Accept-Encoding": "identity",
                        "User-Agent": "visiontokens", **(headers or {})}
        self._cache: OrderedDict[str, tuple[ImageInfo, int | None]] = OrderedDict()
        self._ssl_context: Any = None

    def __repr__(self) -> str:
        return (f"Fetcher(timeout={self.timeout}, max_bytes={self.max_bytes}, "
                f"max_redirects={self.max_redirects}, allow_private={self.allow_private})")

    # -- clients: httpx's transports, with the guarded backend in their connection pool.
    # One client per fetch, closed with it: nothing outlives the call (or its event loop);
    # the TLS context, the costly part, is made once.

    def _tls(self) -> Any:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

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

    # -- the fetch

    def _request_py(self, url: httpx.URL) -> httpx.Request:
        if url.scheme not in ("http", "https"):
            raise FetchError(f"only http and https URLs are fetched, not {url.scheme!r}")
        headers = {**self.headers, "Range": f"bytes=0-{self.max_bytes - 1}"}
        return httpx.Request("GET", url, headers=headers)

    def _cached(self, url: str) -> tuple[ImageInfo, int | None] | None:
        hit = self._cache.get(url)
        if hit is not None:
            self._cache.move_to_end(url)
        return hit

    def _remember(self, url: str, result: tuple[ImageInfo, int | None]) -> None:
        if self.cache_size:
            self._cache[url] = result
            self._cache.move_to_end(url)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    @contextlib.contextmanager
    def _deadline(self, url: str) -> Iterator[None]:
        """One fetch: its deadline for the guarded backend, and httpx's errors as ours."""
        token = _DEADLINE.set(time.monotonic() + self.timeout)
        try:
            yield
        except (TimeoutError, httpx.TimeoutException):
            raise FetchError(f"fetching {url!r} took longer than {self.timeout} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # InvalidURL: e.g. over 64 KB
            raise FetchError(f"fetching {url!r} failed: {error}") from None
        finally:
            _DEADLINE.reset(token)

    def fetch(self, url: str) -> tuple[ImageInfo, int | None]:
        """(header info, the image's full size in bytes when the server says) for ``url``."""
        hit = self._cached(url)
        if hit is not None:
            return hit
        with self._deadline(url):
            result = self._fetch_sync(url)
        self._remember(url, result)
        return result

    def _fetch_sync(self, url: str) -> tuple[ImageInfo, int | None]:
        with self._sync_client() as client:
            return self._follow_sync(client, url)

    def _follow_sync(self, client: httpx.Client, url: str) -> tuple[ImageInfo, int | None]:
        request = self._request_py(httpx.URL(url))
        for _ in range(self.max_redirects + 1):
            response = client.send(request, stream=True)
            try:
                if response.next_request is None:
                    reader = _HeaderReader(url, response, self.max_bytes)
                    for chunk in response.iter_bytes():
                        if reader.feed(chunk):
                            break
                    return reader.result()
            finally:
                response.close()
            request = self._request_py(response.next_request.url)
        raise FetchError(f"fetching {url!r}: more than {self.max_redirects} redirects")

    async def fetch_async(self, url: str) -> tuple[ImageInfo, int | None]:
        hit = self._cached(url)
        if hit is not None:
            return hit
        with self._deadline(url):
            async with asyncio.timeout(self.timeout):
                result = await self._fetch_async(url)
        self._remember(url, result)
        return result

    async def _fetch_async(self, url: str) -> tuple[ImageInfo, int | None]:
        async with self._async_client() as client:
            return await self._follow_async(client, url)

    async def _follow_async(self, client: httpx.AsyncClient, url: str) -> tuple[ImageInfo, int | None]:
        request = self._request_py(httpx.URL(url))
        for _ in range(self.max_redirects + 1):
            response = await client.send(request, stream=True)
            try:
                if response.next_request is None:
                    reader = _HeaderReader(url, response, self.max_bytes)
                    async for chunk in response.aiter_bytes():
                        if reader.feed(chunk):
                            break
                    return reader.result()
            finally:
                await response.aclose()
            request = self._request_py(response.next_request.url)
        raise FetchError(f"fetching {url!r}: more than {self.max_redirects} redirects")


class _HeaderReader:
    """Collects a response body until the header parses, then says stop."""

    def __init__(self, url: str, response: httpx.Response, max_bytes: int):
        if response.status_code not in (200, 206):
            raise FetchError(f"fetching {url!r}: HTTP {response.status_code}")
        self.url, self.max_bytes = url, max_bytes
        self.data = bytearray()
        self.needed = 1
        self.info: ImageInfo | None = None
        self.total = _full_size(response)

    def feed(self, chunk: bytes) -> bool:
        self.data += chunk[: self.max_bytes - len(self.data)]
        if len(self.data) >= self.needed:
            try:
                self.info = _header.parse_buffer(self.data)
                return True
            except TruncatedImageError as short:
                self.needed = short.needed
        if len(self.data) >= self.max_bytes:
            raise FetchError(f"fetching {self.url!r}: no image header within the first "
                             f"{self.max_bytes} bytes")
        return False

    def result(self) -> tuple[ImageInfo, int | None]:
        if self.info is None:  # the body ended: a complete parse, or the real error
            self.info = _header.parse_buffer(self.data)  # (truncated, not an image ...)
        return self.info, self.total


def _full_size(response: httpx.Response) -> int | None:
    """The whole image's size in bytes, when the headers give it."""
    if response.status_code == 206:
        total = response.headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length", "")
    return int(length) if length.isdigit() else None
