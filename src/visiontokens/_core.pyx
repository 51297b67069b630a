# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, embedsignature=True
"""The compiled core: typed integer kernels behind thin ``def`` wrappers.

One set of ``cdef inline ... noexcept nogil`` kernels (spec 3) serves the scalar, explain and
batch entry points, so they agree by construction; ``_reference.py`` is the independent
oracle they are tested against. Everything that is not arithmetic (name resolution, argument
checks on the slow path, error messages) is shared Python code, called only off the hot path.

Domain: after the size cap every side is <= 65535 and before it <= 2**31 - 1, budgets are
<= 2**31 - 1 and multiplier numerators <= 10**7, so every product below fits in int64, and
``cdivision`` is safe because every dividend is non-negative and every divisor positive.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject
from libc.math cimport sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memset

from . import _registry
from ._batch import check_on_error, per_row, size_arrays
from ._checks import checked_dimension, fidelity_extra
from ._errors import MAX_DIMENSION, VisionTokensError, rejected_error
from ._result import ImageCost

IMPLEMENTATION = "cython"

cdef enum:
    SCHEME_PATCH = 0
    SCHEME_TILE = 1
    SCHEME_FLAT = 2     # tile model at low detail: the base, whatever the size (spec 3.2 step 4)
    SCHEME_INVALID = 3  # batch table entry for a model/detail pair that raises

cdef enum:
    ROW_OK = 0
    ROW_BAD = 1         # the scalar path raises for this row; it is re-run there for the message

cdef int64_t MAX_SIDE = MAX_DIMENSION
cdef int64_t PATCH = 32  # spec 3.1 step 2
cdef int64_t TILE = 512  # spec 3.2 step 3

cdef struct Params:
    int scheme
    int64_t cap          # patch: size cap; tile: the 2048 fit box
    int64_t budget       # 0 = none
    int64_t num, den     # multiplier = num / den exactly
    int64_t reject_over  # 0 = never
    int64_t short_side, base, per_tile

cdef struct Outcome:
    int64_t tokens, width, height, units  # units: patches or tiles
    bint rejected


# --- kernels (spec 3) ------------------------------------------------------------------------

cdef inline int64_t ceil_div(int64_t a, int64_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline int64_t isqrt64(int64_t x) noexcept nogil:
    # Exact integer square root. x < 2**53 here, so the double is exact and its correctly
    # rounded sqrt is within one of the answer; the fix-ups make the result exact (spec 3.6).
    cdef int64_t r = <int64_t>sqrt(<double>x)
    while r * r > x:
        r -= 1
    while (r + 1) * (r + 1) <= x:
        r += 1
    return r


cdef inline void fit_box(int64_t* w, int64_t* h, int64_t box) noexcept nogil:
    # spec 3.1 step 1 / 3.2 step 1: long side -> box, short side rounds half up, >= 1.
    # ASSUMED (spec 8.1): round half up.
    cdef int64_t short
    if w[0] >= h[0]:
        if w[0] > box:
            short = (2 * h[0] * box + w[0]) // (2 * w[0])
            h[0] = short if short > 0 else 1
            w[0] = box
    elif h[0] > box:
        short = (2 * w[0] * box + h[0]) // (2 * h[0])
        w[0] = short if short > 0 else 1
        h[0] = box


cdef inline void patch_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    cdef int64_t patches, kw, kh, budget = p.budget
    fit_box(&w, &h, p.cap)
    patches = ceil_div(w, PATCH) * ceil_div(h, PATCH)
    if budget != 0 and patches > budget:
        # spec 3.1 step 3, closed form (spec 3.6): the binding side lands on 32 * k.
        kw = isqrt64(budget * w // h)
        kh = isqrt64(budget * h // w)
        if kw * h <= kh * w:
            w, h = PATCH * kw, (PATCH * kw * h) // w
        else:
            w, h = (PATCH * kh * w) // h, PATCH * kh
        # ASSUMED (spec 3.1 step 3): at least 1 px a side.
        w = w if w > 0 else 1
        h = h if h > 0 else 1
        patches = ceil_div(w, PATCH) * ceil_div(h, PATCH)
        patches = patches if patches < budget else budget
    out.rejected = p.reject_over != 0 and patches > p.reject_over  # spec 3.1 step 4
    # spec 3.1 step 5: ceil(patches * num / den). ASSUMED up for 2026-04 (spec 8.2).
    out.tokens = ceil_div(patches * p.num, p.den)
    out.width, out.height, out.units = w, h, patches


cdef inline void tile_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    cdef int64_t side = p.short_side, tiles
    fit_box(&w, &h, p.cap)
    # spec 3.2 step 2: shortest side down to S (never up), the long side rounds down.
    if w <= h:
        if w > side:
            w, h = side, (h * side) // w
    elif h > side:
        w, h = (w * side) // h, side
    tiles = ceil_div(w, TILE) * ceil_div(h, TILE)
    out.tokens = p.base + tiles * p.per_tile
    out.width, out.height, out.units = w, h, tiles
    out.rejected = False


cdef inline void image_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    if p.scheme == SCHEME_PATCH:
        patch_cost(p, w, h, out)
    elif p.scheme == SCHEME_TILE:
        tile_cost(p, w, h, out)
    else:
        out.tokens, out.width, out.height, out.units = p.base, w, h, 0
        out.rejected = False


cdef inline bint side_ok(int64_t side) noexcept nogil:
    # 1 <= side <= MAX_SIDE in one unsigned compare
    return <uint64_t>(side - 1) < <uint64_t>MAX_SIDE


# --- batch loops: one per scheme, so each inner loop is branch-light ---------------------------

cdef void batch_patch(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                      uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef Outcome o
    for i in range(n):
        if side_ok(W[i]) and side_ok(H[i]):
            patch_cost(p, W[i], H[i], &o)
            if not o.rejected:
                T[i] = o.tokens
                continue
        T[i] = 0
        bad[i] = ROW_BAD


cdef void batch_tile(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                     uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t w, h, short, side = p.short_side, box = p.cap, t, ok
    for i in range(n):
        # tile_cost written out without branches on the data, so the loop vectorises.
        w = W[i]
        h = H[i]
        ok = side_ok(w) & side_ok(h)
        w = w if ok else 1
        h = h if ok else 1
        t = w if w > h else h  # long side
        short = w + h - t
        if t > box:  # fit 2048, round half up, at least 1
            short = (2 * short * box + t) // (2 * t)
            short = short if short > 0 else 1
            t = box
        if short > side:
            t = (t * side) // short
            short = side
        T[i] = (p.base + ceil_div(t, TILE) * ceil_div(short, TILE) * p.per_tile) * ok
        bad[i] = 1 - ok


cdef void batch_flat(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                     uint8_t* bad, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t ok
    for i in range(n):
        ok = side_ok(W[i]) & side_ok(H[i])
        T[i] = p.base * ok
        bad[i] = 1 - ok


cdef void batch_table(const Params* table, const int64_t* codes, const int64_t* W,
                      const int64_t* H, int64_t* T, uint8_t* bad, Py_ssize_t n) noexcept nogil:
    # Per-row model/detail: codes index a table of resolved parameters.
    cdef Py_ssize_t i
    cdef Outcome o
    cdef const Params* p
    for i in range(n):
        p = &table[codes[i]]
        if p.scheme != SCHEME_INVALID and side_ok(W[i]) and side_ok(H[i]):
            image_cost(p, W[i], H[i], &o)
            if not o.rejected:
                T[i] = o.tokens
                continue
        T[i] = 0
        bad[i] = ROW_BAD


cdef void run_batch(const Params* p, const int64_t* W, const int64_t* H, int64_t* T,
                    uint8_t* bad, Py_ssize_t n) noexcept nogil:
    if p.scheme == SCHEME_PATCH:
        batch_patch(p, W, H, T, bad, n)
    elif p.scheme == SCHEME_TILE:
        batch_tile(p, W, H, T, bad, n)
    else:
        batch_flat(p, W, H, T, bad, n)


# --- resolved models ---------------------------------------------------------------------------

cdef Params params_from(object d):
    cdef Params p
    p.scheme = {"patch": SCHEME_PATCH, "tile": SCHEME_TILE, "flat": SCHEME_FLAT}[d.scheme]
    p.cap, p.budget, p.num, p.den = d.cap, d.budget, d.mult_num, d.mult_den
    p.reject_over, p.short_side = d.reject_over, d.short_side
    p.base, p.per_tile = d.base, d.per_tile
    return p


cdef inline int64_t as_side(str name, object value) except -1:
    # Fast path for a plain int in range; anything else takes the shared slow path, which
    # accepts numpy integers and refuses floats (never truncated) and bools.
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and side_ok(v):
            return v
    return checked_dimension(name, value)


cdef class Model:
    """A model resolved in one ruleset: :meth:`count` does no name lookup."""

    cdef readonly object spec
    cdef readonly str id
    cdef readonly str ruleset
    cdef readonly str scheme
    cdef readonly tuple details
    cdef Params low, high, original
    cdef Params* auto_params
    cdef bint has_low, has_high, has_original, has_fidelity
    cdef int64_t fidelity_square, fidelity_other

    def __init__(self, spec):
        self.spec = spec
        self.id, self.ruleset, self.scheme = spec.id, spec.ruleset, spec.scheme
        self.details = spec.details
        self.has_fidelity = spec.has_input_fidelity
        params = spec.params
        self.has_low, self.has_high, self.has_original = (
            "low" in params, "high" in params, "original" in params)
        if self.has_low:
            self.low = params_from(params["low"])
        if self.has_high:
            self.high = params_from(params["high"])
        if self.has_original:
            self.original = params_from(params["original"])
        self.auto_params = self.level_params(spec.auto)
        for level in params.values():
            self.fidelity_square, self.fidelity_other = level.fidelity_square, level.fidelity_other

    def __repr__(self):
        return f"<visiontokens.Model {self.id!r} ruleset={self.ruleset!r} ({IMPLEMENTATION})>"

    cdef Params* level_params(self, str level):
        if level == "high":
            return &self.high
        if level == "low":
            return &self.low
        return &self.original

    cdef Params* params_for(self, object detail) except NULL:
        # spec 3.4: the four strings, case-sensitive; None (omitted) means auto.
        if type(detail) is str:
            if detail == "auto":
                return self.auto_params
            if detail == "high" and self.has_high:
                return &self.high
            if detail == "low" and self.has_low:
                return &self.low
            if detail == "original" and self.has_original:
                return &self.original
        elif detail is None:
            return self.auto_params
        # Anything else: the shared rule decides (and raises the shared error).
        return self.level_params(self.spec.detail_params(detail).level)

    cdef int64_t extra(self, int64_t w, int64_t h, object input_fidelity) except -1:
        if input_fidelity is None:
            return 0
        return fidelity_extra(self.id, self.has_fidelity, self.fidelity_square,
                              self.fidelity_other, w, h, input_fidelity)

    cdef int64_t tokens(self, object width, object height, object detail,
                        object input_fidelity) except -1:
        cdef int64_t w = as_side("width", width)
        cdef int64_t h = as_side("height", height)
        cdef const Params* p = self.params_for(detail)
        cdef int64_t extra = self.extra(w, h, input_fidelity)
        cdef Outcome o
        image_cost(p, w, h, &o)
        if o.rejected:
            raise rejected_error(self.id, o.units, p.reject_over)
        return o.tokens + extra

    def count(self, width, height, detail="auto", *, input_fidelity=None):
        """Input tokens of a width x height image at a detail level."""
        return self.tokens(width, height, detail, input_fidelity)

    def explain(self, width, height, detail="auto", *, input_fidelity=None):
        """The tokens and how they were reached, as an :class:`ImageCost`."""
        cdef int64_t w = as_side("width", width)
        cdef int64_t h = as_side("height", height)
        cdef const Params* p = self.params_for(detail)
        cdef int64_t extra = self.extra(w, h, input_fidelity)
        cdef Outcome o
        image_cost(p, w, h, &o)
        if o.rejected:
            raise rejected_error(self.id, o.units, p.reject_over)
        return ImageCost(
            tokens=o.tokens + extra, model=self.id,
            detail=self.spec.detail_params(detail).level, scheme=self.scheme,
            width=w, height=h, resized_width=o.width, resized_height=o.height,
            patches=o.units if p.scheme == SCHEME_PATCH else None,
            tiles=o.units if p.scheme == SCHEME_TILE else None,
            ruleset=self.ruleset, multiplier=self.spec.multiplier,
            input_fidelity=input_fidelity,
        )


# --- name lookup, cached (a dict hit, no resolution per call) --------------------------------

cdef dict _default_models = {}  # name -> Model, default ruleset
cdef dict _ruleset_models = {}  # (ruleset, name) -> Model
cdef Py_ssize_t CACHE_LIMIT = 4096  # dated snapshot names are many: bound the cache


def clear_cache():
    """Forget resolved models (called whenever registrations change)."""
    _default_models.clear()
    _ruleset_models.clear()


_registry.on_change(clear_cache)


cdef Model lookup(object name, object ruleset):
    cdef PyObject* hit
    if ruleset is None and type(name) is str:
        hit = PyDict_GetItem(_default_models, name)
        if hit is not NULL:
            return <Model>hit
    elif type(name) is str and type(ruleset) is str:
        hit = PyDict_GetItem(_ruleset_models, (ruleset, name))
        if hit is not NULL:
            return <Model>hit
    model = Model(_registry.resolve(name, ruleset))
    if type(name) is str and (ruleset is None or type(ruleset) is str):
        if len(_default_models) + len(_ruleset_models) >= CACHE_LIMIT:
            clear_cache()
        if ruleset is None:
            _default_models[name] = model
        else:
            _ruleset_models[ruleset, name] = model
    return model


def get_model(name, *, ruleset=None):
    """The model ``name`` means in ``ruleset`` (spec 3.5), resolved once."""
    return lookup(name, ruleset)


def count_image_tokens(width, height, model, detail="auto", *, ruleset=None,
                       input_fidelity=None):
    """Input tokens of a width x height image on ``model`` at ``detail``."""
    return lookup(model, ruleset).tokens(width, height, detail, input_fidelity)


def explain_image_tokens(width, height, model, detail="auto", *, ruleset=None,
                         input_fidelity=None):
    """Like :func:`count_image_tokens`, with the resized size, patches or tiles."""
    return lookup(model, ruleset).explain(width, height, detail, input_fidelity=input_fidelity)


# --- batch -----------------------------------------------------------------------------------

cdef object factorize(object column):
    """(codes as int64 array, distinct values) in order of first appearance.

    Exact str and None are keyed by value; anything else by (type, value) so that, say,
    a numpy str is never merged with an equal str (the shared rules treat them apart), and
    an unhashable value gets a code of its own.
    """
    import numpy as np
    cdef list values = column.tolist()
    cdef Py_ssize_t i, n = len(values)
    cdef dict seen = {}
    cdef list distinct = []
    codes = np.empty(n, dtype=np.int64)
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


cdef Params table_entry(object model, object detail, object ruleset):
    cdef Params p
    try:
        p = (<Model>lookup(model, ruleset)).params_for(detail)[0]
    except VisionTokensError:
        memset(&p, 0, sizeof(Params))
        p.scheme = SCHEME_INVALID
    return p


def count_image_tokens_batch(widths, heights, model, detail="auto", *, ruleset=None,
                             on_error="raise"):
    """Tokens for many images at once: numpy in, numpy out (int64).

    ``model`` and ``detail`` are each one value or one per row. A row that cannot be
    counted raises, naming the row; ``on_error="mask"`` returns ``(tokens, rejected)``
    instead, with 0 tokens on rejected rows.
    """
    import numpy as np
    check_on_error(on_error)
    _registry.get_ruleset(ruleset)
    w_given, h_given, w64, h64 = size_arrays(widths, heights)
    cdef Py_ssize_t n = len(w64), k, mi, di, nd
    model_rows, detail_rows = per_row(model, n, "model"), per_row(detail, n, "detail")
    cdef Params one
    cdef Params* table = NULL
    if model_rows is None:  # one model (and detail) for every row: its errors are not a row's
        one = lookup(model, ruleset).params_for("auto" if detail_rows is not None else detail)[0]
    tokens = np.zeros(n, dtype=np.int64)
    rejected = np.zeros(n, dtype=np.uint8)
    if n == 0:
        return (tokens, rejected.view(bool)) if on_error == "mask" else tokens
    cdef const int64_t[::1] W = w64
    cdef const int64_t[::1] H = h64
    cdef int64_t[::1] T = tokens
    cdef uint8_t[::1] bad = rejected
    cdef const int64_t[::1] codes
    if model_rows is None and detail_rows is None:
        with nogil:
            run_batch(&one, &W[0], &H[0], &T[0], &bad[0], n)
    else:
        if model_rows is None:
            model_codes, models = np.zeros(n, dtype=np.int64), [model]
        else:
            model_codes, models = factorize(model_rows)
        detail_codes, details = (
            (np.zeros(n, dtype=np.int64), [detail]) if detail_rows is None
            else factorize(detail_rows))
        nd = len(details)
        pair_codes = model_codes * nd + detail_codes
        if len(models) * nd <= 65536:
            pairs = None
        else:  # many distinct values: only the pairs that occur
            pairs, pair_codes = np.unique(pair_codes, return_inverse=True)
        k = len(models) * nd if pairs is None else len(pairs)
        table = <Params*>PyMem_Malloc(k * sizeof(Params))
        if table is NULL:
            raise MemoryError()
        try:
            for i in range(k):
                mi, di = divmod(i if pairs is None else int(pairs[i]), nd)
                table[i] = table_entry(models[mi], details[di], ruleset)
            codes = np.ascontiguousarray(pair_codes, dtype=np.int64)
            with nogil:
                batch_table(table, &codes[0], &W[0], &H[0], &T[0], &bad[0], n)
        finally:
            PyMem_Free(table)
    flags = rejected.view(bool)
    if on_error == "mask":
        return tokens, flags
    if flags.any():
        row = int(flags.argmax())
        # Re-run the row through the scalar path: one rule and one message for both.
        try:
            count_image_tokens(
                int(w_given[row]), int(h_given[row]),
                model if model_rows is None else model_rows[row],
                detail if detail_rows is None else detail_rows[row], ruleset=ruleset)
        except VisionTokensError as error:
            raise error.at_row(row) from None
        raise AssertionError(f"row {row} failed in the batch kernel but not in the scalar one")
    return tokens
