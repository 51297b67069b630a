"""count_image_tokens_batch on dataframe columns: Arrow, pandas, Polars, masked numpy.

Every test takes ``impl``, so both twins run it; the expected figures always come from the
scalar API on the same values, row by row.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from extras import integration_module

pytestmark = integration_module("pandas", "polars")

import pandas as pd  # after the skip above
import polars as pl
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from visiontokens import (
    ArgumentTypeError,
    InvalidArgumentError,
    InvalidDimensionsError,
    UnknownModelError,
    UnsupportedDetailError,
    VisionTokensError,
)
from visiontokens.calc import columns as _columns
from visiontokens.rules import resolution as _resolution

W = [1024, 2048, None, 1800, 512, 4096]
H = [1024, 4096, 700, None, 512, 512]
M = ["gpt-4o", "gpt-4.1-mini", "gpt-4o", "gpt-5.4", None, "gpt-6-astra"]
D = ["high", "auto", "low", "high", "high", None]


def expected(impl, w, h, m, d, none_detail_is_null=True):
    """Row by row through the scalar API: None for a row with a null."""
    out = []
    for a, b, c, e in zip(w, h, m, d):
        if a is None or b is None or c is None or (e is None and none_detail_is_null):
            out.append(None)
        else:
            out.append(impl.count_image_tokens(a, b, c, e))
    return out


# --- Arrow -------------------------------------------------------------------------------

@pytest.mark.parametrize("int_type", [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint16(),
                                      pa.uint32(), pa.uint64()])
def test_arrow_integer_columns_with_nulls(impl, int_type):
    w = [100, None, 127, 90] if int_type.bit_width == 8 else [1000, None, 1800, 900]
    h = [90, 12, None, 127] if int_type.bit_width == 8 else [900, 1200, None, 1270]
    out = impl.count_image_tokens_batch(pa.array(w, int_type), pa.array(h, int_type), "gpt-4.1-mini")
    assert isinstance(out, pa.Array) and out.type == pa.int64()
    assert out.to_pylist() == expected(impl, w, h, ["gpt-4.1-mini"] * 4, ["auto"] * 4)
    assert out.null_count == 2


def test_arrow_dictionary_and_string_columns(impl):
    want = expected(impl, W, H, M, D)
    w, h = pa.array(W, pa.int32()), pa.array(H, pa.int32())
    for models, details in [
        (pa.array(M).dictionary_encode(), pa.array(D).dictionary_encode()),
        (pa.array(M), pa.array(D)),
        (pa.array(M, pa.large_string()), pa.array(D, pa.string_view())),
        (pa.array(M, pa.string_view()), pa.array(D, pa.large_string()).dictionary_encode()),
    ]:
        assert impl.count_image_tokens_batch(w, h, models, details).to_pylist() == want


def test_a_null_inside_a_dictionary_is_a_null(impl):
    # the index is valid, the value it points at is null
    models = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int8()), pa.array(["gpt-4o", None]))
    out = impl.count_image_tokens_batch(pa.array([10, 10, 10]), pa.array([10, 10, 10]), models)
    assert out.to_pylist() == [85 + 170, None, 85 + 170]


def test_chunked_arrays_keep_their_chunks(impl):
    w = pa.chunked_array([W[:2], W[2:5], W[5:]], pa.int64())
    h = pa.array(H, pa.int64())
    models = pa.chunked_array([pa.array(M[:3]).dictionary_encode(), pa.array(M[3:]).dictionary_encode()])
    out = impl.count_image_tokens_batch(w, h, models, pa.array(D))
    assert isinstance(out, pa.ChunkedArray) and [len(c) for c in out.chunks] == [2, 3, 1]
    assert out.to_pylist() == expected(impl, W, H, M, D)


class ArrayCapsule:
    def __init__(self, array):
        self.array = array

    def __arrow_c_array__(self, requested_schema=None):
        return self.array.__arrow_c_array__(requested_schema)


class StreamCapsule:
    def __init__(self, chunked):
        self.chunked = chunked

    def __arrow_c_stream__(self, requested_schema=None):
        return self.chunked.__arrow_c_stream__(requested_schema)


def test_the_arrow_pycapsule_protocol(impl):
    w, h = ArrayCapsule(pa.array(W)), StreamCapsule(pa.chunked_array([H[:3], H[3:]]))
    models = ArrayCapsule(pa.array(M).dictionary_encode())
    out = impl.count_image_tokens_batch(w, h, models, StreamCapsule(pa.chunked_array([D])))
    assert isinstance(out, pa.Array)  # the first column decides: an array in, an array out
    assert out.to_pylist() == expected(impl, W, H, M, D)


def test_a_table_is_not_a_column(impl):
    table = pa.table({"w": [1, 2]})
    with pytest.raises(ArgumentTypeError, match="expected one column"):
        impl.count_image_tokens_batch(table, [1, 2], "gpt-4o")
    with pytest.raises(ArgumentTypeError, match="must hold integers, got Arrow type double"):
        impl.count_image_tokens_batch(pa.array([1.0]), [1], "gpt-4o")
    with pytest.raises(ArgumentTypeError, match="must hold integers, got Arrow type string"):
        impl.count_image_tokens_batch([1], pa.array(["1"]), "gpt-4o")


def test_a_dictionary_index_out_of_range_is_refused_not_read(impl):
    # Arrow data from elsewhere is not trusted: an index past the dictionary never reaches
    # the kernels' table.
    bad = pa.DictionaryArray.from_arrays(pa.array([0, 5], pa.int32()), pa.array(["gpt-4o"]),
                                         safe=False)
    with pytest.raises(InvalidArgumentError, match="index out of range"):
        impl.count_image_tokens_batch([10, 10], [10, 10], bad)
    negative = pa.DictionaryArray.from_arrays(pa.array([-1, 0], pa.int8()), pa.array(["gpt-4o"]),
                                              safe=False)
    with pytest.raises(InvalidArgumentError, match="index out of range"):
        impl.count_image_tokens_batch([10, 10], [10, 10], negative)


def test_all_null_columns(impl):
    out = impl.count_image_tokens_batch(pa.nulls(3, pa.int64()), [1, 2, 3], "gpt-4o")
    assert out.to_pylist() == [None] * 3
    out = impl.count_image_tokens_batch([1, 2, 3], [1, 2, 3], pa.nulls(3))
    assert out.to_pylist() == [None] * 3
    empty = pa.DictionaryArray.from_arrays(pa.array([None, None], pa.int32()), pa.array([], pa.string()))
    assert impl.count_image_tokens_batch([1, 2], [1, 2], empty).to_pylist() == [None, None]


# --- pandas ------------------------------------------------------------------------------

def test_pandas_nullable_category_and_arrow_backed(impl):
    index = pd.Index([10, 20, 30, 40, 50, 60], name="request")
    want = expected(impl, W, H, M, D)
    w = pd.Series(W, dtype="Int64", index=index)
    h = pd.Series(H, dtype="Int32", index=index)
    for models, details in [
        (pd.Series(M, dtype="category", index=index), pd.Series(D, dtype="category", index=index)),
        (pd.Series(M, dtype=object, index=index), pd.Series(D, dtype="string", index=index)),
        (pd.Series(M, dtype=pd.ArrowDtype(pa.string()), index=index), pd.Series(D, index=index)),
    ]:
        out = impl.count_image_tokens_batch(w, h, models, details)
        assert isinstance(out, pd.Series) and out.dtype == "Int64"
        assert out.index.equals(index)  # the input's index, not a fresh one
        assert out.astype(object).where(out.notna(), None).tolist() == want
    arrow = pd.Series(W, dtype=pd.ArrowDtype(pa.int32()), index=index)
    out = impl.count_image_tokens_batch(arrow, h, pd.Series(M, index=index), pd.Series(D, index=index))
    assert out.dtype == pd.ArrowDtype(pa.int64())  # Arrow-backed in, Arrow-backed out
    assert out.tolist() == [pd.NA if v is None else v for v in want]


def test_pandas_numpy_backed_and_float_columns(impl):
    w = pd.Series([1024, 2048], dtype="int32")
    out = impl.count_image_tokens_batch(w, pd.Series([1024, 4096]), "gpt-4o", "high")
    assert out.dtype == "Int64" and out.tolist() == [765, 1105]
    # ints with a NaN, as read_csv and Dask give them: NaN is a null, a whole number is taken
    # exactly, anything else is refused, never truncated
    out = impl.count_image_tokens_batch(pd.Series([1024.0, None, 1e20]), [1024, 2, 3], "gpt-4o",
                                        on_error="mask")[0]
    assert out.tolist() == [impl.count_image_tokens(1024, 1024, "gpt-4o"), pd.NA, 0]
    with pytest.raises(InvalidDimensionsError, match=f"row 2: width .* got {10**20}$"):
        impl.count_image_tokens_batch(pd.Series([1024.0, None, 1e20]), [1024, 2, 3], "gpt-4o")
    for bad in (1920.7, float("inf")):
        with pytest.raises(ArgumentTypeError, match=f"got {bad!r} in a float column"):
            impl.count_image_tokens_batch(pd.Series([1024.0, bad]), [1, 2], "gpt-4o")
    with pytest.raises(ArgumentTypeError, match="must hold integers, got dtype float64"):
        impl.count_image_tokens_batch(np.array([1024.0]), [1], "gpt-4o")  # numpy: unchanged


def test_pandas_mask_mode_keeps_the_index(impl):
    index = pd.Index(["a", "b", "c"])
    tokens, rejected = impl.count_image_tokens_batch(
        pd.Series([5, 9000, None], dtype="Int64", index=index), pd.Series([5, 9000, 5], index=index),
        "gpt-6-astra", "original", on_error="mask")
    assert tokens.index.equals(index) and rejected.index.equals(index)
    assert rejected.dtype == bool and rejected.tolist() == [False, True, False]  # a null is not rejected
    assert tokens.tolist()[:2] == [impl.count_image_tokens(5, 5, "gpt-6-astra", "original"), 0]
    assert tokens.isna().tolist() == [False, False, True]


# --- Polars ------------------------------------------------------------------------------

def test_polars_series(impl):
    want = expected(impl, W, H, M, D)
    for models in (pl.Series(M, dtype=pl.Categorical), pl.Series(M, dtype=pl.String),
                   pl.Series(M, dtype=pl.Enum(sorted({m for m in M if m})))):
        out = impl.count_image_tokens_batch(pl.Series(W, dtype=pl.Int32), pl.Series(H, dtype=pl.UInt16),
                                            models, pl.Series(D, dtype=pl.Categorical))
        assert isinstance(out, pl.Series) and out.dtype == pl.Int64
        assert out.to_list() == want
    tokens, rejected = impl.count_image_tokens_batch(
        pl.Series([5, 0, None]), pl.Series([5, 5, 5]), "gpt-4o", on_error="mask")
    assert rejected.to_list() == [False, True, False] and tokens.to_list() == [255, 0, None]


# --- numpy -------------------------------------------------------------------------------

def test_masked_numpy_in_masked_out(impl):
    w = np.ma.masked_array([1024, 2048, 0], mask=[False, True, False])
    out = impl.count_image_tokens_batch(w, np.array([1024, 1024, 5]), "gpt-4o", on_error="mask")[0]
    assert isinstance(out, np.ma.MaskedArray) and out.mask.tolist() == [False, True, False]
    assert out[0] == 765


def test_numpy_and_lists_unchanged(impl):
    # numpy in, numpy out; None as a detail in a list still means auto (spec 3.4)
    out = impl.count_image_tokens_batch(np.array([1024]), np.array([1024]), ["gpt-5.4"], [None])
    assert type(out) is np.ndarray and out.tolist() == [impl.count_image_tokens(1024, 1024, "gpt-5.4")]
    out = impl.count_image_tokens_batch(np.array([1024, 512]), np.array([1024, 512]),
                                        np.array(["gpt-5.4", "gpt-4o"]), "high")
    assert out.tolist() == [impl.count_image_tokens(1024, 1024, "gpt-5.4", "high"), 255]


def test_mixed_dtypes_keep_their_values_in_messages(impl):
    w = np.array([10, 2**64 - 1], dtype=np.uint64)
    with pytest.raises(InvalidDimensionsError, match=f"row 1: width .* got {2**64 - 1}$"):
        impl.count_image_tokens_batch(w, np.array([10, 10], dtype=np.int32), "gpt-4o")
    w, h = np.array([1024, 2048], dtype=">i4"), np.array([1024, 4096], dtype=">i8")
    assert impl.count_image_tokens_batch(w, h, "gpt-4o", "high").tolist() == [765, 1105]


# --- errors, the same from both twins ------------------------------------------------------

def test_row_errors_name_the_row_of_the_column(impl):
    models = pa.array(["gpt-4o", None, "gpt-4o-mni"]).dictionary_encode()
    with pytest.raises(UnknownModelError, match="^row 2: unknown model 'gpt-4o-mni'") as caught:
        impl.count_image_tokens_batch(pa.array([5, 5, 5]), pa.array([5, 5, 5]), models)
    assert caught.value.row == 2
    with pytest.raises(UnsupportedDetailError, match="^row 1: model 'gpt-4o' does not support"):
        impl.count_image_tokens_batch(pd.Series([5, 5]), pd.Series([5, 5]), "gpt-4o",
                                      pd.Series(["high", "original"], dtype="category"))
    with pytest.raises(InvalidArgumentError, match=r"one str or one per row \(2\), got shape \(3,\)"):
        impl.count_image_tokens_batch([1, 2], [1, 2], pa.array(["a", "b", "c"]))
    with pytest.raises(InvalidArgumentError, match="differ in length: 2 and 1"):
        impl.count_image_tokens_batch(pl.Series([1, 2]), pa.array([1]), "gpt-4o")


def test_a_model_column_is_resolved_once_per_distinct_value(impl, monkeypatch):
    # Unknown names are the costly case (their error suggests close names). The compiled
    # twin resolves each distinct value once; the pure twin, the oracle, goes row by row.
    calls = []
    original = _resolution.unknown_model_error
    monkeypatch.setattr(_resolution, "unknown_model_error",
                        lambda *a, **k: calls.append(a) or original(*a, **k))
    names = pa.array(["nope-a", "nope-b", "gpt-4o"] * 2000).dictionary_encode()
    tokens, rejected = impl.count_image_tokens_batch(np.full(6000, 10), np.full(6000, 10), names,
                                                     on_error="mask")
    assert rejected.to_numpy(zero_copy_only=False).sum() == 4000
    if impl.IMPLEMENTATION == "cython":
        assert len(calls) == 2
    labels = _columns.prepare(np.full(6000, 10), np.full(6000, 10),
                              pa.array(["nope-a", "nope-b", "gpt-4o"] * 2000), "auto").model
    assert sorted(labels.values) == ["gpt-4o", "nope-a", "nope-b"] and len(labels.codes) == 6000


def test_more_than_the_grouped_loop_takes(impl):
    # over GROUP_MAX distinct pairs the compiled twin switches to its row-by-row table
    models = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "o3", "gpt-6-astra", "gpt-5"]
    details = ["low", "high", "auto"] + [f"bad-{i}" for i in range(20)]
    rng = np.random.default_rng(7)
    n = 5000
    m = rng.choice(models, n)
    d = rng.choice(details, n)
    w, h = rng.integers(1, 5000, n).astype(np.int16), rng.integers(1, 5000, n).astype(np.int16)
    tokens, rejected = impl.count_image_tokens_batch(w, h, pa.array(m).dictionary_encode(),
                                                     pa.array(d), on_error="mask")
    assert len(set(zip(m, d))) > 64
    for row in range(0, n, 7):
        try:
            want = impl.count_image_tokens(int(w[row]), int(h[row]), str(m[row]), str(d[row]))
        except VisionTokensError:
            want = None
        assert rejected[row].as_py() is (want is None)
        assert tokens[row].as_py() == (0 if want is None else want)


def test_import_visiontokens_loads_no_engine():
    code = ("import sys, visiontokens; bad = [m for m in ('numpy', 'pyarrow', 'pandas', 'polars', "
            "'duckdb', 'dask', 'matplotlib', 'httpx') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- differential: both twins, any kind of column, nulls anywhere --------------------------

MODELS = ["gpt-4o", "gpt-4.1-mini", "gpt-5.4", "gpt-6-astra", "o3", "gpt-4o-mini", "nope"]
DETAILS = ["low", "high", "auto", "original", "HIGH"]
KINDS = ["numpy", "arrow", "arrow-dict", "pandas", "polars"]


def as_kind(values, kind, ints):
    if kind == "numpy":
        return np.array([0 if v is None else v for v in values], dtype=np.int32 if ints else object)
    if kind == "arrow":
        return pa.array(values, pa.int32() if ints else pa.string())
    if kind == "arrow-dict":
        return pa.array(values, pa.int64() if ints else pa.string()) if ints else \
            pa.array(values, pa.string()).dictionary_encode()
    if kind == "pandas":
        return pd.Series(values, dtype="Int32" if ints else "category")
    return pl.Series(values, dtype=pl.Int32 if ints else pl.Categorical)


def plain(out):
    if isinstance(out, tuple):
        return tuple(plain(o) for o in out)
    if isinstance(out, (pa.Array, pa.ChunkedArray)):
        return out.to_pylist()
    if isinstance(out, pd.Series):
        return [None if v is pd.NA else v for v in out.astype(object).tolist()]
    if isinstance(out, pl.Series):
        return out.to_list()
    return out.tolist()


def outcome(fn, *args, **kwargs):
    try:
        return "ok", plain(fn(*args, **kwargs))
    except Exception as error:  # noqa: BLE001 - compared, type and message
        return type(error), str(error)


@given(data=st.data())
def test_twins_agree_on_every_kind_of_column(data):
    from implementations import load_impl

    core, reference = load_impl("cython"), load_impl("python")
    n = data.draw(st.integers(0, 12))
    sides = st.one_of(st.none(), st.integers(1, 9000), st.sampled_from([0, 32, 768, 2048, 6000]))
    kind = data.draw(st.sampled_from(KINDS))
    w = data.draw(st.lists(sides, min_size=n, max_size=n))
    h = data.draw(st.lists(sides, min_size=n, max_size=n))
    m = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(MODELS)), min_size=n, max_size=n))
    d = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(DETAILS)), min_size=n, max_size=n))
    if kind == "numpy":  # no nulls in numpy: sizes and models are all present
        w = [v or 1 for v in w]
        h = [v or 1 for v in h]
        m = [v or "gpt-4o" for v in m]
    one_model = data.draw(st.booleans())
    model = MODELS[n % 3] if one_model else as_kind(m, kind, False)
    detail = data.draw(st.sampled_from(["auto", "high", None])) if data.draw(st.booleans()) \
        else as_kind(d, kind, False)
    on_error = data.draw(st.sampled_from(["raise", "mask"]))
    args = (as_kind(w, kind, True), as_kind(h, kind, True), model, detail)
    fast = outcome(core.count_image_tokens_batch, *args, on_error=on_error)
    slow = outcome(reference.count_image_tokens_batch, *args, on_error=on_error)
    assert fast == slow
    if fast[0] == "ok" and on_error == "mask" and kind != "numpy":
        tokens, rejected = fast[1]
        nulls_in_detail = not isinstance(detail, str) and detail is not None
        for row in range(n):
            values = (w[row], h[row], m[row] if not one_model else model,
                      d[row] if nulls_in_detail else detail)
            if None in values[:3] or (nulls_in_detail and values[3] is None):
                assert tokens[row] is None and not rejected[row]
            elif not rejected[row]:
                assert tokens[row] == core.count_image_tokens(*values)


def test_a_constant_text_column_is_seen_without_hashing():
    from visiontokens.calc.columns import _constant_text

    def const(values, kind=pa.string()):  # noqa: B008 (an immutable type, made once)
        return _constant_text(pa, pa.chunked_array([pa.array(values, kind)]))

    assert const(["auto"] * 3000) == "auto"
    assert const(["gpt-4o"] * 5, pa.large_string()) == "gpt-4o"
    assert const(["", ""]) == ""
    assert const(["ab", "ab", "ab", "ac", "ab"]) is None  # same lengths, one differs
    assert const(["a", "b" * 2]) is None and const(["x", None]) is None
    assert _constant_text(pa, pa.chunked_array([pa.array(["q", "auto", "auto"]).slice(1)])) == "auto"
    # the same bytes cut differently: "a" + "bab" is not "ab" + "ab"
    split = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 1, 4], np.int32)),
                                                   pa.py_buffer(b"abab")])
    assert _constant_text(pa, pa.chunked_array([split])) is None


def test_foreign_arrow_data_is_validated(impl):
    # text that is not UTF-8, and an index past its dictionary, as a broken producer might
    # send them through the C interface: refused before anything reads them
    broken = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 2, 4], np.int32)),
                                                    pa.py_buffer(b"ab\xff\xfe")])
    with pytest.raises(ArgumentTypeError, match="cannot read ArrayCapsule as an Arrow column"):
        impl.count_image_tokens_batch([1, 2], [1, 2], ArrayCapsule(broken))
    past = pa.DictionaryArray.from_arrays(pa.array([0, 7], pa.int32()), pa.array(["gpt-4o"]), safe=False)
    with pytest.raises(ArgumentTypeError, match="cannot read StreamCapsule as an Arrow column"):
        impl.count_image_tokens_batch([1, 2], [1, 2], StreamCapsule(pa.chunked_array([past])))
    # the same data as pyarrow objects: checked by our own rules
    with pytest.raises(InvalidArgumentError, match="not UTF-8"):
        impl.count_image_tokens_batch([1, 2], [1, 2], broken)


def test_a_pandas_index_is_a_column(impl):
    w = pd.Index([1024, 2048], dtype="Int64")
    out = impl.count_image_tokens_batch(w, pd.Index([1024, 4096]), pd.CategoricalIndex(["gpt-4o"] * 2), "high")
    assert isinstance(out, pd.Series) and out.tolist() == [765, 1105]
