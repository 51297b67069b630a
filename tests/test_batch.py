"""count_image_tokens_batch: numpy in, numpy out."""

from __future__ import annotations

import numpy as np
import pytest

from visiontokens import (
    ArgumentTypeError,
    ImageRejectedError,
    InvalidArgumentError,
    InvalidDimensionsError,
    UnknownModelError,
    UnsupportedDetailError,
)

W = [1024, 2048, 1800, 1, 65535]
H = [1024, 4096, 2400, 1, 3]


def scalar(impl, model, detail="auto", w=W, h=H):
    return [impl.count_image_tokens(a, b, model, detail) for a, b in zip(w, h)]


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.uint64])
def test_any_integer_dtype(impl, dtype):
    w, h = np.array([100, 120, 127]).astype(dtype), np.array([90, 12, 1]).astype(dtype)
    out = impl.count_image_tokens_batch(w, h, "gpt-4.1-mini")
    assert out.dtype == np.int64 and out.tolist() == scalar(impl, "gpt-4.1-mini", w=[100, 120, 127], h=[90, 12, 1])


def test_lists_non_contiguous_and_read_only(impl):
    expected = scalar(impl, "gpt-4o", "high")
    assert impl.count_image_tokens_batch(W, H, "gpt-4o", "high").tolist() == expected
    wide = np.zeros((len(W), 3), dtype=np.int32)
    wide[:, 0], wide[:, 2] = W, H
    assert impl.count_image_tokens_batch(wide[:, 0], wide[:, 2], "gpt-4o", "high").tolist() == expected
    w, h = np.array(W), np.array(H)
    w.flags.writeable = h.flags.writeable = False
    assert impl.count_image_tokens_batch(w, h, "gpt-4o", "high").tolist() == expected
    assert impl.count_image_tokens_batch(np.array(W[::-1])[::-1], h, "gpt-4o", "high").tolist() == expected


def test_per_row_models_and_details(impl):
    models = ["gpt-4o", "gpt-5.4", "gpt-4.1-mini", "o3", "gpt-6-astra"]
    details = ["low", "high", "auto", "high", "original"]
    expected = [impl.count_image_tokens(w, h, m, d) for w, h, m, d in zip(W, H, models, details)]
    assert impl.count_image_tokens_batch(W, H, models, details).tolist() == expected
    assert impl.count_image_tokens_batch(W, H, np.array(models), np.array(details)).tolist() == expected
    assert impl.count_image_tokens_batch(W, H, "gpt-5.4", details[:4] + ["low"]).tolist() == [
        impl.count_image_tokens(w, h, "gpt-5.4", d) for w, h, d in zip(W, H, details[:4] + ["low"])]


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint32, np.uint64])
def test_per_row_models_across_blocks(impl, dtype):
    # Rows of several models and details, interleaved, over more than one block of the
    # compiled loop's sort (1,024 rows): each row as the scalar path counts it, bad rows
    # (sizes out of range, past the tile lanes' range, a pair that raises) flagged in place.
    rng = np.random.default_rng(17)
    n = 2600
    top = min(np.iinfo(dtype).max, 20000)
    w = rng.integers(0, top, n).astype(dtype)
    h = rng.integers(1, top, n).astype(dtype)
    w[::97] = 9000  # beyond the tile lanes' range (8191), still a valid size
    models = np.array(["gpt-4o", "gpt-5.4", "gpt-4.1-mini", "o3", "gpt-6-astra", "gpt-5"])
    details = np.array(["auto", "low", "high", "original"])
    model = models[rng.integers(0, len(models), n)]
    detail = details[rng.integers(0, len(details), n)]
    tokens, rejected = impl.count_image_tokens_batch(w, h, model, detail, on_error="mask")
    expected, bad = [], []
    for a, b, m, d in zip(w.tolist(), h.tolist(), model.tolist(), detail.tolist()):
        try:
            expected.append(impl.count_image_tokens(a, b, m, d))
            bad.append(False)
        except (InvalidDimensionsError, ImageRejectedError, UnsupportedDetailError):
            expected.append(0)
            bad.append(True)
    assert any(bad) and not all(bad)
    assert rejected.tolist() == bad
    assert tokens.tolist() == expected


def test_many_distinct_model_detail_pairs(impl):
    # more distinct pairs than the direct table holds: the unique-pairs path
    n = 300
    models = [f"nope-{i}" for i in range(n - 1)] + ["gpt-4o"]
    details = [f"d{i}" for i in range(n - 1)] + ["high"]
    tokens, rejected = impl.count_image_tokens_batch([1024] * n, [1024] * n, models, details, on_error="mask")
    assert rejected.tolist() == [True] * (n - 1) + [False]
    assert tokens[-1] == 765 and not tokens[:-1].any()


def test_bad_row_raises_naming_it(impl):
    with pytest.raises(InvalidDimensionsError, match="^row 2: height must be between") as caught:
        impl.count_image_tokens_batch([5, 5, 5, 5], [5, 5, 0, -1], "gpt-4o")
    assert caught.value.row == 2
    with pytest.raises(UnknownModelError, match="^row 1: unknown model 'gpt-4o-mni'"):
        impl.count_image_tokens_batch([5, 5], [5, 5], ["gpt-4o", "gpt-4o-mni"])
    with pytest.raises(UnsupportedDetailError, match="^row 0: model 'gpt-4o' does not support"):
        impl.count_image_tokens_batch([5, 5], [5, 5], "gpt-4o", ["original", "high"])
    with pytest.raises(ImageRejectedError, match="^row 1: ") as caught:
        impl.count_image_tokens_batch([5, 9000], [5, 9000], "gpt-6-astra", "original")
    assert caught.value.patches > 30000


def test_mask_mode(impl):
    tokens, rejected = impl.count_image_tokens_batch(
        [5, 0, 9000, 2**40], [5, 5, 9000, 5], "gpt-6-astra", "original", on_error="mask")
    assert rejected.dtype == bool and rejected.tolist() == [False, True, True, True]
    assert tokens.tolist() == [impl.count_image_tokens(5, 5, "gpt-6-astra", "original"), 0, 0, 0]


def test_uint64_past_int64_is_a_row_error_with_the_real_value(impl):
    w = np.array([10, 2**64 - 1], dtype=np.uint64)
    with pytest.raises(InvalidDimensionsError, match=f"row 1: width .* got {2**64 - 1}$"):
        impl.count_image_tokens_batch(w, np.array([10, 10], dtype=np.uint64), "gpt-4o")


def test_argument_errors_are_not_row_errors(impl):
    with pytest.raises(InvalidArgumentError, match="differ in length"):
        impl.count_image_tokens_batch([1, 2], [1], "gpt-4o")
    with pytest.raises(ArgumentTypeError, match="must hold integers, got dtype float64"):
        impl.count_image_tokens_batch([1.5], [1], "gpt-4o")
    with pytest.raises(ArgumentTypeError):
        impl.count_image_tokens_batch([True], [1], "gpt-4o")
    with pytest.raises(InvalidArgumentError, match="one-dimensional"):
        impl.count_image_tokens_batch([[1]], [[1]], "gpt-4o")
    with pytest.raises(InvalidArgumentError, match="one str or one per row"):
        impl.count_image_tokens_batch([1, 2], [1, 2], ["gpt-4o"])
    with pytest.raises(InvalidArgumentError, match="on_error"):
        impl.count_image_tokens_batch([1], [1], "gpt-4o", on_error="ignore")
    with pytest.raises(UnknownModelError) as caught:  # one model for all rows: not a row error
        impl.count_image_tokens_batch([], [], "nope")
    assert caught.value.row is None
    with pytest.raises(UnsupportedDetailError):
        impl.count_image_tokens_batch([], [], "gpt-4o", "original")


def test_empty(impl):
    out = impl.count_image_tokens_batch([], [], "gpt-4o")
    assert out.dtype == np.int64 and out.shape == (0,)
    tokens, rejected = impl.count_image_tokens_batch(np.array([], dtype=np.int32), [], ["x"][:0], on_error="mask")
    assert tokens.shape == rejected.shape == (0,)


def test_size_bound_is_the_same_in_batch_and_scalar(impl):
    # The compiled batch loop has its own copy of the bound (_kernels.pxd MAX_SIDE).
    from visiontokens._errors import MAX_DIMENSION

    tokens, rejected = impl.count_image_tokens_batch(
        [MAX_DIMENSION, MAX_DIMENSION + 1, 1, 1], [1, 1, MAX_DIMENSION, MAX_DIMENSION + 1],
        "gpt-5.4", on_error="mask")
    assert rejected.tolist() == [False, True, False, True]
    assert tokens[0] == impl.count_image_tokens(MAX_DIMENSION, 1, "gpt-5.4")
