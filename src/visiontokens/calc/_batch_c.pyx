# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""The batch entry point: columns in, columns out, over the kernels of _kernels.pxd.

A module of its own because it needs numpy's C API, which imports numpy: _tokens_c imports this
on the first batch call, so ``import visiontokens`` stays light.

The common call (two 1-d numpy integer arrays, one model, one detail) takes a C fast path
with no conversion: the loops read every integer dtype as it is (``side_t``), so an int32
column is neither copied nor widened. Everything else (lists, Arrow, pandas, Polars, nulls,
per-row models and details) goes through ``_columns.prepare``, the same code the pure twin
uses, so both accept and refuse the same inputs.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport (
    int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t,
)
from libc.stdlib cimport free, malloc
from libc.string cimport memset

cimport numpy as cnp
import numpy as _np

from visiontokens.calc._tokens_c cimport Model, lookup_with
from visiontokens.calc._kernels cimport (
    ROW_BAD, ROW_OK, SCHEME_INVALID, SCHEME_PATCH, SCHEME_TILE, Outcome, Params,
    image_cost, patch_cost, side_ok, tile_cost,
)

from .. import rules
from .arguments import check_on_error
from .columns import Labels, prepare
from .._errors import VisionTokensError

from ._tokens_c import count_image_tokens

cnp.import_array()

IMPLEMENTATION = "cython"

# The heavy loops exist in two copies, for the dtypes sizes are logged in: int64 and int32,
# each read as it is (no conversion, no copy). Eight copies would be too many for the
# compiler to inline the kernels into (measured: the int32 patch loop lost its inlining and
# ran 30 % more instructions), so the other integer dtypes are widened a block at a time into
# a small int64 buffer that stays in cache.
ctypedef fused kernel_t:
    int32_t
    int64_t

# Any integer dtype: only for the light loops that widen or gather rows.
ctypedef fused side_t:
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t


cdef inline int64_t at(const side_t* a, Py_ssize_t i) noexcept nogil:
    # A uint64 past int64 wraps negative here, which side_ok refuses like any bad size.
    return <int64_t>a[i]


cdef enum:
    BLOCK = 1024  # rows widened or grouped at a time: a few KB, in L1
    GROUP_MAX = 64  # distinct (model, detail) pairs the sorted loop takes


# --- batch loops: one per scheme, so each inner loop is branch-light --------------------------
# Each writes every row of T and bad, and returns how many rows are bad.

cdef Py_ssize_t batch_patch(const Params* p, const kernel_t* W, const kernel_t* H, int64_t* T,
                            uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t w, h
    cdef Outcome o
    for i in range(n):
        w, h = W[i], H[i]
        if side_ok(w) and side_ok(h):
            patch_cost(p, w, h, &o)
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
    int64_t vt_tile_lanes_int32_t(const int32_t* W, const int32_t* H, int64_t* T, int64_t n,
                                  int64_t box, int64_t side, int64_t base, int64_t per_tile) nogil
    int64_t vt_tile_lanes_int64_t(const int64_t* W, const int64_t* H, int64_t* T, int64_t n,
                                  int64_t box, int64_t side, int64_t base, int64_t per_tile) nogil


cdef inline int64_t tile_lanes(const kernel_t* W, const kernel_t* H, int64_t* T, int64_t n,
                               const Params* p) noexcept nogil:
    if kernel_t is int32_t:
        return vt_tile_lanes_int32_t(W, H, T, n, p.cap, p.short_side, p.base, p.per_tile)
    else:
        return vt_tile_lanes_int64_t(W, H, T, n, p.cap, p.short_side, p.base, p.per_tile)


cdef inline bint in_lane_range(int64_t side) noexcept nogil:
    return <uint64_t>(side - 1) < <uint64_t>VT_LANE_MAX_SIDE


cdef Py_ssize_t batch_tile(const Params* p, const kernel_t* W, const kernel_t* H, int64_t* T,
                           uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t ok, w, h
    cdef Outcome o
    cdef bint lanes = p.cap <= VT_LANE_MAX_BOX and p.short_side <= VT_LANE_MAX_BOX
    # The vectorised loop of _tile_lanes.h takes every row whose sides are in its range
    # (all real images); this loop does the rest, or every row for parameters it cannot take.
    if lanes and tile_lanes(W, H, T, n, p) == 0:
        memset(bad, ROW_OK, n)
        return 0
    for i in range(n):
        w, h = W[i], H[i]
        if lanes and in_lane_range(w) and in_lane_range(h):
            bad[i] = ROW_OK
            continue
        ok = side_ok(w) & side_ok(h)
        tile_cost(p, w if ok else 1, h if ok else 1, &o)
        T[i] = o.tokens * ok
        bad[i] = 1 - ok
        nbad += 1 - ok
    return nbad


cdef Py_ssize_t batch_flat(const Params* p, const kernel_t* W, const kernel_t* H, int64_t* T,
                           uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t ok
    for i in range(n):
        ok = side_ok(W[i]) & side_ok(H[i])
        T[i] = p.base * ok
        bad[i] = 1 - ok
        nbad += 1 - ok
    return nbad


cdef Py_ssize_t batch_any(const Params* p, const kernel_t* W, const kernel_t* H, int64_t* T,
                          uint8_t* bad, Py_ssize_t n) noexcept nogil:
    # The provider schemes (providers.md): the shared dispatch, row by row.
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t w, h
    cdef Outcome o
    for i in range(n):
        w, h = W[i], H[i]
        if side_ok(w) and side_ok(h):
            image_cost(p, w, h, &o)
            if not o.rejected:
                T[i] = o.tokens
                bad[i] = ROW_OK
                continue
        T[i] = 0
        bad[i] = ROW_BAD
        nbad += 1
    return nbad


cdef Py_ssize_t run_one(const Params* p, const kernel_t* W, const kernel_t* H, int64_t* T,
                        uint8_t* bad, Py_ssize_t n) noexcept nogil:
    if p.scheme > SCHEME_INVALID:  # a provider scheme
        return batch_any(p, W, H, T, bad, n)
    if p.scheme == SCHEME_PATCH:
        return batch_patch(p, W, H, T, bad, n)
    if p.scheme == SCHEME_TILE:
        return batch_tile(p, W, H, T, bad, n)
    if p.scheme == SCHEME_INVALID:  # a table entry whose model/detail pair raises
        memset(T, 0, n * sizeof(int64_t))
        memset(bad, ROW_BAD, n)
        return n
    return batch_flat(p, W, H, T, bad, n)


cdef Py_ssize_t run_widened(const Params* p, const side_t* W, const side_t* H, int64_t* T,
                            uint8_t* bad, Py_ssize_t n) noexcept nogil:
    # Any other integer dtype: a block at a time into int64, then the int64 loops.
    cdef int64_t w[BLOCK]
    cdef int64_t h[BLOCK]
    cdef Py_ssize_t start = 0, i, m, nbad = 0
    while start < n:
        m = min(<Py_ssize_t>BLOCK, n - start)
        for i in range(m):
            w[i], h[i] = at(W, start + i), at(H, start + i)
        nbad += run_one(p, <const int64_t*>w, <const int64_t*>h, T + start, bad + start, m)
        start += m
    return nbad


cdef inline bint narrow(const side_t* a) noexcept nogil:
    # Whether every value of this dtype fits in int32 (a compile-time constant per copy).
    return side_t is int8_t or side_t is int16_t or side_t is int32_t \
        or side_t is uint8_t or side_t is uint16_t


cdef Py_ssize_t batch_table(const Params* table, const int32_t* codes, const side_t* W,
                            const side_t* H, int64_t* T, uint8_t* bad, Py_ssize_t n) noexcept nogil:
    # Per-row model/detail with many distinct pairs: codes index a table of resolved
    # parameters, row by row (every code is in range: _columns checks it, and the table is
    # built from the same labels).
    cdef Py_ssize_t i, nbad = 0
    cdef int64_t w, h
    cdef Outcome o
    cdef const Params* p
    for i in range(n):
        p = &table[codes[i]]
        w, h = at(W, i), at(H, i)
        if p.scheme != SCHEME_INVALID and side_ok(w) and side_ok(h):
            image_cost(p, w, h, &o)
            if not o.rejected:
                T[i] = o.tokens
                bad[i] = ROW_OK
                continue
        T[i] = 0
        bad[i] = ROW_BAD
        nbad += 1
    return nbad


cdef Py_ssize_t bucket_rows(const Params* p, const uint16_t* idx, Py_ssize_t size,
                            const side_t* W, const side_t* H, int64_t* T, uint8_t* bad,
                            bint small) noexcept nogil:
    """The rows idx[0..size) of one (model, detail) pair, in a block that starts at W, H, T,
    bad (bad already cleared): the loop of its scheme, as a single-model batch runs it."""
    cdef int64_t wb[BLOCK]
    cdef int64_t hb[BLOCK]
    cdef int32_t* w32 = <int32_t*>wb
    cdef int32_t* h32 = <int32_t*>hb
    cdef int64_t t[BLOCK]
    cdef Py_ssize_t j, i, nbad = 0
    cdef int64_t w, h, wn, hn, ok, out
    cdef Outcome o
    cdef bint patch = p.scheme == SCHEME_PATCH
    cdef bint lanes = (p.scheme == SCHEME_TILE and p.cap <= VT_LANE_MAX_BOX
                       and p.short_side <= VT_LANE_MAX_BOX)
    if lanes:
        # the vectorised loop wants its rows side by side: gathered into the block's buffers
        if small:
            for j in range(size):
                i = idx[j]
                w32[j], h32[j] = <int32_t>W[i], <int32_t>H[i]
            out = tile_lanes(<const int32_t*>w32, <const int32_t*>h32, t, size, p)
        else:
            for j in range(size):
                i = idx[j]
                wb[j], hb[j] = at(W, i), at(H, i)
            out = tile_lanes(<const int64_t*>wb, <const int64_t*>hb, t, size, p)
        for j in range(size):
            T[idx[j]] = t[j]
        if out == 0:
            return 0
    # Row by row: a patch pair's rows, as a single-model batch runs them; flat, invalid, the
    # providers' schemes; tile rows out of the lanes' range. The next row's sides are loaded
    # before this row's branches, so a mispredicted branch does not wait again for the two
    # loads (its number, then its sides) of the next row: 14.9 -> 13.3 ns a row over five
    # patch models, 1.16x -> 1.06x their batches one by one.
    i = idx[0]
    wn, hn = at(W, i), at(H, i)
    for j in range(size):
        w, h = wn, hn
        i = idx[j + 1 if j + 1 < size else j]
        wn, hn = at(W, i), at(H, i)
        i = idx[j]
        if patch:
            if side_ok(w) and side_ok(h):
                patch_cost(p, w, h, &o)
                if not o.rejected:
                    T[i] = o.tokens
                    continue
            T[i] = 0
            bad[i] = ROW_BAD
            nbad += 1
            continue
        if lanes and in_lane_range(w) and in_lane_range(h):
            continue
        ok = side_ok(w) & side_ok(h) & (p.scheme != SCHEME_INVALID)
        image_cost(p, w if ok else 1, h if ok else 1, &o)
        ok = ok & (1 - o.rejected)  # a provider kernel's refusal (Qwen's aspect ratio)
        T[i] = o.tokens * ok
        bad[i] = 1 - ok
        nbad += 1 - ok
    return nbad


cdef inline Py_ssize_t run_block(const Params* p, const side_t* W, const side_t* H, int64_t* T,
                                 uint8_t* bad, Py_ssize_t n) noexcept nogil:
    if side_t is int32_t or side_t is int64_t:
        return run_one(p, W, H, T, bad, n)
    return run_widened(p, W, H, T, bad, n)


cdef extern from "_group_rows.h":
    const int64_t VT_DEAL_SLACK
    void vt_deal_init() nogil
    int vt_deal_set_wide(int on) nogil
    void vt_deal(const int32_t* codes, int64_t m, int64_t k, uint16_t* buckets, int64_t stride,
                 int64_t* sizes) nogil

vt_deal_init()


def _set_wide_deal(bint on):
    """Turn the AVX-512 dealing off (for the tests of the one-pass loop), or back on where the
    processor has it; returns whether it is on."""
    return bool(vt_deal_set_wide(on))


cdef Py_ssize_t run_sorted(const Params* table, Py_ssize_t k, const int32_t* codes,
                           const side_t* W, const side_t* H, int64_t* T, uint8_t* bad,
                           Py_ssize_t n) noexcept nogil:
    """Per-row model/detail with few distinct pairs (k <= GROUP_MAX), a block of rows at a
    time: the block's row numbers are dealt into one bucket per pair (_group_rows.h), then
    each pair's rows run through the loop of its scheme with that pair's parameters, as a
    single-model batch would, reading and writing the rows in place (all within the block, in
    L1). A patch row is read and written in place; a tile pair's rows are gathered side by
    side for the vectorised loop. Each bucket has room for a whole block (k * BLOCK row
    numbers of two bytes and a slack, at most 135 KB, on the heap), so the rows are dealt with
    no count pass first. Slower, measured: a row-by-row switch on each row's parameters (a tile row
    loses the vectorised loop; a patch row mispredicts the budget branch, whose outcome
    depends on the model), and sorting the sizes too, then putting the tokens back in row
    order."""
    cdef Py_ssize_t stride = BLOCK + VT_DEAL_SLACK
    cdef uint16_t* buckets = <uint16_t*>malloc(k * stride * sizeof(uint16_t))
    cdef int64_t sizes[GROUP_MAX]
    cdef Py_ssize_t start = 0, m, c, nbad = 0
    cdef bint small = narrow(W)
    if buckets is NULL:  # no room: row by row, correct and slower
        return batch_table(table, codes, W, H, T, bad, n)
    while start < n:
        m = min(<Py_ssize_t>BLOCK, n - start)
        vt_deal(codes + start, m, k, buckets, stride, sizes)
        memset(bad + start, ROW_OK, m)
        for c in range(k):
            if sizes[c] == m:  # the whole block is one pair (a run of one model): no indices
                nbad += run_block(&table[c], W + start, H + start, T + start, bad + start, m)
            elif sizes[c]:
                nbad += bucket_rows(&table[c], buckets + c * stride, sizes[c],
                                    W + start, H + start, T + start, bad + start, small)
        start += m
    free(buckets)
    return nbad


# --- dtype dispatch --------------------------------------------------------------------------

cdef enum:
    SIDE_NONE = -1  # not an integer array the loops read as is
    SIDE_I8, SIDE_I16, SIDE_I32, SIDE_I64, SIDE_U8, SIDE_U16, SIDE_U32, SIDE_U64


cdef inline int side_kind(object a) noexcept:
    """Which loop copy reads array ``a`` as is, or SIDE_NONE (then _columns converts it)."""
    if type(a) is not cnp.ndarray:
        return SIDE_NONE
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_NDIM(arr) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(arr) \
            or not cnp.PyArray_ISNOTSWAPPED(arr):
        return SIDE_NONE
    cdef int typenum = cnp.PyArray_TYPE(arr)
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(arr)
    cdef int base
    if cnp.PyTypeNum_ISSIGNED(typenum):
        base = SIDE_I8
    elif cnp.PyTypeNum_ISUNSIGNED(typenum):
        base = SIDE_U8
    else:
        return SIDE_NONE  # bool, float, object ...: the shared checks say why
    if size == 1:
        return base
    if size == 2:
        return base + 1
    if size == 4:
        return base + 2
    if size == 8:
        return base + 3
    return SIDE_NONE


cdef Py_ssize_t run_single(int kind, const Params* p, const void* W, const void* H,
                           int64_t* T, uint8_t* bad, Py_ssize_t n) noexcept nogil:
    if kind == SIDE_I64:
        return run_one(p, <const int64_t*>W, <const int64_t*>H, T, bad, n)
    if kind == SIDE_I32:
        return run_one(p, <const int32_t*>W, <const int32_t*>H, T, bad, n)
    if kind == SIDE_I16:
        return run_widened(p, <const int16_t*>W, <const int16_t*>H, T, bad, n)
    if kind == SIDE_I8:
        return run_widened(p, <const int8_t*>W, <const int8_t*>H, T, bad, n)
    if kind == SIDE_U64:
        return run_widened(p, <const uint64_t*>W, <const uint64_t*>H, T, bad, n)
    if kind == SIDE_U32:
        return run_widened(p, <const uint32_t*>W, <const uint32_t*>H, T, bad, n)
    if kind == SIDE_U16:
        return run_widened(p, <const uint16_t*>W, <const uint16_t*>H, T, bad, n)
    return run_widened(p, <const uint8_t*>W, <const uint8_t*>H, T, bad, n)


cdef Py_ssize_t run_table_of(const Params* table, Py_ssize_t k, const int32_t* codes,
                             const side_t* W, const side_t* H, int64_t* T, uint8_t* bad,
                             Py_ssize_t n) noexcept nogil:
    if k == 1:  # one pair after all (a column of one value): a single-model batch
        if side_t is int32_t or side_t is int64_t:
            return run_one(table, W, H, T, bad, n)
        return run_widened(table, W, H, T, bad, n)
    if k <= GROUP_MAX:
        return run_sorted(table, k, codes, W, H, T, bad, n)
    return batch_table(table, codes, W, H, T, bad, n)


cdef Py_ssize_t run_table(int kind, const Params* table, Py_ssize_t k, const int32_t* codes,
                          const void* W, const void* H, int64_t* T, uint8_t* bad,
                          Py_ssize_t n) noexcept nogil:
    if kind == SIDE_I64:
        return run_table_of(table, k, codes, <const int64_t*>W, <const int64_t*>H, T, bad, n)
    if kind == SIDE_I32:
        return run_table_of(table, k, codes, <const int32_t*>W, <const int32_t*>H, T, bad, n)
    if kind == SIDE_I16:
        return run_table_of(table, k, codes, <const int16_t*>W, <const int16_t*>H, T, bad, n)
    if kind == SIDE_I8:
        return run_table_of(table, k, codes, <const int8_t*>W, <const int8_t*>H, T, bad, n)
    if kind == SIDE_U64:
        return run_table_of(table, k, codes, <const uint64_t*>W, <const uint64_t*>H, T, bad, n)
    if kind == SIDE_U32:
        return run_table_of(table, k, codes, <const uint32_t*>W, <const uint32_t*>H, T, bad, n)
    if kind == SIDE_U16:
        return run_table_of(table, k, codes, <const uint16_t*>W, <const uint16_t*>H, T, bad, n)
    return run_table_of(table, k, codes, <const uint8_t*>W, <const uint8_t*>H, T, bad, n)


# --- per-row models and details --------------------------------------------------------------

cdef Params table_entry(object model, object detail, object ruleset, object undocumented,
                        object enforce):
    cdef Params p
    try:
        p = (<Model>lookup_with(model, ruleset, undocumented, enforce)).params_for(detail)[0]
    except VisionTokensError:
        memset(&p, 0, sizeof(Params))
        p.scheme = SCHEME_INVALID
    return p


cdef Py_ssize_t run_labels(int kind, object model, object detail, object ruleset,
                           object undocumented, object enforce, const void* W, const void* H, int64_t* T, uint8_t* bad,
                           Py_ssize_t n) except -1:
    """Rows whose model or detail (or both) come per row: each distinct (model, detail) pair
    is resolved once into a table of parameters, which the loop indexes by code."""
    cdef Py_ssize_t k, i, mi, di, nd, nbad
    models = model.values if type(model) is Labels else [model]
    details = detail.values if type(detail) is Labels else [detail]
    nd = len(details)
    if type(detail) is not Labels:
        pair_codes = model.codes  # int32 and in range already: nothing to do per row
    elif type(model) is not Labels:
        pair_codes = detail.codes
    else:
        pair_codes = model.codes.astype(_np.int64) * nd + detail.codes
    pairs = None
    if len(models) * nd > 65536:  # many distinct values: only the pairs that occur
        pairs, pair_codes = _np.unique(pair_codes, return_inverse=True)
    k = len(models) * nd if pairs is None else len(pairs)
    cdef cnp.ndarray codes = _np.ascontiguousarray(pair_codes, dtype=_np.int32)
    cdef Params* table = <Params*>PyMem_Malloc(max(k, 1) * sizeof(Params))
    if table is NULL:
        raise MemoryError()
    try:
        for i in range(k):
            mi, di = divmod(i if pairs is None else int(pairs[i]), nd)
            table[i] = table_entry(models[mi], details[di], ruleset, undocumented, enforce)
        with nogil:
            nbad = run_table(kind, table, k, <const int32_t*>cnp.PyArray_DATA(codes), W, H,
                             T, bad, n)
    finally:
        PyMem_Free(table)
    return nbad


cdef Py_ssize_t clear_nulls(const uint8_t* valid, int64_t* T, uint8_t* bad,
                            Py_ssize_t n, Py_ssize_t nbad) noexcept nogil:
    # A null row is neither counted nor rejected: tokens 0 (null in the output), not bad.
    cdef Py_ssize_t i
    for i in range(n):
        if not valid[i]:
            nbad -= bad[i]
            bad[i] = ROW_OK
            T[i] = 0
    return nbad


cdef inline cnp.ndarray new_vector(Py_ssize_t n, int typenum):
    cdef cnp.npy_intp size = n
    return cnp.PyArray_EMPTY(1, &size, typenum, 0)


cdef enum:
    SMALL = 256  # rows whose bad flags fit on the stack in "raise" mode: no allocation
    NOGIL_FROM = 4096  # rows: releasing the GIL costs ~40 ns, more than a small batch


def count_image_tokens_batch(widths, heights, model, detail, ruleset, on_error,
                             undocumented="error", enforce_patch_limit=True):
    """See visiontokens.count_image_tokens_batch."""
    # Same checks, in the same order, as _batch_py; the fast path only skips conversions that
    # would change nothing.
    cdef bint mask_mode
    if on_error == "raise":
        mask_mode = False
    elif on_error == "mask":
        mask_mode = True
    else:
        check_on_error(on_error)
    if ruleset is not None:
        rules.get_ruleset(ruleset)
    if not (enforce_patch_limit is True and type(undocumented) is str and undocumented == "error"):
        rules.check_policies(undocumented, enforce_patch_limit)  # (the defaults need none)
    cdef int kind = side_kind(widths)
    cdef object columns = None
    cdef object valid = None
    if (kind == SIDE_NONE or type(model) is not str
            or (type(detail) is not str and detail is not None)
            or side_kind(heights) != kind
            or cnp.PyArray_DIM(<cnp.ndarray>widths, 0) != cnp.PyArray_DIM(<cnp.ndarray>heights, 0)):
        # Anything but two plain arrays of one dtype and one model: the shared conversion.
        columns = prepare(widths, heights, model, detail)
        widths, heights = columns.widths, columns.heights
        model, detail, valid = columns.model, columns.detail, columns.valid
        kind = side_kind(widths)
    cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>widths, 0), nbad
    # (type() is, not isinstance: Labels is ours and final, and this is the per-call path)
    cdef bint per_row = columns is not None and (type(model) is Labels or type(detail) is Labels)
    cdef Params one
    if columns is None or type(model) is not Labels:  # one model for every row: not a row's error
        one = (<Model>lookup_with(model, ruleset, undocumented, enforce_patch_limit)).params_for(
            "auto" if per_row else detail)[0]
    cdef cnp.ndarray tokens = new_vector(n, cnp.NPY_INT64)
    cdef cnp.ndarray rejected = None
    cdef uint8_t small[SMALL]
    cdef uint8_t* bad = small
    if mask_mode:
        rejected = new_vector(n, cnp.NPY_BOOL)
        bad = <uint8_t*>cnp.PyArray_DATA(rejected)  # numpy bools are bytes 0 / 1
    elif n > SMALL:
        bad = <uint8_t*>PyMem_Malloc(n)
        if bad is NULL:
            raise MemoryError()
    cdef const void* W = cnp.PyArray_DATA(<cnp.ndarray>widths)
    cdef const void* H = cnp.PyArray_DATA(<cnp.ndarray>heights)
    cdef int64_t* T = <int64_t*>cnp.PyArray_DATA(tokens)
    cdef cnp.ndarray valid_bytes
    cdef Py_ssize_t row = -1
    try:
        if per_row:
            nbad = run_labels(kind, model, detail, ruleset, undocumented, enforce_patch_limit,
                              W, H, T, bad, n)
        else:
            if n > NOGIL_FROM:
                with nogil:
                    nbad = run_single(kind, &one, W, H, T, bad, n)
            else:
                nbad = run_single(kind, &one, W, H, T, bad, n)
        if valid is not None:
            valid_bytes = _np.ascontiguousarray(valid, dtype=_np.bool_)
            nbad = clear_nulls(<const uint8_t*>cnp.PyArray_DATA(valid_bytes), T, bad, n, nbad)
        if nbad and not mask_mode:
            row = 0
            while not bad[row]:
                row += 1
    finally:
        if bad is not small and rejected is None:
            PyMem_Free(bad)
    if row >= 0:
        raise_row(row, widths if columns is None else columns.given[0],
                  heights if columns is None else columns.given[1], model, detail, ruleset,
                  undocumented, enforce_patch_limit)
    if columns is None:
        return (tokens, rejected) if mask_mode else tokens
    return columns.output.wrap(tokens, rejected, valid, mask_mode)


cdef raise_row(Py_ssize_t row, object widths, object heights, object model, object detail,
               object ruleset, object undocumented, object enforce_patch_limit):
    # Re-run the row through the scalar path: one rule and one message for both twins.
    try:
        count_image_tokens(
            int(widths[row]), int(heights[row]),
            model.value(row) if type(model) is Labels else model,
            detail.value(row) if type(detail) is Labels else detail, ruleset=ruleset,
            undocumented=undocumented, enforce_patch_limit=enforce_patch_limit)
    except VisionTokensError as error:
        raise error.at_row(row) from None
    raise AssertionError(f"row {row} failed in the batch kernel but not in the scalar one")
