"""Calculator speed: the core against a C-call floor, the reference and numpy, in one run.

Targets (issue 3), as ratios measured in the same run on the same data:
scalar <= 3x math.gcd (Model.count <= 2x) and >= 10x the reference; batch per image
<= 40x (patch) and <= 12x (tile) np.add, >= 50x a Python loop over the reference,
>= 2x a numpy-vectorised exact implementation; a one-row batch call <= 25x math.gcd (~1 us).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchutil import core, per_call_ns, reference

N = 1_000_000
LOOP_N = 2_000  # the Python loop over the reference is timed on fewer rows, per image
RNG = np.random.default_rng(20261124)
WIDTHS = RNG.integers(1, 4097, N)
HEIGHTS = RNG.integers(1, 4097, N)
OUT = np.empty(N, dtype=np.int64)


# --- numpy-vectorised exact implementations (the "peer" a user could write) ------------------

def numpy_fit(w, h, box):
    long_, short = np.maximum(w, h), np.minimum(w, h)
    over = long_ > box
    short = np.where(over, np.maximum((2 * short * box + long_) // (2 * long_), 1), short)
    long_ = np.where(over, box, long_)
    landscape = w >= h
    return np.where(landscape, long_, short), np.where(landscape, short, long_)


def numpy_isqrt(x):
    r = np.sqrt(x.astype(np.float64)).astype(np.int64)
    r -= r * r > x
    r += (r + 1) * (r + 1) <= x
    return r


def numpy_patch(w, h, cap, budget, num, den):
    w, h = numpy_fit(w, h, cap)
    patches = ((w + 31) // 32) * ((h + 31) // 32)
    if budget:
        kw, kh = numpy_isqrt(budget * w // h), numpy_isqrt(budget * h // w)
        width_binds = kw * h <= kh * w
        w2 = np.where(width_binds, 32 * kw, (32 * kh * w) // h)
        h2 = np.where(width_binds, (32 * kw * h) // w, 32 * kh)
        shrunk = np.minimum(((np.maximum(w2, 1) + 31) // 32) * ((np.maximum(h2, 1) + 31) // 32), budget)
        patches = np.where(patches > budget, shrunk, patches)
    return (patches * num + den - 1) // den


def numpy_tile(w, h, base, per_tile, side=768):
    w, h = numpy_fit(w, h, 2048)
    long_, short = np.maximum(w, h), np.minimum(w, h)
    shrink = short > side
    long_ = np.where(shrink, (long_ * side) // np.maximum(short, 1), long_)
    short = np.where(shrink, side, short)
    return base + ((long_ + 511) // 512) * ((short + 511) // 512) * per_tile


def test_numpy_peer_is_exact():
    # The peer must compute the same numbers, or beating it means nothing.
    w, h = WIDTHS[:20000], HEIGHTS[:20000]
    compiled = core().count_image_tokens_batch(w, h, "gpt-4.1-mini", "high")
    assert (numpy_patch(w, h, 2048, 6144, 162, 100) == compiled).all()
    assert (numpy_patch(w, h, 2048, 2500, 12, 10) == core().count_image_tokens_batch(w, h, "gpt-5.4", "high")).all()
    assert (numpy_tile(w, h, 85, 170) == core().count_image_tokens_batch(w, h, "gpt-4o", "high")).all()


# --- the tables -------------------------------------------------------------------------------

SCALAR = {
    "floor: math.gcd(1920, 1080)": lambda: (math.gcd, (1920, 1080)),
    "cython count_image_tokens": lambda: (core().count_image_tokens, (1920, 1080, "gpt-4.1-mini", "high")),
    "cython Model.count": lambda: (core().get_model("gpt-4.1-mini").count, (1920, 1080, "high")),
    "python count_image_tokens": lambda: (reference().count_image_tokens, (1920, 1080, "gpt-4.1-mini", "high")),
    "cython claude-sonnet-4-5 (bisection)": lambda: (core().count_image_tokens, (1920, 1080, "claude-sonnet-4-5")),
    "cython Qwen2.5-VL": lambda: (core().count_image_tokens, (3840, 2160, "Qwen/Qwen2.5-VL-7B-Instruct")),
}


@pytest.mark.parametrize("name", SCALAR)
def test_scalar(benchmark, name):
    benchmark.group = "scalar: one 1920x1080 image, gpt-4.1-mini high"
    fn, args = SCALAR[name]()
    benchmark(fn, *args)


BATCH = {
    "floor: np.add(W, H, out=O)": lambda: (np.add, (WIDTHS, HEIGHTS), {"out": OUT}),
    "cython patch gpt-4.1-mini":
        lambda: (core().count_image_tokens_batch, (WIDTHS, HEIGHTS, "gpt-4.1-mini", "high"), {}),
    "cython patch gpt-5.4 (budget binds)":
        lambda: (core().count_image_tokens_batch, (WIDTHS, HEIGHTS, "gpt-5.4", "high"), {}),
    "cython tile gpt-4o": lambda: (core().count_image_tokens_batch, (WIDTHS, HEIGHTS, "gpt-4o", "high"), {}),
    "cython claude-sonnet-4-5": lambda: (core().count_image_tokens_batch, (WIDTHS, HEIGHTS, "claude-sonnet-4-5"), {}),
    # (some random sizes exceed Qwen's 200:1 aspect ratio: masked, not raised)
    "cython Qwen2.5-VL": lambda: (core().count_image_tokens_batch,
                                  (WIDTHS, HEIGHTS, "Qwen/Qwen2.5-VL-7B-Instruct"), {"on_error": "mask"}),
    "numpy-vectorised patch gpt-4.1-mini": lambda: (numpy_patch, (WIDTHS, HEIGHTS, 2048, 6144, 162, 100), {}),
    "numpy-vectorised tile gpt-4o": lambda: (numpy_tile, (WIDTHS, HEIGHTS, 85, 170), {}),
}


@pytest.mark.parametrize("name", BATCH)
def test_batch_million(benchmark, name):
    benchmark.group = f"batch: {N:,} sizes uniform in 1..4096 (per call)"
    fn, args, kwargs = BATCH[name]()
    benchmark.pedantic(fn, args, kwargs, rounds=5, iterations=1)


SMALL_BATCH = {
    "cython batch twin": lambda: core().count_image_tokens_batch,
    "python batch twin": lambda: reference().count_image_tokens_batch,
}


@pytest.mark.parametrize("name", SMALL_BATCH)
def test_batch_twins(benchmark, name):
    benchmark.group = f"batch: both twins, {LOOP_N:,} sizes, gpt-4.1-mini high (per call)"
    batch = SMALL_BATCH[name]()
    benchmark.pedantic(batch, (WIDTHS[:LOOP_N], HEIGHTS[:LOOP_N], "gpt-4.1-mini", "high"),
                       rounds=3, iterations=1)


def test_batch_python_loop(benchmark):
    benchmark.group = f"batch: both twins, {LOOP_N:,} sizes, gpt-4.1-mini high (per call)"
    ref = reference()
    rows = list(zip(WIDTHS[:LOOP_N].tolist(), HEIGHTS[:LOOP_N].tolist()))
    benchmark.pedantic(lambda: [ref.count_image_tokens(w, h, "gpt-4.1-mini", "high") for w, h in rows],
                       rounds=3, iterations=1)


def test_batch_one_row(benchmark):
    benchmark.group = "batch: fixed cost of a one-row call"
    w, h = np.array([1920]), np.array([1080])
    benchmark(core().count_image_tokens_batch, w, h, "gpt-4.1-mini", "high")


# --- ratio checks (same run, same data) ----------------------------------------------------

def per_image_ns(fn, *args, **kwargs) -> float:
    return per_call_ns(lambda: fn(*args, **kwargs), number=1, repeat=7) / N


def test_scalar_ratios(measured, record_property):
    floor = per_call_ns(math.gcd, 1920, 1080, number=200000)
    count = per_call_ns(core().count_image_tokens, 1920, 1080, "gpt-4.1-mini", "high", number=200000)
    model = core().get_model("gpt-4.1-mini")
    resolved = per_call_ns(model.count, 1920, 1080, "high", number=200000)
    ref = per_call_ns(reference().count_image_tokens, 1920, 1080, "gpt-4.1-mini", "high", number=5000)
    print(f"\nscalar ns: floor {floor:.1f}, count {count:.1f} ({count / floor:.2f}x), "
          f"Model.count {resolved:.1f} ({resolved / floor:.2f}x), reference {ref:.0f} ({ref / count:.0f}x slower)")
    assert count <= 3 * floor
    assert resolved <= 2 * floor
    assert ref >= 10 * count


def test_batch_ratios(measured):
    batch = core().count_image_tokens_batch
    floor = per_image_ns(np.add, WIDTHS, HEIGHTS, out=OUT)
    patch = per_image_ns(batch, WIDTHS, HEIGHTS, "gpt-4.1-mini", "high")
    tile = per_image_ns(batch, WIDTHS, HEIGHTS, "gpt-4o", "high")
    numpy_p = per_image_ns(numpy_patch, WIDTHS, HEIGHTS, 2048, 6144, 162, 100)
    numpy_t = per_image_ns(numpy_tile, WIDTHS, HEIGHTS, 85, 170)
    ref = reference()
    rows = list(zip(WIDTHS[:LOOP_N].tolist(), HEIGHTS[:LOOP_N].tolist()))
    loop = per_call_ns(lambda: [ref.count_image_tokens(w, h, "gpt-4.1-mini", "high") for w, h in rows],
                       number=1, repeat=3) / LOOP_N
    one_row = per_call_ns(batch, np.array([1920]), np.array([1080]), "gpt-4.1-mini", "high", number=20000)
    gcd = per_call_ns(math.gcd, 1920, 1080, number=200000)
    print(f"\nbatch ns/image: np.add {floor:.2f}, patch {patch:.2f} ({patch / floor:.0f}x), "
          f"tile {tile:.2f} ({tile / floor:.0f}x), numpy patch {numpy_p:.1f}, numpy tile {numpy_t:.1f}, "
          f"python loop {loop:.0f}; one-row call {one_row:.0f} ns ({one_row / gcd:.1f}x gcd)")
    assert patch <= 40 * floor
    assert tile <= 12 * floor
    assert loop >= 50 * patch and loop >= 50 * tile
    assert numpy_p >= 2 * patch and numpy_t >= 2 * tile
    assert one_row <= 25 * gcd


# --- the provider kernels (shared/providers.md) -------------------------------------------------

def test_provider_ratios(measured):
    """Claude (standard tier: 1920 x 1080 runs the bisection) and Qwen (3840 x 2160 runs the
    max_pixels branch, with its exact float steps) against the same floors as above."""
    # interleaved rounds, best of each: the floor and the counts see the same machine
    floor = claude = qwen = math.inf
    for _ in range(3):
        floor = min(floor, per_call_ns(math.gcd, 1920, 1080, number=200000))
        claude = min(claude, per_call_ns(core().count_image_tokens, 1920, 1080,
                                         "claude-sonnet-4-5", number=200000))
        qwen = min(qwen, per_call_ns(core().count_image_tokens, 3840, 2160,
                                     "Qwen/Qwen2.5-VL-7B-Instruct", number=200000))
    model = core().get_model("claude-sonnet-4-5")
    resolved = per_call_ns(model.count, 1920, 1080, number=200000)
    add = per_image_ns(np.add, WIDTHS, HEIGHTS, out=OUT)
    batch = core().count_image_tokens_batch
    claude_batch = per_image_ns(batch, WIDTHS, HEIGHTS, "claude-sonnet-4-5")
    qwen_batch = per_image_ns(batch, WIDTHS, HEIGHTS, "Qwen/Qwen2.5-VL-7B-Instruct",
                              on_error="mask")  # some random sizes exceed 200:1
    print(f"\nprovider scalar ns: gcd {floor:.1f}, claude {claude:.1f} ({claude / floor:.2f}x), "
          f"claude Model.count {resolved:.1f} ({resolved / floor:.2f}x), qwen {qwen:.1f} "
          f"({qwen / floor:.2f}x); batch ns/image: np.add {add:.2f}, claude {claude_batch:.1f} "
          f"({claude_batch / add:.0f}x), qwen {qwen_batch:.1f} ({qwen_batch / add:.0f}x)")
    # The bisection (~12 dependent steps with a divide each) and Qwen's float steps cost
    # 100-150 ns of kernel on top of the call: measured 1.6-6.5x a gcd taken once, on a quiet
    # machine (2026-12-04); the gate is 8x the best gcd of the same rounds.
    assert claude <= 8 * floor and qwen <= 8 * floor
    assert resolved <= 8 * floor
    # per image: a bisection of ~12 dependent steps, each a divide and a hard-to-predict
    # branch (Claude: ~230 ns of CPU per image, ~115x np.add, measured alone); Qwen's two
    # divisions and a square root (~30 ns). Generous: the machine is shared.
    assert claude_batch <= 400 * add and qwen_batch <= 150 * add
