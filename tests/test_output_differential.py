"""Output tokens: the compiled twin equals the pure twin (spec 6.2), results and errors alike.

Hypothesis draws valid sizes of every model at every quality, sizes each limit refuses,
malformed size strings, and garbage arguments; both twins must give the same OutputImageCost
or raise the same error (type and message), and nothing but our errors may escape.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from implementations import load_twin

import visiontokens
from visiontokens import UnsupportedSizeError, VisionTokensError

PURE = load_twin("output", "python")
COMPILED = load_twin("output", "cython")

QUALITIES = ["low", "medium", "high", "auto", None]
MODELS = ["gpt-image-1", "gpt-image-1.5", "gpt-image-2", "gpt-image-2-2026-04-21"]


def outcome(module, *args, **kwargs):
    try:
        return module.explain_output_image_tokens(*args, **kwargs)
    except VisionTokensError as error:
        return type(error), str(error)


def same(*args, **kwargs):
    pure = outcome(PURE, *args, **kwargs)
    assert outcome(COMPILED, *args, **kwargs) == pure
    if isinstance(pure, visiontokens.OutputImageCost):  # count agrees with explain
        assert COMPILED.count_output_image_tokens(*args, **kwargs) == pure.tokens
        assert PURE.count_output_image_tokens(*args, **kwargs) == pure.tokens
    return pure


def valid_for_gpt_image_2(w: int, h: int) -> bool:
    return (w % 16 == 0 and h % 16 == 0 and max(w, h) <= 3840 and max(w, h) <= 3 * min(w, h)
            and 655_360 <= w * h <= 8_294_400)


sides16 = st.integers(1, 240).map(lambda k: 16 * k)
valid_sizes = st.tuples(sides16, sides16).filter(lambda s: valid_for_gpt_image_2(*s))


@given(size=valid_sizes, quality=st.sampled_from(QUALITIES),
       n=st.integers(1, 10), partial_images=st.integers(0, 3))
@example(size=(2880, 2880), quality="high", n=1, partial_images=0)
@example(size=(1024, 640), quality="low", n=10, partial_images=3)
@example(size=(3840, 2160), quality="medium", n=1, partial_images=0)
def test_every_valid_gpt_image_2_size(size, quality, n, partial_images):
    result = same("gpt-image-2", f"{size[0]}x{size[1]}", quality, n=n,
                  partial_images=partial_images)
    assert isinstance(result, visiontokens.OutputImageCost)


@given(w=st.integers(1, 5000), h=st.integers(1, 5000), quality=st.sampled_from(QUALITIES))
@example(w=1024, h=624, quality="high")  # one row of 16 px short of the pixel floor
@example(w=3856, h=2160, quality="high")  # long side over 3840
@example(w=3072, h=1008, quality="high")  # ratio just over 3:1
@example(w=2896, h=2896, quality="high")  # just over the pixel ceiling
@example(w=1000, h=1000, quality="high")  # not multiples of 16
def test_every_size_valid_or_refused_alike(w, h, quality):
    result = same("gpt-image-2", f"{w}x{h}", quality)
    if valid_for_gpt_image_2(w, h):
        assert isinstance(result, visiontokens.OutputImageCost)
    else:
        assert result[0] is UnsupportedSizeError


@given(model=st.sampled_from(MODELS), w=st.sampled_from([1024, 1536, 512, 1792, 16]),
       h=st.sampled_from([1024, 1536, 512, 1792, 16]), quality=st.sampled_from(QUALITIES))
def test_table_sizes_valid_or_refused_alike(model, w, h, quality):
    same(model, f"{w}x{h}", quality)


odd_sizes = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789x ", max_size=24),
    st.sampled_from(["auto", "AUTO", "1024X1024", " 1024x1024", "1024x1024 ", "01024x1024",
                     "1024x01024", "0x0", "x", "1024x", "x1024", "1024*1024", "1024×1024",
                     "１０２４x１０２４", "+1024x1024", "1024.0x1024", "1e3x1024",
                     "9999999999x16", "999999999x999999999", "1024x1024x1", ""]),
    st.integers(-5, 5000), st.floats(), st.booleans(), st.none(),
    st.tuples(st.integers(), st.integers()), st.binary(max_size=12),
)


@given(model=st.sampled_from(MODELS), size=odd_sizes, quality=st.sampled_from(QUALITIES))
def test_odd_sizes_refused_alike(model, size, quality):
    same(model, size, quality)


garbage = st.one_of(st.integers(-(2**70), 2**70), st.booleans(), st.floats(), st.none(),
                    st.text(max_size=8), st.sampled_from([np.int64(2), np.int32(0), 2.0, "2"]))


@given(model=st.one_of(st.sampled_from(MODELS + ["gpt-image-1-mini", "gpt-image-2.6-flare",
                                                 "gpt-4o", "", "dall-e-3"]), st.integers()),
       quality=st.one_of(st.sampled_from(QUALITIES + ["standard", "hd", "HIGH", "xhigh"]),
                         st.integers()),
       n=garbage, partial_images=garbage,
       ruleset=st.sampled_from([None, "2026-09", "2026-04", "2025-01", 3]),
       undocumented=st.sampled_from(["error", "assume", "ASSUME", None]))
def test_garbage_arguments_refused_alike(model, quality, n, partial_images, ruleset, undocumented):
    same(model, "1024x1024", quality, n=n, partial_images=partial_images, ruleset=ruleset,
         undocumented=undocumented)


def test_a_huge_size_string_costs_little_and_is_quoted_short():
    size = "1" * 10_000_000 + "x16"
    for module in (PURE, COMPILED):
        with pytest.raises(UnsupportedSizeError) as caught:
            module.count_output_image_tokens("gpt-image-2", size, "high")
        assert len(str(caught.value)) < 300
    same("gpt-image-2", size, "high")


def test_numpy_integers_count_as_ints():
    assert same("gpt-image-1", "1024x1024", "low", n=np.int64(3), partial_images=np.int8(1)).tokens == 3 * 372
