"""The caches under threads (issue 9, part 5): the header parser's cache of recent results,
the registry's one cache of resolved models (the calculator's lookup, the request walk's
record, the upper bound), hammered from 16 threads with repeated and distinct inputs while
a registration changes under them. Every result is checked against the pure twin's, computed
beforehand on one thread.

On a free-threaded build this is the test of the critical sections and the registry lock; on
a GIL build a tiny switch interval makes threads interleave inside Python-level code (the
registry's fill path), where a stale model could once be cached for good.
"""

from __future__ import annotations

import random
import sys
import threading

import pytest
from headers import data_url, gif_header, jpeg_header, png_header
from implementations import load_twin

import visiontokens
from visiontokens import rules

THREADS = 16
NAME = "threads-test-model"  # flips between two documented models while the threads run
LIKES = ("gpt-4o", "gpt-4.1-mini")
SIZES = [(w, h) for w in (1, 31, 512, 767, 1920, 4096) for h in (1, 768, 1080, 2049)]


@pytest.fixture
def switchy():
    """Threads switch every microsecond, so they interleave inside the cache code."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.fixture
def flipping():
    """NAME registered as an alias; unregistered afterwards whatever happens."""
    rules.register_model(NAME, like=LIKES[0], replace_existing=True)
    try:
        yield
    finally:
        rules.unregister_model(NAME)


def hammer(work, n_threads=THREADS):
    """Run work(index) on n_threads threads started together; re-raise the first failure."""
    start = threading.Barrier(n_threads)
    failures: list[BaseException] = []

    def run(index):
        try:
            start.wait()
            work(index)
        except BaseException as failure:  # noqa: BLE001 - reported on the main thread
            failures.append(failure)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if failures:
        raise failures[0]


def test_header_cache_under_threads(parser, switchy):
    # 1,200 distinct headers over the cache's 256 slots: every thread evicts what another
    # just stored; the first 40 come back again and again (hits).
    pure = load_twin("header", "python")
    inputs = [png_header(w, 1000 + w) for w in range(1, 801)]
    inputs += [gif_header(w, 7 + w % 300) for w in range(1, 201)]
    inputs += [jpeg_header(1 + w, 2 + w) for w in range(200)]
    inputs += [data_url(png_header(w, w)).encode() for w in range(1, 41)]
    expected = [tuple(pure.image_info(data)) for data in inputs]

    def work(index):
        rng = random.Random(index)
        for _ in range(1500):
            k = rng.randrange(40) if rng.random() < 0.5 else rng.randrange(len(inputs))
            got = parser.image_info(inputs[k])
            assert tuple(got) == expected[k], (k, got, expected[k])
            assert got.width == expected[k][0]  # a whole ImageInfo, never a torn or freed one

    hammer(work)


def test_model_caches_under_threads_with_registrations_changing(impl, walk, switchy, flipping):
    pure = load_twin("tokens", "python")
    names = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "gpt-4o-2024-08-06", "o3"]
    expected = {(name, rs, w, h): pure.count_image_tokens(w, h, name, "high", ruleset=rs)
                for name in names + list(LIKES) for rs in (None, "2026-04")
                for w, h in SIZES}
    bounds = {like: visiontokens.max_image_tokens(like, "high") for like in LIKES}
    png = data_url(png_header(1920, 1080))
    body = {"model": NAME, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": png, "detail": "high"}}]}]}
    rounds = [0] * THREADS  # each checker's rounds: the changes go on until all did 40
    done = threading.Event()

    def work(index):
        if index == 0:  # the registration changes under everyone else
            flips = 0
            while min(rounds[1:]) < 40 and flips < 200_000:
                rules.register_model(NAME, like=LIKES[flips % 2], replace_existing=True)
                flips += 1
            rules.register_model(NAME, like=LIKES[1], replace_existing=True)
            done.set()
            return
        rng = random.Random(index)
        while not done.is_set():
            rounds[index] += 1
            w, h = rng.choice(SIZES)
            rs = rng.choice((None, "2026-04"))
            name = rng.choice(names)
            assert impl.count_image_tokens(w, h, name, "high", ruleset=rs) == expected[name, rs, w, h]
            assert impl.get_model(name, ruleset=rs).count(w, h, "high") == expected[name, rs, w, h]
            # the flipping name: either model, never anything else
            got = impl.count_image_tokens(w, h, NAME, "high", ruleset=rs)
            assert got in {expected[like, rs, w, h] for like in LIKES}, (got, w, h, rs)
            assert visiontokens.max_image_tokens(NAME, "high") in bounds.values()
            tokens = walk.count_request(body).image_tokens
            assert tokens in {expected[like, None, 1920, 1080] for like in LIKES}

    hammer(work)
    assert min(rounds[1:]) >= 40
    # The registration ended on LIKES[1]: no cache may still hold what LIKES[0] gave.
    final = LIKES[1]
    for w, h in SIZES:
        for rs in (None, "2026-04"):
            assert impl.count_image_tokens(w, h, NAME, "high", ruleset=rs) == expected[final, rs, w, h]
            assert impl.get_model(NAME, ruleset=rs).count(w, h, "high") == expected[final, rs, w, h]
    assert visiontokens.max_image_tokens(NAME, "high") == bounds[final]
    assert walk.count_request(body).image_tokens == expected[final, None, 1920, 1080]
    assert walk.count_request(body).model == final


def test_a_fill_never_outlives_the_registration_change_it_raced(impl, flipping):
    # The race made deterministic: a thread is resolving NAME (inside the cache's fill) when
    # another changes the registration. The fill must not store the model it resolved from the
    # old table after the change cleared the cache. Cached models are keyed per twin's use, so
    # the calculator's own entry is what is checked.
    resolving, changed = threading.Event(), threading.Event()
    real_resolve = rules.resolve

    def slow_resolve(name, ruleset=None, *policies):
        spec = real_resolve(name, ruleset, *policies)
        if name == NAME and not resolving.is_set():
            resolving.set()
            changed.wait(timeout=0.5)  # the other thread cannot change it while we hold the lock
        return spec

    rules.resolve = slow_resolve
    try:
        counter = threading.Thread(target=impl.count_image_tokens, args=(1024, 1024, NAME, "high"))
        counter.start()
        assert resolving.wait(timeout=10)
        changer = threading.Thread(target=rules.register_model, args=(NAME,),
                                   kwargs={"like": LIKES[1], "replace_existing": True})
        changer.start()
        changer.join(timeout=0.2)  # done by now, unless the fill holds it off (as it must)
        changed.set()
        counter.join(timeout=10)
        changer.join(timeout=10)
    finally:
        rules.resolve = real_resolve
    pure = load_twin("tokens", "python")
    assert impl.count_image_tokens(1024, 1024, NAME, "high") == pure.count_image_tokens(
        1024, 1024, LIKES[1], "high")
