"""Columns in, columns out: what both batch twins accept, made into what they compute on.

``count_image_tokens_batch`` takes numpy arrays and lists, and also columns of the dataframe
engines: Arrow arrays (pyarrow, or anything with ``__arrow_c_array__`` /
``__arrow_c_stream__``, read through pyarrow), pandas Series (numpy, nullable ``Int64``,
``category`` and Arrow-backed dtypes) and Polars Series. :func:`prepare` turns the four
arguments into :class:`Prepared`: sizes as 1-d contiguous numpy integer arrays of a dtype
the compiled kernels read directly, a null mask, and each per-row model or detail column as
codes into its distinct values, so that a name is resolved once per distinct value, never
once per row. Both twins call it, so they accept the same inputs and refuse the rest with
the same errors by construction; :meth:`Output.wrap` gives the result the kind of the input.

Null rules: in a column (Arrow, pandas, Polars, a numpy masked array) a null size, model or
detail is a missing value, and its row's result is null. In a list or a plain numpy object
array, ``None`` as a detail means ``"auto"``, as in the scalar API (spec 3.4: omitted = auto).

Nothing here imports pandas, Polars or pyarrow unless the input is one of theirs: a value is
a pandas or Polars object only if that library is already imported.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from .._errors import ArgumentTypeError, InvalidArgumentError
from .._spec import MAX_DIMENSION

#: Output kinds, from the first argument (widths, heights, model, detail) that is a column.
NUMPY, MASKED, ARROW, PANDAS, POLARS = "numpy", "masked", "arrow", "pandas", "polars"

#: Distinct values a model or detail column may hold: codes are int32.
MAX_CODES = 2**31 - 1

_ARROW_HINT = "reading Arrow columns needs pyarrow: pip install 'visiontokens[arrow]'"


class Labels:
    """A per-row model or detail column: ``codes[i]`` indexes ``values`` (its distinct
    values). Rows whose label is null have code 0 and are cleared in the null mask."""

    __slots__ = ("codes", "values")

    def __init__(self, codes: Any, values: list[object]) -> None:
        self.codes = codes  # contiguous int32, every code in range(len(values))
        self.values = values

    def value(self, row: int) -> object:
        return self.values[self.codes[row]]


class Output:
    """How to give the result the kind of the input that decided it."""

    __slots__ = ("kind", "template")

    def __init__(self, kind: str, template: Any = None) -> None:
        self.kind = kind
        self.template: Any = template  # pandas: the Series; arrow: chunk lengths or None

    def wrap(self, tokens: Any, rejected: Any, valid: Any, mask_mode: bool) -> Any:
        """tokens (int64) and rejected (bool, or None unless ``mask_mode``) numpy arrays as
        the output kind; ``valid`` (bool array or None) marks the rows that are not null."""
        if self.kind == NUMPY:
            return (tokens, rejected) if mask_mode else tokens
        if self.kind == MASKED:
            import numpy as np

            mask = np.zeros(len(tokens), dtype=bool) if valid is None else ~valid
            masked = _ma().MaskedArray(tokens, mask=mask)
            return (masked, rejected) if mask_mode else masked
        if self.kind == PANDAS:
            return self._pandas(tokens, rejected, valid, mask_mode)
        arrow_tokens = _arrow_int64(tokens, valid)
        arrow_rejected = _arrow_bool(rejected) if mask_mode else None
        if self.kind == POLARS:
            import polars as pl

            out = pl.Series("tokens", arrow_tokens)
            return (out, pl.Series("rejected", arrow_rejected)) if mask_mode else out
        if self.template is not None:  # a chunked input: the same chunks out
            arrow_tokens = _rechunk(arrow_tokens, self.template)
            if mask_mode:
                arrow_rejected = _rechunk(arrow_rejected, self.template)
        return (arrow_tokens, arrow_rejected) if mask_mode else arrow_tokens

    def _pandas(self, tokens: Any, rejected: Any, valid: Any, mask_mode: bool) -> Any:
        import numpy as np
        import pandas as pd

        series = self.template
        if isinstance(series.dtype, getattr(pd, "ArrowDtype", ())):
            values = pd.arrays.ArrowExtensionArray(_arrow_int64(tokens, valid))
        else:
            mask = np.zeros(len(tokens), dtype=bool) if valid is None else ~valid
            values = pd.arrays.IntegerArray(tokens, mask)
        out = pd.Series(values, index=series.index, name="tokens", copy=False)
        if not mask_mode:
            return out
        return out, pd.Series(rejected, index=series.index, name="rejected", copy=False)


class Prepared:
    """The batch arguments as the twins compute on them."""

    __slots__ = ("widths", "heights", "given", "valid", "model", "detail", "output")

    def __init__(self, widths: Any, heights: Any, given: tuple[Any, Any], valid: Any,
                 model: object, detail: object, output: Output) -> None:
        # widths, heights: 1-d contiguous native-endian integer arrays of one dtype, what
        # the kernels read; given: the same values in the dtype each came in (for messages).
        self.widths, self.heights, self.given = widths, heights, given
        self.valid = valid  # None (no nulls) or a bool array, False where the row is null
        self.model, self.detail = model, detail  # one value for all rows, or Labels
        self.output = output


# --- recognising the kinds, without importing their libraries -----------------------------


def _ma() -> Any:
    """numpy.ma, untyped: its stubs type these calls in some numpy versions and not in others,
    and mypy --strict must pass with every numpy the extras may install."""
    import numpy as np

    return np.ma

def _module_type(value: object, module: str, name: str) -> bool:
    lib = sys.modules.get(module)
    return lib is not None and isinstance(value, getattr(lib, name))


def _kind(value: object) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        return MASKED if isinstance(value, np.ma.MaskedArray) else NUMPY
    # pandas and Polars objects also speak the Arrow protocol: ask for them first.
    if _module_type(value, "pandas", "Series") or _module_type(value, "pandas", "Index"):
        return PANDAS
    if _module_type(value, "polars", "Series"):
        return POLARS
    if hasattr(type(value), "__arrow_c_array__") or hasattr(type(value), "__arrow_c_stream__"):
        return ARROW
    return NUMPY  # a list, a tuple, a scalar: as numpy sees it


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as error:
        raise ImportError(_ARROW_HINT) from error
    return pyarrow


def _arrow_column(value: Any) -> Any:
    """Any Arrow column as a pyarrow ChunkedArray; a table or a record batch is refused."""
    pa = _pyarrow()
    if isinstance(value, pa.ChunkedArray):
        return value
    if isinstance(value, pa.Array):
        return pa.chunked_array([value], type=value.type)
    try:
        if hasattr(type(value), "__arrow_c_array__"):
            column = pa.array(value)
            column = pa.chunked_array([column], type=column.type)
        else:
            column = pa.chunked_array(value)
        # Data from another producer: checked whole (offsets, indices, UTF-8) before any
        # kernel, Arrow's or ours, reads it.
        column.validate(full=True)
    except (TypeError, ValueError, pa.ArrowException) as error:
        raise ArgumentTypeError(f"cannot read {type(value).__name__} as an Arrow column: "
                                f"{error}") from None
    if pa.types.is_struct(column.type):  # what a table's stream looks like
        raise ArgumentTypeError(f"expected one column, got a table-like "
                                f"{type(value).__name__} of type {column.type}")
    return column


# --- sizes -------------------------------------------------------------------------------

def _native_ints(name: str, given: Any) -> Any:
    """A 1-d numpy array of integers, contiguous and native-endian (else a typed error)."""
    import numpy as np

    if given.ndim != 1:
        raise InvalidArgumentError(f"{name} must be one-dimensional, got shape {given.shape}")
    if given.dtype.kind not in "iu":
        if given.size == 0 and given.dtype.kind in "fO":  # [] and friends
            return np.zeros(0, dtype=np.int64)
        raise ArgumentTypeError(f"{name} must hold integers, got dtype {given.dtype}")
    if not given.dtype.isnative:
        given = given.astype(given.dtype.newbyteorder("="))
    return np.ascontiguousarray(given)


def _integer_dtype(pa: Any, kind: Any) -> Any:
    """The numpy dtype of an Arrow integer type (not ``to_pandas_dtype``, slow in threads)."""
    import numpy as np

    return np.dtype(f"{'u' if pa.types.is_unsigned_integer(kind) else 'i'}{kind.bit_width // 8}")


def _values_of(chunk: Any, dtype: Any) -> Any:
    """The values buffer of a primitive Arrow array as a numpy view (no copy). Not
    ``to_numpy()``: called from a DuckDB worker thread, that took ~0.7 ms a call."""
    import numpy as np

    return np.frombuffer(chunk.buffers()[1], dtype=dtype,
                         count=chunk.offset + len(chunk))[chunk.offset:]


def _valid_of(chunk: Any) -> Any:
    """The validity bitmap of an Arrow array with nulls, as a bool array."""
    import numpy as np

    bits = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little",
                         count=chunk.offset + len(chunk))[chunk.offset:].astype(bool)


def _arrow_sizes(name: str, column: Any) -> tuple[Any, Any]:
    """(values, valid or None) of an Arrow integer column; a null slot's value is 1."""
    import numpy as np

    pa = _pyarrow()
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_null(kind):
        return np.ones(len(column), dtype=np.int64), np.zeros(len(column), dtype=bool)
    if not pa.types.is_integer(kind):
        raise ArgumentTypeError(f"{name} must hold integers, got Arrow type {kind}")
    dtype = _integer_dtype(pa, kind)
    parts, masks = [], []
    for chunk in column.chunks:
        values = _values_of(chunk, dtype)
        if chunk.null_count:
            mask = _valid_of(chunk)
            values = np.where(mask, values, 1)  # values under nulls are unspecified
            masks.append(mask)
        else:
            masks.append(None)
        parts.append(values)
    values = parts[0] if len(parts) == 1 else (
        np.concatenate(parts) if parts else np.zeros(0, dtype=dtype))
    if all(mask is None for mask in masks):
        return np.ascontiguousarray(values), None
    valid = np.concatenate([np.ones(len(p), dtype=bool) if m is None else m
                            for p, m in zip(parts, masks)])
    return np.ascontiguousarray(values), valid


def _pandas_sizes(name: str, series: Any) -> tuple[Any, ...]:
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, (pd.ArrowDtype, pd.CategoricalDtype)):
        return _arrow_sizes(name, _arrow_column(_pyarrow().array(series)))
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        if numpy_dtype is None or numpy_dtype.kind not in "iu":
            raise ArgumentTypeError(f"{name} must hold integers, got dtype {dtype}")
        valid = ~np.asarray(series.isna(), dtype=bool)
        values = series.to_numpy(dtype=numpy_dtype, na_value=1)
        return _native_ints(name, values), (None if valid.all() else valid)
    values = series.to_numpy()
    if values.dtype.kind == "f":
        return _pandas_floats(name, values)
    return _native_ints(name, values), None


def _pandas_floats(name: str, values: Any) -> tuple[Any, Any, Any]:
    """A float column of pandas, where NaN is how a numpy-backed frame stores a missing int
    (read_csv, read_parquet, Dask): taken only if every other value is a whole number, which
    it then is exactly; 1920.7 is refused, never truncated. Returns (int64 values, valid,
    the floats as given, for messages)."""
    import numpy as np

    nan = np.isnan(values)
    present = values[~nan]
    whole = np.isfinite(present) & (present == np.floor(present))
    if not whole.all():
        bad = float(present[~whole][0])
        raise ArgumentTypeError(f"{name} must hold integers, got {bad!r} in a float column "
                                "(taken only when it holds whole numbers, and NaN for missing values)")
    # Past the largest side every value is refused alike: clipping keeps it out of range,
    # and the message quotes the value as given.
    ints = np.where(nan, 1, np.clip(values, -1, MAX_DIMENSION + 1)).astype(np.int64)
    return ints, (~nan if nan.any() else None), values


def _sizes(name: str, values: Any, kind: str) -> tuple[Any, ...]:
    """(a 1-d integer array, valid or None[, the values as given when they differ]) for
    widths or heights of any kind."""
    import numpy as np

    if kind == NUMPY:
        return _native_ints(name, np.asarray(values)), None
    if kind == MASKED:
        mask = _ma().getmaskarray(values)
        data = _native_ints(name, _ma().getdata(values))
        return (np.where(mask, 1, data) if mask.any() else data), (
            ~mask if mask.ndim == 1 and mask.any() else None)
    if kind == PANDAS:
        return _pandas_sizes(name, values)
    if kind == POLARS:
        return _arrow_sizes(name, _arrow_column(values.to_arrow()))
    return _arrow_sizes(name, _arrow_column(values))


# --- model and detail columns --------------------------------------------------------------

def factorize(column: Any) -> Labels:
    """Labels of a 1-d object array, codes in order of first appearance.

    Exact ``str`` and None are keyed by value; anything else by (type, value), so that a
    subclass of str is never merged with an equal str (the shared rules may treat them
    apart), and an unhashable value gets a code of its own.
    """
    import numpy as np

    seen: dict[object, int] = {}
    distinct: list[object] = []
    codes = np.empty(len(column), dtype=np.int32)
    for row, value in enumerate(column.tolist()):
        key: object = value if (type(value) is str or value is None) else (type(value), value)
        try:
            code = seen.get(key)
        except TypeError:
            key, code = object(), None
        if code is None:
            code = seen[key] = len(distinct)
            distinct.append(value)
        codes[row] = code
    return Labels(codes, distinct)


def _null_codes(codes: Any, values: list[object], nulls: Any) -> tuple[Labels, Any]:
    """Labels from codes (``nulls`` marks null rows, whose codes are ignored) and the
    valid mask they imply, a null among the values included; None when nothing is null."""
    import numpy as np

    null_values = [i for i, v in enumerate(values) if v is None]
    if null_values:
        nulls = np.isin(codes, null_values) if nulls is None else nulls | np.isin(codes, null_values)
    if nulls is not None and not nulls.any():
        nulls = None
    if len(values) > MAX_CODES:
        raise InvalidArgumentError(f"a column has more than {MAX_CODES} distinct values")
    present = codes if nulls is None else codes[~nulls]
    if len(present) and _out_of_range(present, len(values)):
        # A dictionary index out of range: malformed Arrow data, never read past the table.
        raise InvalidArgumentError("a dictionary-encoded column has an index out of range")
    if nulls is not None:
        codes = np.where(nulls, 0, codes)  # a null row's code is anything: make it 0
    # Codes as the kernels read them: int32. Arrow's usual int32 indices (and Polars'
    # uint32, all in range now) are used as they are, without a copy.
    codes = codes.view(np.int32) if codes.dtype == np.uint32 else codes.astype(np.int32, copy=False)
    codes = np.ascontiguousarray(codes)
    if not values:
        values = [None]  # every row is null: code 0 must still name an entry
    return Labels(codes, values), (None if nulls is None else ~nulls)


def _out_of_range(codes: Any, size: int) -> bool:
    """Whether any code is outside range(size), in one pass over the codes where it can: a
    negative code read as unsigned is at least 2**(bits - 1), past any table that small."""
    import numpy as np

    kind, bits = codes.dtype.kind, codes.dtype.itemsize * 8
    if kind == "u":
        return bool(codes.max() >= size)
    if kind == "i" and size <= 2 ** (bits - 1):
        return bool(codes.view(np.dtype(f"u{codes.dtype.itemsize}")).max() >= size)
    return bool(codes.min() < 0 or codes.max() >= size)


def _arrow_labels(column: Any) -> tuple[Labels, Any]:
    import numpy as np

    pa = _pyarrow()
    import pyarrow.compute as pc

    if pa.types.is_null(column.type):
        n = len(column)
        return Labels(np.zeros(n, dtype=np.int32), [None]), np.zeros(n, dtype=bool)
    if not pa.types.is_dictionary(column.type):
        constant = _constant_text(pa, column)
        if constant is not None:  # a SQL literal, as DuckDB passes it: no hashing at all
            return Labels(np.zeros(len(column), dtype=np.int32), [constant]), None
        if pa.types.is_string_view(column.type):
            column = column.cast(pa.large_string())
        column = pc.dictionary_encode(column)  # hashed in C: one entry per distinct value
    if column.num_chunks > 1:
        column = column.unify_dictionaries()
    chunks = column.chunks
    if not chunks:
        return Labels(np.zeros(0, dtype=np.int32), [None]), None
    values = _text_values(chunks[0].dictionary)
    codes, nulls = [], []
    any_null = False
    for chunk in chunks:
        indices = chunk.indices
        codes.append(_values_of(indices, _integer_dtype(pa, indices.type)))
        null = ~_valid_of(indices) if indices.null_count else None
        any_null = any_null or null is not None
        nulls.append(null)
    all_codes = codes[0] if len(codes) == 1 else np.concatenate(codes)
    mask = None
    if any_null:
        mask = np.concatenate([np.zeros(len(c), dtype=bool) if m is None else m
                               for c, m in zip(codes, nulls)])
    return _null_codes(all_codes, values, mask)


def _text_values(array: Any) -> list[object]:
    """A (small) Arrow array of distinct values as Python objects; text that is not UTF-8,
    which Arrow data from elsewhere may hold, is a typed error."""
    try:
        values: list[object] = array.to_pylist()
        return values
    except UnicodeDecodeError:
        raise InvalidArgumentError("a model or detail column holds text that is not UTF-8") from None


def _constant_text(pa: Any, column: Any) -> str | None:
    """The one value of a string column that repeats a single value (no nulls), else None.

    Checked on the Arrow buffers, a few microseconds for a DuckDB vector: every length equal
    (the offsets are an arithmetic sequence), then the data is the first row repeated.
    """
    import numpy as np

    if column.num_chunks != 1:
        return None
    chunk = column.chunk(0)
    n = len(chunk)
    if not n or chunk.null_count or not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        return None
    offset_type = np.int32 if pa.types.is_string(chunk.type) else np.int64
    buffers = chunk.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type, count=chunk.offset + n + 1)[chunk.offset:]
    start, length = int(offsets[0]), int(offsets[1] - offsets[0])
    data, end = buffers[2], start + n * length
    if data is None or length < 0:
        return None
    # A glance first: the middle and last rows as the first (a varied column stops here).
    for row in (n // 2, n - 1):
        a, b = int(offsets[row]), int(offsets[row + 1])
        if b - a != length or not 0 <= a <= b <= data.size or start + length > data.size \
                or data[a:b] != data[start:start + length]:
            return None
    steps = start + length * np.arange(n + 1, dtype=np.int64)  # every row as long as the first
    if not np.array_equal(offsets, steps):
        return None
    if start < 0 or end > data.size:
        raise InvalidArgumentError("a string column's offsets point past its data")
    first = data[start:start + length].to_pybytes() if length else b""
    if length and data[start:end].to_pybytes() != first * n:  # one memcmp
        return None
    try:
        return first.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentError("a model or detail column holds text that is not UTF-8") from None


def _pandas_labels(series: Any) -> tuple[Labels, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = np.asarray(series.cat.codes)
        values = series.cat.categories.tolist()
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = list(uniques.tolist()) if hasattr(uniques, "tolist") else list(uniques)
    nulls = codes < 0
    return _null_codes(codes, values, nulls if nulls.any() else None)


def _numpy_labels(name: str, values: Any, n: int) -> Labels | None:
    import numpy as np

    try:
        column = np.asarray(values)
    except ValueError:  # ragged: a list among the labels ("gpt-4o", ["x"]); told per row below
        column = np.empty(len(values), dtype=object)
        column[:] = [value for value in values]
    if column.ndim == 1 and column.dtype.kind in "UT" and len(column) == n:
        # Hashing in C (pyarrow) when it is there, else sorting (numpy): never a Python
        # loop over rows.
        if "pyarrow" in sys.modules or _importable("pyarrow"):
            labels, _ = _arrow_labels(_arrow_column(_pyarrow().array(column)))
            return labels
        distinct, codes = np.unique(column, return_inverse=True)
        return _null_codes(codes, distinct.tolist(), None)[0]
    column = np.asarray(values, dtype=object) if column.dtype.kind != "O" else column
    if column.ndim != 1 or len(column) != n:
        raise InvalidArgumentError(
            f"{name} must be one str or one per row ({n}), got shape {column.shape}")
    return factorize(column)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _labels(name: str, values: Any, kind: str, n: int) -> tuple[object, Any]:
    """(one value for every row, or Labels; valid or None)."""
    if values is None or isinstance(values, str):
        return values, None
    if kind == NUMPY:
        return _numpy_labels(name, values, n), None
    if kind == MASKED:
        mask = _ma().getmaskarray(values)
        labels = _numpy_labels(name, _ma().getdata(values), n)
        return labels, (~mask if mask.ndim == 1 and mask.any() else None)
    if kind == PANDAS:
        labels, valid = _pandas_labels(values)
    elif kind == POLARS:
        labels, valid = _arrow_labels(_arrow_column(values.to_arrow()))
    else:
        labels, valid = _arrow_labels(_arrow_column(values))
    if len(labels.codes) != n:
        raise InvalidArgumentError(
            f"{name} must be one str or one per row ({n}), got shape ({len(labels.codes)},)")
    return labels, valid


# --- the whole argument list ---------------------------------------------------------------

def _output(arguments: Sequence[object], kinds: Sequence[str]) -> Output:
    for value, kind in zip(arguments, kinds):
        if kind == PANDAS:
            import pandas as pd

            series = value if isinstance(value, pd.Series) else pd.Series(value)
            return Output(PANDAS, series)
        if kind == ARROW:
            pa = _pyarrow()
            chunked = not isinstance(value, pa.Array) and not hasattr(type(value), "__arrow_c_array__")
            template = [len(c) for c in _arrow_column(value).chunks] if chunked else None
            return Output(ARROW, template)
        if kind in (POLARS, MASKED):
            return Output(kind)
    return Output(NUMPY)


def _and(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else a & b


def prepare(widths: Any, heights: Any, model: Any, detail: Any) -> Prepared:
    """The batch arguments of any supported kind, checked in one order for both twins:
    widths, heights, their lengths, then model, then detail."""
    import numpy as np

    arguments = [widths, heights, model, detail]
    kinds = [_kind(value) for value in arguments]
    for i, kind in enumerate(kinds):  # a pandas Index reads as the Series of its values
        if kind == PANDAS and not _module_type(arguments[i], "pandas", "Series"):
            import pandas as pd

            arguments[i] = pd.Series(arguments[i])
    widths, heights, model, detail = arguments
    w, w_valid, *w_given = _sizes("widths", widths, kinds[0])
    h, h_valid, *h_given = _sizes("heights", heights, kinds[1])
    if len(w) != len(h):
        raise InvalidArgumentError(f"widths and heights differ in length: {len(w)} and {len(h)}")
    given = (w_given[0] if w_given else w, h_given[0] if h_given else h)
    if w.dtype != h.dtype:
        # The kernels read one dtype for both: int64. A uint64 past int64 wraps negative,
        # which the kernels refuse as out of range; messages quote the values as given.
        w, h = w.astype(np.int64), h.astype(np.int64)
    n = len(w)
    model_labels, m_valid = _labels("model", model, kinds[2], n)
    detail_labels, d_valid = _labels("detail", detail, kinds[3], n)
    valid = _and(_and(w_valid, h_valid), _and(m_valid, d_valid))
    return Prepared(w, h, given, valid, model_labels, detail_labels,
                    _output((widths, heights, model, detail), kinds))


# --- Arrow results -------------------------------------------------------------------------

def _validity(pa: Any, valid: Any) -> tuple[Any, int]:
    import numpy as np

    if valid is None:
        return None, 0
    nulls = len(valid) - int(np.count_nonzero(valid))
    if not nulls:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _arrow_int64(tokens: Any, valid: Any) -> Any:
    pa = _pyarrow()
    bitmap, nulls = _validity(pa, valid)
    return pa.Array.from_buffers(pa.int64(), len(tokens), [bitmap, pa.py_buffer(tokens)],
                                 null_count=nulls)


def _arrow_bool(rejected: Any) -> Any:
    import numpy as np

    pa = _pyarrow()
    bits = pa.py_buffer(np.packbits(rejected, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), len(rejected), [None, bits], null_count=0)


def _rechunk(array: Any, lengths: list[int]) -> Any:
    pa = _pyarrow()
    chunks, start = [], 0
    for length in lengths:
        chunks.append(array.slice(start, length))
        start += length
    return pa.chunked_array(chunks, type=array.type)
