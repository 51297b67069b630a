"""``visiontokens serve`` under load (issue 20): ``wrk`` posts a 1 MB four-image Chat body to
``/v1/check``, and the same body to a no-op ASGI app that reads it and answers 200, both under
uvicorn with one worker, started in this run on 127.0.0.1. Requests per second and p50/p99
latency; the aims are serve >= 0.8x the no-op's requests per second and its p99 <= 1.5x the
no-op's. Each server is measured four times, interleaved, two seconds each; the best run of each
counts (the least disturbed by the neighbours on a shared machine).

serve's processes tell glibc's allocator to keep freed memory (gateway.server.keep_freed_memory),
which spares uvicorn's own body handling most of its page faults. The no-op app is measured
twice: as it comes (the gate), and with the same allocator settings (MALLOC_* variables): that
second ratio is what serve's own work costs, reported, an expected failure while under 0.8.

Needs ``wrk`` (Debian package ``wrk``); skipped without it, and skipped unless measured.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import visiontokens

WRK = shutil.which("wrk")
HERE = Path(__file__).resolve().parent
# the servers import the visiontokens this run measures (an installed one in CI, whose source
# tree holds no compiled twins), not whatever lies in the checkout's src/
PACKAGE_ROOT = Path(visiontokens.__file__).resolve().parents[1]
SECONDS, CONNECTIONS, ROUNDS = 2, 8, 4


async def noop(scope, receive, send):
    """The floor: an ASGI app that reads the whole body and answers a small JSON."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b'{"length": %d}' % size
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(PACKAGE_ROOT), str(HERE), str(HERE.parent / "tests"), os.environ.get("PYTHONPATH", "")]),
        **(extra_env or {})}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"{command} exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code in (200, 404, 405):
                return process
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{command} did not start"
        time.sleep(0.1)


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(url: str, body_file: Path, script: Path, seconds: int) -> dict[str, float]:
    out = subprocess.run([WRK, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "VT_BODY": str(body_file)}, check=True).stdout
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])}
    for percent in ("50", "99"):
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        figures[f"p{percent}"] = float(value) * _UNITS[unit]
    return figures


LUA = """
local f = assert(io.open(os.getenv("VT_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""


@pytest.mark.skipif(WRK is None, reason="wrk is not installed (Debian: apt-get install wrk)")
def test_serve_against_a_noop_app(measured, tmp_path):
    pytest.importorskip("uvicorn")
    from test_asgi import chat_body

    body = chat_body(1_340_000)  # 1.0 MB: three images carry bytes (the GIF is a header)
    body_file, script = tmp_path / "body.json", tmp_path / "post.lua"
    body_file.write_bytes(body)
    script.write_text(LUA)
    from visiontokens.gateway.server import KEEP_FREE, MMAP_BELOW

    serve_port, noop_port, kept_port = free_port(), free_port(), free_port()
    noop_command = [sys.executable, "-m", "uvicorn", "--workers", "1", "--log-level", "warning",
                    "--no-access-log", "test_bench_serve:noop", "--port"]
    servers = [
        start([sys.executable, "-m", "visiontokens", "serve", "--port", str(serve_port),
               "--workers", "1", "--log-level", "warning"], serve_port),
        start(noop_command + [str(noop_port)], noop_port),
        start(noop_command + [str(kept_port)], kept_port,
              {"MALLOC_MMAP_THRESHOLD_": str(MMAP_BELOW), "MALLOC_TRIM_THRESHOLD_": str(KEEP_FREE)})]
    try:
        targets = {"serve": f"http://127.0.0.1:{serve_port}/v1/check",
                   "no-op": f"http://127.0.0.1:{noop_port}/v1/check",
                   "no-op*": f"http://127.0.0.1:{kept_port}/v1/check"}
        check = httpx.post(targets["serve"], content=body,
                           headers={"content-type": "application/json"})
        assert check.status_code == 200 and int(check.headers["x-image-tokens"]) > 0
        for url in targets.values():
            wrk(url, body_file, script, 1)  # warm up
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(ROUNDS):  # interleaved, so drift hits both alike
            for name, url in targets.items():
                runs[name].append(wrk(url, body_file, script, SECONDS))
    finally:
        for process in servers:
            process.terminate()
            process.wait(30)
    best = {name: {"rps": max(r["rps"] for r in rs), "p50": min(r["p50"] for r in rs),
                   "p99": min(r["p99"] for r in rs)} for name, rs in runs.items()}
    rps = best["serve"]["rps"] / best["no-op"]["rps"]
    p99 = best["serve"]["p99"] / best["no-op"]["p99"]
    rps_kept = best["serve"]["rps"] / best["no-op*"]["rps"]
    p99_kept = best["serve"]["p99"] / best["no-op*"]["p99"]
    print(f"\nserve vs a no-op app, {len(body) / 1e6:.1f} MB 4-image body, wrk -c{CONNECTIONS}, "
          "uvicorn 1 worker (no-op*: with serve's allocator settings):")
    for name, figures in best.items():
        print(f"  {name:<6} {figures['rps']:8.1f} req/s  p50 {figures['p50'] * 1e3:7.2f} ms  "
              f"p99 {figures['p99'] * 1e3:7.2f} ms")
    print(f"  ratios: rps {rps:.2f}x (aim >= 0.8), p99 {p99:.2f}x (aim <= 1.5); "
          f"against no-op*: rps {rps_kept:.2f}x, p99 {p99_kept:.2f}x")
    assert rps >= 0.8 and p99 <= 1.5
    if rps_kept < 0.8 or p99_kept > 1.5:
        # serve's own work, the allocator set alike: not yet within the aim. Reported as an
        # expected failure with its figures, never as a pass.
        pytest.xfail(f"against a no-op app with serve's allocator settings: {rps_kept:.2f}x its "
                     f"requests per second (aim >= 0.8x), p99 {p99_kept:.2f}x (aim <= 1.5x)")
