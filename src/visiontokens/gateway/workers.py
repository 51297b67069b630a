"""Counting off the event loop: a small pool of processes that count request bodies.

Why processes, not a thread pool: the parse and the walk run in compiled code (jiter, the
Cython walk) that holds the GIL for the whole call, so a dense body counted on a thread still
stalls the event loop for as long as it takes (measured: 3.3 s for 6 MB of ``[{}, {}, ...]``,
with an unrelated GET waiting all of it). A process holds its own GIL; the server only moves
bytes through a pipe (a blocking call on a thread, which releases the GIL). Processes also
make time and memory bounds real: a count over ``count_timeout`` is ended by replacing its
process, and ``worker_memory`` caps each process's address space.

The pool is the concurrency limiter too: a request waits for an idle process, so at most
``concurrency`` bodies are counted at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import re
import signal
import threading
from typing import Any, NamedTuple

from .config import ServeConfig

#: Error codes of a VisionTokensError by class, until every error carries its own ``code``.
_CODE_OVERRIDES = {"FetchError": "fetch_failed", "VisionTokensError": "error"}


def error_data(error: BaseException, pointer: str | None = None) -> dict[str, Any]:
    """``{"code", "pointer", "message"}`` of an error: the one place that reads them.

    Errors carry ``code``, ``pointer`` and ``message`` as data; where an error predates that,
    they are derived here (the code from the class name, the pointer from the image it
    belongs to, the message from its text)."""
    name = type(error).__name__
    code = getattr(error, "code", None) or _CODE_OVERRIDES.get(name) or re.sub(
        r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()
    where = getattr(error, "pointer", None) or pointer or None
    message = getattr(error, "message", None) or str(error)
    return {"code": code, "pointer": where, "message": message}


class Target(NamedTuple):
    """What the request says of its body besides the bytes: the ``api`` (None: told by the
    body's shape), the model a generateContent path names, and an Azure deployment path's
    deployment (see ``shared.count_body``)."""

    api: str | None = None
    model: str | None = None
    deployment: str | None = None


# --- in the counting process ---------------------------------------------------------------

_models: dict[Any, Any] = {}  # the config's aliases as count_body takes them, made once


def _aliases(config: ServeConfig) -> tuple[dict[str, str], tuple[bytes, ...]]:
    from .shared import alias_keys

    found = _models.get(config.model_aliases)
    if found is None:
        models = dict(config.model_aliases)
        found = _models[config.model_aliases] = (models, alias_keys(models))
    return found


def _count(body: bytes | bytearray | memoryview, target: Target, content_type: str | None,
           config: ServeConfig, fetcher: Any) -> dict[str, Any]:
    """count_request's answer as plain data: what /v1/count shows and /v1/check decides on.
    The model is resolved through ``--model-alias`` as the middleware resolves it through
    ``models=`` (``shared.count_body``)."""
    from .. import count_request
    from .._errors import RequestLimitError, UnknownModelError, VisionTokensError
    from .shared import count_body, run_sync
    from .shared import first_refusal as _first_refusal

    async def count(data: Any, **options: Any) -> Any:  # returns at once: see run_sync
        return count_request(data, **options)

    models, keys = _aliases(config)
    options = dict(ruleset=config.ruleset, fetch=fetcher, on_unknown="upper_bound",
                   on_violation="collect", content_type=content_type, api=target.api,
                   undocumented=config.undocumented, model=target.model)
    try:
        result = run_sync(count_body(count, body, options, models, keys,
                                     target.deployment))
    except VisionTokensError as error:
        return {"error": error_data(error), "limit": isinstance(error, RequestLimitError),
                "unknown_model": isinstance(error, UnknownModelError)}
    pointers = {id(image.error): image.pointer for image in result.images if image.error}
    images = [{"pointer": i.pointer, "source": i.source, "format": i.format, "width": i.width,
               "height": i.height, "detail": i.detail, "resolved_detail": i.resolved_detail,
               "tokens": i.tokens, "upper_bound": i.upper_bound, "note": i.note,
               "error": None if i.error is None else error_data(i.error, i.pointer)["code"]}
              for i in result.images]
    refusal = _first_refusal(result)
    return {"result": {
        "api": result.api, "model": result.model, "image_tokens": result.image_tokens,
        "upper_bound": result.upper_bound, "output_image_tokens": result.output_image_tokens,
        "output_upper_bound": result.output_upper_bound, "images": images,
        "skipped": [{"pointer": s.pointer, "type": s.type, "reason": s.reason}
                    for s in result.skipped],
        "violations": [error_data(v, pointers.get(id(v))) for v in result.violations]},
        "refusal": None if refusal is None else list(refusal)}


def _worker(conn: Any, body_fd: int, config_json: str) -> None:
    """A counting process: (target, content_type, length) in through the pipe, the body's bytes
    read from the shared memory file ``body_fd``, the answer out, until the server closes the
    pipe. SIGINT and SIGTERM are the server's to handle: a Ctrl-C or a SIGTERM to the process
    group must not end a count the server is still waiting for."""
    import os

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    config = ServeConfig.from_json(config_json)
    if config.worker_memory:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (config.worker_memory, config.worker_memory))
    fetcher = None
    if config.fetch:
        from ..images.fetch import Fetcher

        # the SSRF rules as everywhere: public addresses only
        fetcher = Fetcher(timeout=config.fetch_timeout, max_bytes=config.fetch_max_bytes)
    _count(b'{"model": "", "input": ""}', Target(), None, config, None)  # warm: imports, tables
    conn.send("ready")
    while True:
        try:
            target, content_type, length = conn.recv()
        except (EOFError, OSError):
            return
        try:
            body = os.pread(body_fd, length, 0)
            while len(body) < length:  # (a file in memory: one read, but never trust it)
                more = os.pread(body_fd, length - len(body), len(body))
                if not more:
                    raise OSError("the body's shared memory ended early")
                body += more
            answer = _count(body, Target(*target), content_type, config, fetcher)
        except MemoryError:
            answer = {"fatal": "count_out_of_memory"}
        except Exception as error:  # noqa: BLE001 - a bug: said, never a dead process
            answer = {"fatal": "internal_error", "type": type(error).__name__}
        body = b""
        conn.send(answer)


class _SharedFD:
    """A file descriptor handed to a spawned process (as multiprocessing hands it a pipe)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> Any:
        from multiprocessing.reduction import DupFd

        return _detach, (DupFd(self.fd),)


def _detach(dup: Any) -> int:
    fd: int = dup.detach()
    return fd


# --- in the server process -----------------------------------------------------------------

class CountUnavailable(Exception):
    """A count that could not finish: over the time limit, out of memory, or its process
    died. ``code`` says which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


#: Bodies over this many bytes are written to the shared memory on a thread, and the memory
#: is given back after the count (smaller ones keep their pages for the next body).
_LARGE = 8 * 1024 * 1024


def _write(fd: int, chunks: list[bytes]) -> None:
    """The body's chunks, one after the other, at the start of the memory file ``fd``: never
    joined into one body-sized object first."""
    import os

    at = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:  # (a file in memory takes it all at once, but never trust it)
            done = os.pwrite(fd, view, at)
            view, at = view[done:], at + done


class _Process:
    """One counting process. The body goes through a memory file (memfd) both processes
    hold: one copy in, one copy out, where a pipe moved it 64 KB at a time with a context
    switch each (measured on a 1 MB body: 5.7 ms through the pipe, with thread hops, against
    a count of 0.6 ms). Only the small (target, content type, length) message and the answer go
    through the pipe, which the event loop watches directly."""

    def __init__(self, context: Any, config_json: str) -> None:
        import os

        self.memory = os.memfd_create("visiontokens-body", os.MFD_CLOEXEC)
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, name="visiontokens-count", daemon=True,
                                       args=(child, _SharedFD(self.memory), config_json))
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> None:
        try:
            ready = self.conn.poll(timeout) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            raise RuntimeError("a counting process did not start (a script that starts the "
                               "server must do so under `if __name__ == \"__main__\":`)")

    async def call(self, chunks: list[bytes], target: Target, content_type: str | None,
                   timeout: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        size = sum(map(len, chunks))
        if size > _LARGE:
            await loop.run_in_executor(None, _write, self.memory, chunks)
        else:
            _write(self.memory, chunks)
        self.conn.send((tuple(target), content_type, size))
        answered = loop.create_future()
        fileno = self.conn.fileno()

        def readable() -> None:
            if not answered.done():
                answered.set_result(None)

        loop.add_reader(fileno, readable)
        try:
            await asyncio.wait_for(answered, timeout)
        finally:
            loop.remove_reader(fileno)
        answer: dict[str, Any] = self.conn.recv()
        if size > _LARGE:
            import os

            os.ftruncate(self.memory, 0)
        return answer

    def stop(self, kill: bool = False) -> None:
        import os

        if kill:
            self.process.kill()
        self.conn.close()  # the process sees EOF and returns
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        os.close(self.memory)


class CountPool:
    """``concurrency`` counting processes, started by :meth:`start` (at the server's startup)
    and stopped by :meth:`stop` (after the in-flight requests, at its shutdown)."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self._json = config.to_json()
        # spawn: the server process runs threads and an event loop; a fork of it is unsafe
        self._context = multiprocessing.get_context("spawn")
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.concurrency, thread_name_prefix="visiontokens-count")
        self._idle: asyncio.Queue[_Process] | None = None
        self._all: set[_Process] = set()
        self._lock = threading.Lock()
        self._pending: asyncio.Future[None] | None = None
        self.ready = False

    def _new(self) -> _Process:
        process = _Process(self._context, self._json)
        with self._lock:
            self._all.add(process)
        return process

    def _drop(self, process: _Process) -> None:
        with self._lock:
            self._all.discard(process)
        process.stop(kill=True)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        processes = [self._new() for _ in range(self.config.concurrency)]
        for process in processes:
            await loop.run_in_executor(self._threads, process.wait_ready, 120.0)
            self._idle.put_nowait(process)
        self.ready = True

    async def count(self, chunks: list[bytes], target: Target,
                    content_type: str | None) -> dict[str, Any]:
        """The answer for the body read as ``chunks``."""
        assert self._idle is not None, "the pool is not started"
        process = await self._idle.get()
        try:
            answer = await process.call(chunks, target, content_type, self.config.count_timeout)
        except TimeoutError:
            self._replace(process)
            raise CountUnavailable(
                "count_timeout",
                f"the count took longer than {self.config.count_timeout:g} s") from None
        except (EOFError, OSError):
            self._replace(process)
            raise CountUnavailable("count_failed", "the counting process died") from None
        except BaseException:  # cancelled mid-count: the pipe is in an unknown state
            self._replace(process)
            raise
        self._idle.put_nowait(process)
        if answer.get("fatal") == "count_out_of_memory":
            raise CountUnavailable(
                "count_out_of_memory", "the count needed more memory than a counting process "
                "may use")
        if "fatal" in answer:
            raise CountUnavailable("internal_error",
                                   f"the count failed: {answer.get('type', 'an error')}")
        return answer

    def _replace(self, process: _Process) -> None:
        """Ends ``process`` (it may still be counting) and starts another in its place; the
        new one joins the idle ones once it is ready."""
        self._drop(process)
        fresh = self._new()
        loop = asyncio.get_running_loop()

        async def join() -> None:
            try:
                await loop.run_in_executor(self._threads, fresh.wait_ready, 120.0)
            except RuntimeError:
                pass  # it fails its first call, and is replaced again
            assert self._idle is not None
            self._idle.put_nowait(fresh)

        self._pending = asyncio.ensure_future(join())

    def stop(self) -> None:
        self.ready = False
        with self._lock:
            processes = list(self._all)
            self._all.clear()
        for process in processes:
            process.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)
