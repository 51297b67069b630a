"""The few metrics ``serve`` exposes, in the Prometheus text format (version 0.0.4).

Written here rather than with ``prometheus_client``: four families of counters, two gauges and
one histogram are some sixty lines, and the format is stable.

With ``--workers N`` every server process answers ``/metrics``, and each answer is the sum
over all of them, so a scrape reads the whole server whichever process takes it. The way is
prometheus_client's multiprocess mode, without the dependency: each process keeps its figures
in a small file of its own in a directory ``serve`` makes for the run (in ``/dev/shm`` where
there is one: memory, not disk), mapped into memory, so adding to a figure is a store, no
system call; a scrape reads every file and adds them up. The files of processes that ended
stay (a counter never goes down, and uvicorn starts a new process in the place of one that
died), except for the gauges, which count only the processes still running. One process
(``--workers 1``, or the app run by hand) keeps its figures in memory alone.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
from typing import Iterable

#: Latency buckets, in seconds: a 1 MB body counts in about a millisecond, a dense or huge
#: one in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The directory of the server processes' figures; ``serve --workers N`` sets it for its
#: processes (see :func:`visiontokens.gateway.server.run`).
DIRECTORY_VARIABLE = "VISIONTOKENS_SERVE_METRICS_DIR"
#: The figures that are gauges: summed over the running processes only.
GAUGES = ("counting",)

Key = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + text + "}" if text else ""


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# --- one process's file ---------------------------------------------------------------------

_HEADER = struct.Struct("<Q")  # the bytes in use, header included
_LENGTH = struct.Struct("<I")  # an entry: its key's length, the key (UTF-8), padding to 8,
_VALUE = struct.Struct("<d")   # then its value
_INITIAL = 64 * 1024


def _entries(data: bytes | mmap.mmap) -> Iterable[tuple[str, float, int]]:
    """(key, value, offset of the value) of each whole entry of a file's bytes. A file is
    written by one process and read by others while it writes: an entry counts once the
    header says it is in use, and the header is written after the entry."""
    used = min(_HEADER.unpack_from(data, 0)[0], len(data)) if len(data) >= 8 else 0
    at = 8
    while at + 4 <= used:
        (length,) = _LENGTH.unpack_from(data, at)
        start = at + 4
        value_at = (start + length + 7) & ~7
        if value_at + 8 > used:
            return
        yield data[start:start + length].decode("utf-8"), \
            _VALUE.unpack_from(data, value_at)[0], value_at
        at = value_at + 8


class _File:
    """The figures of this process, by key, in a memory-mapped file only it writes."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = os.fstat(self.fd).st_size
        if size < _INITIAL:
            os.ftruncate(self.fd, _INITIAL)
            size = _INITIAL
        self.map = mmap.mmap(self.fd, size)
        # a process whose id an ended one had carries on from its figures
        self.offsets: dict[Key, int] = {}
        self.found: dict[Key, float] = {}
        for text, value, at in _entries(self.map):
            key = tuple(json.loads(text))
            self.offsets[key], self.found[key] = at, value
        self.used = max(_HEADER.unpack_from(self.map, 0)[0], 8)

    def set(self, key: Key, value: float) -> None:
        at = self.offsets.get(key)
        if at is None:
            at = self._append(key)
        _VALUE.pack_into(self.map, at, value)

    def _append(self, key: Key) -> int:
        encoded = json.dumps(key).encode("utf-8")
        value_at = (self.used + 4 + len(encoded) + 7) & ~7
        end = value_at + 8
        if end > len(self.map):
            self.map.resize(max(2 * len(self.map), end))  # the file grows with it
        _LENGTH.pack_into(self.map, self.used, len(encoded))
        self.map[self.used + 4:self.used + 4 + len(encoded)] = encoded
        _VALUE.pack_into(self.map, value_at, 0.0)
        self.used = end
        _HEADER.pack_into(self.map, 0, end)  # last: readers see the entry whole or not at all
        self.offsets[key] = value_at
        return int(value_at)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process: running
        return True
    return True


def read_directory(directory: str) -> tuple[dict[Key, float], int]:
    """The figures of every process that wrote to ``directory``, summed (gauges over the
    running ones), and how many of them are running."""
    totals: dict[Key, float] = {}
    running = 0
    for name in sorted(os.listdir(directory)):
        pid_text, dot, suffix = name.partition(".")
        if suffix != "metrics" or not dot or not pid_text.isdigit():
            continue
        try:
            with open(os.path.join(directory, name), "rb") as file:
                data = file.read()
        except FileNotFoundError:  # pragma: no cover - removed as the server stops
            continue
        alive = _running(int(pid_text))
        running += alive
        for text, value, _ in _entries(data):
            key = tuple(json.loads(text))
            if key[0] in GAUGES and not alive:
                continue
            totals[key] = totals.get(key, 0.0) + value
    return totals, running


# --- the metrics ----------------------------------------------------------------------------

class Metrics:
    """The figures of one server process; with a ``directory``, also written there for the
    other processes, and ``exposition`` answers with the sum over all of them."""

    def __init__(self, directory: str | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[Key, float] = {}
        self.directory = directory
        self._file = (None if directory is None else
                      _File(os.path.join(directory, f"{os.getpid()}.metrics")))
        if self._file is not None:  # the counters go on; nothing is being counted yet
            for key, value in self._file.found.items():
                self._values[key] = 0.0 if key[0] in GAUGES else value
                self._file.set(key, self._values[key])

    def _add(self, key: Key, amount: float) -> None:
        value = self._values[key] = self._values.get(key, 0.0) + amount
        if self._file is not None:
            self._file.set(key, value)

    @property
    def counting(self) -> int:
        """Bodies being counted now by this process (a gauge)."""
        return int(self._values.get(("counting",), 0.0))

    @counting.setter
    def counting(self, value: int) -> None:
        with self._lock:
            self._add(("counting",), value - self.counting)

    def observe(self, endpoint: str, status: int, seconds: float, code: str | None = None,
                input_tokens: int = 0, output_tokens: int = 0, images: int = 0) -> None:
        with self._lock:
            self._add(("requests", endpoint, str(status)), 1)
            if code:
                self._add(("errors", code), 1)
            if input_tokens:
                self._add(("image_tokens", "input"), input_tokens)
            if output_tokens:
                self._add(("image_tokens", "output"), output_tokens)
            if images:
                self._add(("images",), images)
            bucket = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound),
                          len(BUCKETS))
            self._add(("duration_bucket", endpoint, str(bucket)), 1)
            self._add(("duration_sum", endpoint), seconds)

    def values(self) -> tuple[dict[Key, float], int]:
        """The figures a scrape shows (every process's, summed) and the processes counted."""
        if self.directory is None:
            with self._lock:
                return dict(self._values), 1
        return read_directory(self.directory)

    def exposition(self) -> str:
        values, processes = self.values()

        def family(name: str) -> list[tuple[Key, float]]:
            return sorted((key[1:], value) for key, value in values.items() if key[0] == name)

        lines = ["# HELP visiontokens_requests_total Requests answered, by endpoint and status.",
                 "# TYPE visiontokens_requests_total counter"]
        lines += [f"visiontokens_requests_total{_labels([('endpoint', e), ('status', s)])} "
                  f"{_number(n)}" for (e, s), n in family("requests")]
        lines += ["# HELP visiontokens_image_tokens_total Image tokens counted, input and "
                  "output (generated images).",
                  "# TYPE visiontokens_image_tokens_total counter"]
        lines += [f"visiontokens_image_tokens_total{_labels([('kind', kind)])} "
                  f"{_number(values.get(('image_tokens', kind), 0.0))}"
                  for kind in ("input", "output")]
        lines += ["# HELP visiontokens_images_total Images counted.",
                  "# TYPE visiontokens_images_total counter",
                  f"visiontokens_images_total {_number(values.get(('images',), 0.0))}"]
        lines += ["# HELP visiontokens_counts_in_progress Bodies being counted now.",
                  "# TYPE visiontokens_counts_in_progress gauge",
                  f"visiontokens_counts_in_progress {_number(values.get(('counting',), 0.0))}"]
        lines += ["# HELP visiontokens_server_processes Server processes these figures add "
                  "up (--workers).",
                  "# TYPE visiontokens_server_processes gauge",
                  f"visiontokens_server_processes {processes}"]
        lines += ["# HELP visiontokens_errors_total Errors answered, by code.",
                  "# TYPE visiontokens_errors_total counter"]
        lines += [f"visiontokens_errors_total{_labels([('code', c)])} {_number(n)}"
                  for (c,), n in family("errors")]
        lines += ["# HELP visiontokens_request_duration_seconds Time from the request to "
                  "its answer, by endpoint.",
                  "# TYPE visiontokens_request_duration_seconds histogram"]
        buckets: dict[str, list[float]] = {}
        for (endpoint, index), n in family("duration_bucket"):
            buckets.setdefault(endpoint, [0.0] * (len(BUCKETS) + 1))[int(index)] += n
        sums = dict((endpoint, value) for (endpoint,), value in family("duration_sum"))
        for endpoint, counts in sorted(buckets.items()):
            running = 0.0
            for bound, n in zip([*map(repr, BUCKETS), "+Inf"], counts):
                running += n
                lines.append("visiontokens_request_duration_seconds_bucket"
                             f"{_labels([('endpoint', endpoint), ('le', bound)])} "
                             f"{_number(running)}")
            label = _labels([("endpoint", endpoint)])
            lines.append(f"visiontokens_request_duration_seconds_sum{label} "
                         f"{sums.get(endpoint, 0.0)!r}")
            lines.append(f"visiontokens_request_duration_seconds_count{label} "
                         f"{_number(running)}")
        return "\n".join(lines) + "\n"
