# cython: cdivision=True
# (a file directive: Cython ignores @cython.cdivision on the inline functions of a .pxd, and
# without it every // carries Python's floor-division fix-ups)
# Shared by _tokens_c.pyx (scalar, explain) and _batch_c.pyx (batch): one set of kernels, so
# every entry point agrees by construction. spec 3 is the source of every rule here.
#
# Domain: after the size cap every side is <= 65535 and before it <= 2**31 - 1, budgets are
# <= 2**31 - 1 and multiplier numerators <= 10**7, so every product below fits in int64, and
# C division (cdivision) is safe because every dividend is >= 0 and every divisor > 0.

from libc.math cimport sqrt
from libc.stdint cimport UINT32_MAX, int64_t, uint32_t, uint64_t

cdef enum:
    SCHEME_PATCH = 0
    SCHEME_TILE = 1
    SCHEME_FLAT = 2     # tile model at low detail: the base, whatever the size (spec 3.2 step 4)
    SCHEME_INVALID = 3  # batch table entry for a model/detail pair that raises

cdef enum:
    ROW_OK = 0
    ROW_BAD = 1         # the scalar path raises for this row; it is re-run there for the message

from visiontokens.calc._spec cimport MAX_DIMENSION, PATCH, TILE

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


cdef inline int64_t quotient(int64_t a, int64_t b) noexcept nogil:
    # a // b for a >= 0, b > 0. A 32-bit divide is several times cheaper than a 64-bit one,
    # and every quotient of realistic sizes fits: take it when it can.
    if <uint64_t>a <= UINT32_MAX:
        return <uint32_t>a // <uint32_t>b
    return a // b


cdef inline void fit_box(int64_t* w, int64_t* h, int64_t box) noexcept nogil:
    # spec 3.1 step 1 / 3.2 step 1: long side -> box, short side rounds half up, >= 1.
    # ASSUMED (spec 8.1): round half up.
    cdef int64_t short
    if w[0] >= h[0]:
        if w[0] > box:
            short = quotient(2 * h[0] * box + w[0], 2 * w[0])
            h[0] = short if short > 0 else 1
            w[0] = box
    elif h[0] > box:
        short = quotient(2 * w[0] * box + h[0], 2 * h[0])
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
    fit_box(&w, &h, p.cap)  # spec 3.2 step 1 (ASSUMED half up, spec 8.1)
    # spec 3.2 step 2: shortest side down to S (never up), the long side rounds down.
    if w <= h:
        if w > side:
            w, h = side, quotient(h * side, w)
    elif h > side:
        w, h = quotient(w * side, h), side
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
    # 1 <= side <= MAX_DIMENSION in one unsigned compare
    return <uint64_t>(side - 1) < <uint64_t>MAX_DIMENSION
