# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""The batch entry point: numpy in, numpy out, over the kernels of _kernels.pxd.

A module of its own because it needs numpy's C API, which imports numpy: _tokens_c imports this
on the first batch call, so ``import visiontokens`` stays light.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memset

cimport numpy as cnp
import numpy as _np

from visiontokens._tokens_c cimport Model, lookup_with
from visiontokens._kernels cimport (
    ROW_BAD, ROW_OK, SCHEME_INVALID, SCHEME_PATCH, SCHEME_TILE, Outcome, Params,
    image_cost, patch_cost, side_ok, tile_cost,
)

from . import _registry
from ._arguments import check_on_error, per_row, size_arrays
from ._errors import VisionTokensError

from ._tokens_c import count_image_tokens

cnp.import_array()

IMPLEMENTATION = "cython"


# --- batch loops: one per scheme, so each inner loop is branch-light --------------------------
# Each writes every row of T and bad, and returns how many rows are bad.

cdef Py_ssize_t batch_patch(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                            uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, nbad = 0
    cdef Outcome o
    for i in range(n):
        if side_ok(W[i]) and side_ok(H[i]):
            patch_cost(p, W[i], H[i], &o)
            if not o.rejected:
                T[i] = o.tokens
                bad[i] = ROW_OK
                continue
        T[i] = 0
        bad[i] = ROW_BAD
        nbad += 1
    return nbad


cdef extern from "_tile_lanes.h":
    const int64_t VT_LANE_MAX_SIDE, VT_LANE_MAX_BOX
    int64_t vt_tile_lanes(const int64_t* W, const int64_t* H, int64_t* T, int64_t n,
                          int64_t box, int64_t side, int64_t base, int64_t per_tile) nogil


cdef inline bint in_lane_range(int64_t side) noexcept nogil:
    return <uint64_t>(side - 1) < <uint64_t>VT_LANE_MAX_SIDE


cdef Py_ssize_t batch_tile(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                           uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t ok
    cdef Outcome o
    cdef bint lanes = p.cap <= VT_LANE_MAX_BOX and p.short_side <= VT_LANE_MAX_BOX
    # The vectorised loop of _tile_lanes.h takes every row whose sides are in its range
    # (all real images); this loop does the rest, or every row for parameters it cannot take.
    if lanes and vt_tile_lanes(W, H, T, n, p.cap, p.short_side, p.base, p.per_tile) == 0:
        memset(bad, ROW_OK, n)
        return 0
    for i in range(n):
        if lanes and in_lane_range(W[i]) and in_lane_range(H[i]):
            bad[i] = ROW_OK
            continue
        ok = side_ok(W[i]) & side_ok(H[i])
        tile_cost(p, W[i] if ok else 1, H[i] if ok else 1, &o)
        T[i] = o.tokens * ok
        bad[i] = 1 - ok
        nbad += 1 - ok
    return nbad


cdef Py_ssize_t batch_flat(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                           uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t ok
    for i in range(n):
        ok = side_ok(W[i]) & side_ok(H[i])
        T[i] = p.base * ok
        bad[i] = 1 - ok
        nbad += 1 - ok
    return nbad


cdef Py_ssize_t batch_table(const Params* table, const int64_t* codes, const int64_t* W,
                            const int64_t* H, int64_t* T, uint8_t* bad, Py_ssize_t n) noexcept nogil:
    # Per-row model/detail: codes index a table of resolved parameters.
    cdef Py_ssize_t i, nbad = 0
    cdef Outcome o
    cdef const Params* p
    for i in range(n):
        p = &table[codes[i]]
        if p.scheme != SCHEME_INVALID and side_ok(W[i]) and side_ok(H[i]):
            image_cost(p, W[i], H[i], &o)
            if not o.rejected:
                T[i] = o.tokens
                bad[i] = ROW_OK
                continue
        T[i] = 0
        bad[i] = ROW_BAD
        nbad += 1
    return nbad


cdef Py_ssize_t run_batch(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                          uint8_t* bad, Py_ssize_t n) noexcept nogil:
    if p.scheme == SCHEME_PATCH:
        return batch_patch(p, W, H, T, bad, n)
    if p.scheme == SCHEME_TILE:
        return batch_tile(p, W, H, T, bad, n)
    return batch_flat(p, W, H, T, bad, n)


cdef object factorize(object column):
    """(codes as int64 array, distinct values) in order of first appearance.

    Exact str and None are keyed by value; anything else by (type, value) so that, say,
    a numpy str is never merged with an equal str (the shared rules treat them apart), and
    an unhashable value gets a code of its own.
    """
    cdef list values = column.tolist()
    cdef Py_ssize_t i, n = len(values)
    cdef dict seen = {}
    cdef list distinct = []
    codes = _np.empty(n, dtype=_np.int64)
    cdef int64_t[::1] out = codes
    for i in range(n):
        value = values[i]
        key = value if (type(value) is str or value is None) else (type(value), value)
        try:
            code = seen.get(key)
        except TypeError:
            key, code = object(), None
        if code is None:
            code = seen[key] = len(distinct)
            distinct.append(value)
        out[i] = code
    return codes, distinct


cdef Params table_entry(object model, object detail, object ruleset, object undocumented,
                        object enforce):
    cdef Params p
    try:
        p = (<Model>lookup_with(model, ruleset, undocumented, enforce)).params_for(detail)[0]
    except VisionTokensError:
        memset(&p, 0, sizeof(Params))
        p.scheme = SCHEME_INVALID
    return p


cdef inline bint is_int64_vector(object a):
    # Already what the kernels read: use it as is, no conversion, no copy.
    return (type(a) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_INT64
            and cnp.PyArray_NDIM(<cnp.ndarray>a) == 1
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a))


cdef inline cnp.ndarray new_vector(Py_ssize_t n, int typenum):
    cdef cnp.npy_intp size = n
    return cnp.PyArray_EMPTY(1, &size, typenum, 0)


def count_image_tokens_batch(widths, heights, model, detail, ruleset, on_error,
                             undocumented="error", enforce_patch_limit=True):
    """See visiontokens.count_image_tokens_batch. Same checks, in the same order, as the
    reference; the fast paths only skip conversions that would change nothing."""
    if on_error != "raise" and on_error != "mask":
        check_on_error(on_error)
    if ruleset is not None:
        _registry.get_ruleset(ruleset)
    _registry.check_policies(undocumented, enforce_patch_limit)
    cdef cnp.ndarray w64, h64
    if is_int64_vector(widths) and is_int64_vector(heights) and len(widths) == len(heights):
        w_given = w64 = widths
        h_given = h64 = heights
    else:
        w_given, h_given, w64, h64 = size_arrays(widths, heights)
    cdef Py_ssize_t n = len(w64), nbad, k, i, mi, di, nd
    model_rows = None if type(model) is str else per_row(model, n, "model")
    detail_rows = None if type(detail) is str else per_row(detail, n, "detail")
    cdef Params one
    cdef Params* table = NULL
    if model_rows is None:  # one model (and detail) for every row: its errors are not a row's
        one = lookup_with(model, ruleset, undocumented, enforce_patch_limit).params_for("auto" if detail_rows is not None else detail)[0]
    cdef cnp.ndarray tokens = new_vector(n, cnp.NPY_INT64)
    cdef cnp.ndarray rejected = new_vector(n, cnp.NPY_BOOL)
    cdef const int64_t* W = <const int64_t*>cnp.PyArray_DATA(w64)
    cdef const int64_t* H = <const int64_t*>cnp.PyArray_DATA(h64)
    cdef int64_t* T = <int64_t*>cnp.PyArray_DATA(tokens)
    cdef uint8_t* bad = <uint8_t*>cnp.PyArray_DATA(rejected)  # numpy bools are bytes 0 / 1
    cdef cnp.ndarray codes
    if model_rows is None and detail_rows is None:
        with nogil:
            nbad = run_batch(&one, W, H, T, bad, n)
    else:
        if model_rows is None:
            model_codes, models = _np.zeros(n, dtype=_np.int64), [model]
        else:
            model_codes, models = factorize(model_rows)
        detail_codes, details = (
            (_np.zeros(n, dtype=_np.int64), [detail]) if detail_rows is None
            else factorize(detail_rows))
        nd = len(details)
        pair_codes = model_codes * nd + detail_codes
        if len(models) * nd <= 65536:
            pairs = None
        else:  # many distinct values: only the pairs that occur
            pairs, pair_codes = _np.unique(pair_codes, return_inverse=True)
        k = len(models) * nd if pairs is None else len(pairs)
        table = <Params*>PyMem_Malloc(k * sizeof(Params))
        if table is NULL:
            raise MemoryError()
        try:
            for i in range(k):
                mi, di = divmod(i if pairs is None else int(pairs[i]), nd)
                table[i] = table_entry(models[mi], details[di], ruleset, undocumented,
                                       enforce_patch_limit)
            codes = _np.ascontiguousarray(pair_codes, dtype=_np.int64)
            with nogil:
                nbad = batch_table(table, <const int64_t*>cnp.PyArray_DATA(codes), W, H, T, bad, n)
        finally:
            PyMem_Free(table)
    if on_error == "mask":
        return tokens, rejected
    if nbad:
        row = int(rejected.argmax())
        # Re-run the row through the scalar path: one rule and one message for both.
        try:
            count_image_tokens(
                int(w_given[row]), int(h_given[row]),
                model if model_rows is None else model_rows[row],
                detail if detail_rows is None else detail_rows[row], ruleset=ruleset,
                undocumented=undocumented, enforce_patch_limit=enforce_patch_limit)
        except VisionTokensError as error:
            raise error.at_row(row) from None
        raise AssertionError(f"row {row} failed in the batch kernel but not in the scalar one")
    return tokens
