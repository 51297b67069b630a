"""Fuzzing that keeps running (issue 12, item 4): the targets of fuzz/fuzz_targets.py, short here.

Every test run replays the seed corpus (fuzz/corpus/<target>/: real images, edge headers,
data URLs, request bodies, and any input a fuzzer ever found), then mutates it with
hypothesis, then gives atheris a few seconds per target when it is installed. Every input
must end in a result or one of our errors, the same in the compiled and the pure twins.

The long run is documented in fuzz/README.md: atheris for hours, or these same hypothesis
tests with VISIONTOKENS_FUZZ_EXAMPLES=1000000.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import fuzz_targets as targets  # noqa: E402  (fuzz/ is not a package: its harness runs it as a script too)

EXAMPLES = int(os.environ.get("VISIONTOKENS_FUZZ_EXAMPLES", "200"))
fuzz_settings = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def seeds(target: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((FUZZ / "corpus" / target).iterdir())]


def test_the_corpus_is_committed_and_small():
    for target in targets.TARGETS:
        files = list((FUZZ / "corpus" / target).iterdir())
        assert len(files) >= 10, target
        assert all(path.stat().st_size < 16 << 10 for path in files), target


def test_both_twins_are_fuzzed():
    import visiontokens

    if visiontokens.IMPLEMENTATION == "cython":  # not in a pure install (no compiler, or switched off)
        assert [m.__name__.rsplit(".", 1)[1] for m in targets.HEADER] == ["_header_c", "_header_py"]
        assert [m.__name__.rsplit(".", 1)[1] for m in targets.REQUEST] == ["_request_c", "_request_py"]


@pytest.mark.parametrize("target", list(targets.TARGETS))
def test_the_corpus_replays_clean(target):
    for data in seeds(target):
        targets.TARGETS[target](data)


def test_a_target_fails_on_a_foreign_exception_or_a_disagreement(monkeypatch):
    """The targets can fail: a crash and a twin that disagrees are both caught."""
    class Crashing:
        @staticmethod
        def image_info(data):
            raise KeyError("boom")

    monkeypatch.setattr(targets, "HEADER", [Crashing])
    with pytest.raises(AssertionError, match="KeyError escaped"):
        targets.image_bytes(b"\x89PNG")

    class Other:
        @staticmethod
        def image_info(data):
            return (1, 1, "png", False)

    monkeypatch.setattr(targets, "HEADER", [Other, *targets._twins("header")])
    with pytest.raises(AssertionError, match="Other gave"):
        targets.image_bytes(seeds("image_bytes")[0])


def mutations(target: str):
    """A seed with bytes overwritten, inserted, deleted or cut: where bugs live."""
    corpus = seeds(target)

    @st.composite
    def mutated(draw):
        data = bytearray(draw(st.sampled_from(corpus)))
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(data)))
            action = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
            if action == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            elif not data:
                continue
            elif action == "set":
                data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
            elif action == "delete":
                del data[at:at + draw(st.integers(1, 8))]
            else:
                del data[at:]
        return bytes(data)

    return st.one_of(mutated(), st.binary(max_size=256))


@fuzz_settings
@given(mutations("image_bytes"))
def test_fuzz_image_bytes(data):
    targets.image_bytes(data)


@fuzz_settings
@given(mutations("data_url"))
def test_fuzz_data_urls(data):
    targets.data_url(data)


@fuzz_settings
@given(mutations("request"))
def test_fuzz_request_bodies(data):
    targets.request_body(data)


#: Values of every JSON type: a value of the wrong type where the walk reads a field (a list
#: as a part's "type" was a bare TypeError: unhashable) is the crash byte mutations miss.
WRONG_TYPED = st.sampled_from([[], {}, 0, -1, 1.5, None, True, "", "x", [{}], {"type": []},
                               [[]], "data:", "https://"])


def _json_seeds() -> list[tuple[int, object]]:
    found = []
    for data in seeds("request"):
        if data and data[0] % 4 != 3:
            try:
                body = json.loads(data[1:])
            except (ValueError, RecursionError):
                continue
            if not _deeper(body, 20):  # (the deep-nesting seeds have their own tests)
                found.append((data[0], body))
    return found


def _deeper(value, limit: int) -> bool:
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > limit:
            return True
        if isinstance(node, (dict, list)):
            pending.extend((child, depth + 1)
                           for child in (node.values() if isinstance(node, dict) else node))
    return False


def _slots(value, path=()):
    """Every place in a JSON value: (container path, key or index)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield path, key
            yield from _slots(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield path, index
            yield from _slots(child, path + (index,))


@st.composite
def retyped(draw):
    """A JSON seed with one to three values replaced by values of other types: structure
    aware, so every field the walk reads meets every wrong type within a short run."""
    mode, body = draw(st.sampled_from(_json_seeds()))
    body = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        slots = list(_slots(body))
        if not slots:
            break
        path, key = draw(st.sampled_from(slots))
        node = body
        for step in path:
            node = node[step]
        node[key] = copy.deepcopy(draw(WRONG_TYPED))  # (a fresh value: never a cycle)
    return bytes([mode]) + json.dumps(body).encode()


@fuzz_settings
@given(retyped())
def test_fuzz_request_fields_of_the_wrong_type(data):
    targets.request_body(data)


def _same_package_env() -> dict:
    """The environment for a subprocess that must import the package these tests import (a
    relative PYTHONPATH would not follow it into another working directory)."""
    import visiontokens

    root = str(Path(visiontokens.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (the test extra installs it on Linux "
                           "x86-64 CPython < 3.14)")
@pytest.mark.parametrize("target", list(targets.TARGETS))
def test_atheris_short_run(target, tmp_path):
    """A few thousand coverage-guided runs per target, from the corpus, with a fixed seed so
    the run is the same each time. New inputs go to a temporary folder, never the corpus."""
    found = tmp_path / "found"
    found.mkdir()
    run = subprocess.run(
        [sys.executable, str(FUZZ / "atheris_main.py"), target, str(found),
         str(FUZZ / "corpus" / target), "-runs=3000", "-seed=1", "-timeout=10",
         "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_same_package_env())
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 3000 runs" in run.stderr
