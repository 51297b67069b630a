"""The request scan (requests/_scan_c.pyx): a body validated and its images found in place.

Targets (issue 20), ratios in one run:
- on a 24 MB Chat body holding four data-URL images, validating it, finding the four URLs
  lazily and reading their headers from the body's bytes takes at most 0.5x
  ``jiter.from_json`` on the same bytes;
- the process's peak memory beyond the body, in a fresh process, is at most 0.2x the body;
- a dense body (10 million empty objects, ~30 MB) scanned with every element visited peaks
  at most 2x the body.
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
            "scan + headers (cython)": lambda data: find_and_read(*compiled, data),
            "scan + headers (python)": lambda data: find_and_read(*pure, data)}


@pytest.mark.parametrize("what", ["jiter.from_json", "scan + headers (cython)",
                                  "scan + headers (python)"])
def test_scan_four_images(benchmark, what):
    benchmark.group = "scan: 24 MB, 4 images"
    data = four_images()
    fn = _runs()[what]
    assert what == "jiter.from_json" or len(fn(data)) == 4
    benchmark.pedantic(fn, (data,), rounds=7, iterations=3)


def test_scan_ratio_to_jiter(measured):
    data = four_images()
    runs = _runs()
    ours = per_call_ns(runs["scan + headers (cython)"], data, number=5, repeat=9)
    floor = per_call_ns(runs["jiter.from_json"], data, number=5, repeat=9)
    print(f"\n24 MB, 4 images ({len(data)} B): scan + headers {ours / 1e6:.2f} ms, "
          f"jiter.from_json {floor / 1e6:.2f} ms (ours = {ours / floor:.2f}x)")
    assert ours <= 0.5 * floor


PEAK_SCRIPT = textwrap.dedent("""
    import resource, sys
    sys.path[:0] = sys.argv[3:]
    from test_bench_scan import find_and_read
    from implementations import load_twin
    scan, header = load_twin("scan", "cython"), load_twin("header", "cython")
    find_and_read(scan, header, b'{"messages": []}')  # everything imported before the baseline
    data = open(sys.argv[1], "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.argv[2] == "images":
        found = len(find_and_read(scan, header, data))
    else:  # every element visited, one at a time
        found = sum(1 for _ in scan.Document(data).root.get("messages"))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(data), found, (after - before) * 1024)  # ru_maxrss is in KiB on Linux
""")


def peak_growth(path, mode: str) -> tuple[int, int, int]:
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [here, os.path.join(os.path.dirname(here), "tests")]
    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path), mode, *paths],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
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


def test_dense_body_peak_memory(measured, tmp_path):
    count = 10_000_000
    path = tmp_path / "dense.json"
    with open(path, "wb") as file:
        file.write(b'{"model": "gpt-4o", "messages": [')
        for _ in range(count // 100_000 - 1):
            file.write(b"{}," * 100_000)
        file.write(b"{}," * 99_999 + b"{}]}")
    size, found, growth = peak_growth(path, "dense")
    print(f"\ndense, {count} empty objects: peak grew by {growth} B beyond the {size} B body "
          f"({growth / size:.3f}x)")
    assert found == count
    assert growth <= 2 * size
