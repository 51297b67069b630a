"""The request scan (requests/_scan_c.pyx): a body validated and its images found in place.

Targets (issue 20), ratios in one run, each measured on ``count_request(bytes)`` itself (the
scan, the walk through its nodes, the headers read in place, the pricing):
- on a 24 MB Chat body holding four data-URL images, at most 0.5x ``jiter.from_json`` on the
  same bytes (the scan and header reads alone are shown beside it);
- the process's peak memory beyond the body, in a fresh process, is at most 0.2x the body;
- a dense Chat body (10 million empty messages, ~30 MB) counted peaks at most 2x the body;
- the same two for a ~29 MB Anthropic Messages body holding four raw base64 images (the
  providers' bodies are read in place too: their base64 is never a Python str).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from benchutil import per_call_ns
from implementations import load_twin

_bodies: dict[str, bytes] = {}


def four_images() -> bytes:
    if "four" not in _bodies:
        from test_request_bytes import large_body  # (tests/ is on the path: its body builder)

        _bodies["four"] = large_body()
    return _bodies["four"]


def anthropic_four() -> bytes:
    """~29 MB: four images of ~7.3 MB of base64 each (under Claude's 10 MB per image, the
    body under its 32 MB per request)."""
    if "anthropic" not in _bodies:
        from test_request_bytes import provider_body

        _bodies["anthropic"] = provider_body("anthropic", each=5_500_000)
    return _bodies["anthropic"]


def find_and_read(scan, header, data) -> list:
    """What a Chat walker does on bytes: the data URLs' headers, nothing materialised."""
    infos = []
    for message in scan.Document(data).root.get("messages"):
        content = message.get("content")
        if not isinstance(content, scan.ArrayNode):
            continue
        for part in content:
            if isinstance(part, scan.ObjectNode) and part.get("type") == "image_url":
                url = part.get("image_url").get("url")
                infos.append(header.data_url_info(url.view(), ascii=url.isascii()))
    return infos


def _runs():
    import jiter

    compiled = (load_twin("scan", "cython"), load_twin("header", "cython"))
    pure = (load_twin("scan", "python"), load_twin("header", "python"))
    return {"jiter.from_json": jiter.from_json,
            "count_request (cython)": load_twin("request", "cython").count_request,
            "scan + headers (cython)": lambda data: find_and_read(*compiled, data),
            "scan + headers (python)": lambda data: find_and_read(*pure, data)}


@pytest.mark.parametrize("what", ["jiter.from_json", "count_request (cython)",
                                  "scan + headers (cython)", "scan + headers (python)"])
def test_scan_four_images(benchmark, what):
    benchmark.group = "scan: 24 MB, 4 images"
    data = four_images()
    fn = _runs()[what]
    if what.startswith("count_request"):
        assert len(fn(data).images) == 4
    elif what != "jiter.from_json":
        assert len(fn(data)) == 4
    benchmark.pedantic(fn, (data,), rounds=7, iterations=3)


def test_scan_ratio_to_jiter(measured):
    data = four_images()
    runs = _runs()
    # interleaved rounds, best of each: the machine is shared
    ours = scan = floor = float("inf")
    for _ in range(3):
        ours = min(ours, per_call_ns(runs["count_request (cython)"], data, number=5, repeat=3))
        scan = min(scan, per_call_ns(runs["scan + headers (cython)"], data, number=5, repeat=3))
        floor = min(floor, per_call_ns(runs["jiter.from_json"], data, number=5, repeat=3))
    print(f"\n24 MB, 4 images ({len(data)} B): count_request {ours / 1e6:.2f} ms, scan + "
          f"headers alone {scan / 1e6:.2f} ms, jiter.from_json {floor / 1e6:.2f} ms "
          f"(count_request = {ours / floor:.2f}x)")
    assert ours <= 0.5 * floor


@pytest.mark.parametrize("what", ["jiter.from_json", "count_request (cython)"])
def test_scan_anthropic_four_images(benchmark, what):
    benchmark.group = "scan: 29 MB Anthropic body, 4 base64 images"
    data = anthropic_four()
    fn = _runs()[what]
    if what.startswith("count_request"):
        assert len(fn(data).images) == 4
    benchmark.pedantic(fn, (data,), rounds=7, iterations=3)


def test_scan_anthropic_ratio_to_jiter(measured):
    data = anthropic_four()
    runs = _runs()
    ours = floor = float("inf")
    for _ in range(3):  # interleaved rounds, best of each: the machine is shared
        ours = min(ours, per_call_ns(runs["count_request (cython)"], data, number=5, repeat=3))
        floor = min(floor, per_call_ns(runs["jiter.from_json"], data, number=5, repeat=3))
    print(f"\n29 MB Anthropic, 4 images ({len(data)} B): count_request {ours / 1e6:.2f} ms, "
          f"jiter.from_json {floor / 1e6:.2f} ms (count_request = {ours / floor:.2f}x)")
    assert ours <= 0.5 * floor


PEAK_SCRIPT = textwrap.dedent("""
    import sys
    sys.path[:0] = sys.argv[3:]
    from implementations import load_twin
    count_request = load_twin("request", "cython").count_request
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    # everything imported, the model resolved, before the baseline
    count_request(b'{"model": "gpt-4.1-mini", "messages": [{"content": [{"type": "image_url", '
                  b'"image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAA'
                  b'BCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"}}]}]}')
    data = open(sys.argv[1], "rb").read()
    # The peak (VmHWM) reset to the resident size once the body is in memory: the process's
    # high-water mark otherwise already holds the file's read, and hides what the count adds.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    result = count_request(data)
    found = len(result.images) if sys.argv[2] == "images" else 0
    print(len(data), found, status("VmHWM") - before)
""")


def peak_growth(path, mode: str) -> tuple[int, int, int]:
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [here, os.path.join(os.path.dirname(here), "tests")]
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path), mode, *paths],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    if done.returncode and "clear_refs" in done.stderr:
        pytest.skip("this kernel cannot reset the peak resident size")
    assert done.returncode == 0, done.stderr[-2000:]
    size, found, growth = map(int, done.stdout.split())
    return size, found, growth


def test_scan_peak_memory_beyond_the_body(measured, tmp_path):
    path = tmp_path / "four.json"
    path.write_bytes(four_images())
    size, found, growth = peak_growth(path, "images")
    print(f"\n24 MB, 4 images: peak grew by {growth} B beyond the {size} B body "
          f"({growth / size:.3f}x)")
    assert found == 4
    assert growth <= 0.2 * size


def test_scan_anthropic_peak_memory_beyond_the_body(measured, tmp_path):
    """Measured 2026-12-04: ~1.01x the body before the walkers read nodes, ~0.01x after."""
    path = tmp_path / "anthropic.json"
    path.write_bytes(anthropic_four())
    size, found, growth = peak_growth(path, "images")
    print(f"\n29 MB Anthropic, 4 images: peak grew by {growth} B beyond the {size} B body "
          f"({growth / size:.3f}x)")
    assert found == 4
    assert growth <= 0.2 * size


def test_dense_body_peak_memory(measured, tmp_path):
    count = 10_000_000
    path = tmp_path / "dense.json"
    with open(path, "wb") as file:
        file.write(b'{"model": "gpt-4.1-mini", "messages": [')
        for _ in range(count // 100_000 - 1):
            file.write(b"{}," * 100_000)
        file.write(b"{}," * 99_999 + b"{}]}")
    size, found, growth = peak_growth(path, "dense")
    print(f"\ndense, {count} empty objects: peak grew by {growth} B beyond the {size} B body "
          f"({growth / size:.3f}x)")
    assert found == 0
    assert growth <= 2 * size
