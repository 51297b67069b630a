# cython: cdivision=True
# (a file directive: Cython ignores @cython.cdivision on the inline functions of a .pxd, and
# without it every // carries Python's floor-division fix-ups)
# Shared by _tokens_c.pyx (scalar, explain) and _batch_c.pyx (batch): one set of kernels, so
# every entry point agrees by construction. spec 3 is the source of every rule here.
#
# Domain: after the size cap every side is <= 65535 and before it <= 2**31 - 1, budgets are
# <= 2**31 - 1 and multiplier numerators <= 10**7, so every product below fits in int64, and
# C division (cdivision) is safe because every dividend is >= 0 and every divisor > 0.
# The provider kernels (providers 1-5) take sides <= 2**31 - 1 too, and parameters (patch,
# merge, edges, token limits, pixel limits) <= 2**31 - 1 (rules.register checks them): a
# product of two of them is < 2**62, which is the largest product below.

from libc.math cimport ceil, floor, sqrt
from libc.stdint cimport UINT32_MAX, int64_t, uint32_t, uint64_t

cdef enum:
    SCHEME_PATCH = 0
    SCHEME_TILE = 1
    SCHEME_FLAT = 2     # tile model at low detail: the base, whatever the size (spec 3.2 step 4)
    SCHEME_INVALID = 3  # batch table entry for a model/detail pair that raises
    SCHEME_CLAUDE = 4   # providers 1.1: 28-px patches, bisected resize to (cap, budget)
    SCHEME_GEMINI_TILES = 5  # providers 2.1: 258 per crop-unit tile (ASSUMED parts for 2.x)
    SCHEME_MISTRAL = 6  # providers 3.1: rows x (cols + 1), break tokens
    SCHEME_QWEN = 7     # providers 4.1: smart_resize, (h/f)(w/f) + marker tokens
    # "fixed" models (Gemini levels, Amazon Nova 2 Lite) use SCHEME_FLAT: base, whatever the size

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
    # providers: patch edge (claude 28, mistral patch, qwen factor), merge (mistral), lo/hi
    # (gemini: crop-unit clamp; qwen: min/max pixels), marker tokens added per image (qwen)
    int64_t patch, merge, lo, hi, markers

cdef struct Outcome:
    int64_t tokens, width, height, units  # units: patches or tiles
    int64_t cols, rows  # the grid the units form (provider schemes; 0 when not filled)
    bint rejected       # OpenAI: over reject_over; qwen: aspect ratio > 200


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


# --- provider kernels (providers.md) ------------------------------------------------------

cdef inline int64_t div_half_even(int64_t a, int64_t b) noexcept nogil:
    # round(a / b) with ties to even, exactly: a >= 0, b > 0, 2 * b < 2**63.
    cdef int64_t q = quotient(a, b)
    cdef int64_t r2 = 2 * (a - q * b)
    if r2 > b or (r2 == b and (q & 1)):
        q += 1
    return q


cdef inline int64_t patches_of(int64_t x, int64_t patch) noexcept nogil:
    # ceil(x / patch); the documented 28 as a constant divisor (a multiply, not a divide)
    if patch == 28:
        return quotient(x + 27, 28)
    return ceil_div(x, patch)


cdef inline bint claude_fits(const Params* p, int64_t w, int64_t h) noexcept nogil:
    # providers 1.1 step 2: the 28-padded edges against the edge limit, then the patch count.
    # A side over the limit pads over it too: refused before any division (same answer).
    if w > p.cap or h > p.cap:
        return False
    cdef int64_t cw = patches_of(w, p.patch), ch = patches_of(h, p.patch)
    return cw * p.patch <= p.cap and ch * p.patch <= p.cap and cw * ch <= p.budget


cdef inline void claude_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    # providers 1.1 (DOCUMENTED): cap = MAX_EDGE, budget = MAX_TOK of the model's tier.
    # Products: mid * short < 2**62 (both sides < 2**31); cw * ch < 2**62.
    cdef int64_t lo = 1, hi, mid, s, long_side, short_side
    cdef bint swapped = h > w
    if not claude_fits(p, w, h):  # step 3: an image that fits is not resized
        long_side, short_side = (h, w) if swapped else (w, h)  # step 4
        hi = long_side
        while lo + 1 < hi:  # step 5: the docs' bisection, which is the specification (A1)
            mid = (lo + hi) // 2
            s = div_half_even(mid * short_side, long_side)
            s = s if s > 0 else 1
            if (claude_fits(p, s, mid) if swapped else claude_fits(p, mid, s)):
                lo = mid
            else:
                hi = mid
        s = div_half_even(lo * short_side, long_side)
        s = s if s > 0 else 1
        w, h = (s, lo) if swapped else (lo, s)
    out.cols, out.rows = patches_of(w, p.patch), patches_of(h, p.patch)
    out.units = out.cols * out.rows  # step 6: tokens = patches of the resized image
    out.tokens, out.width, out.height, out.rejected = out.units, w, h, False


cdef inline void gemini_tiles_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    # providers 2.1: short_side = 384 (both sides at most: one image-sized charge, base);
    # unit = min * 2 // 3 (floor(min / 1.5), DOCUMENTED "roughly"), clamped to lo..hi
    # (256..768: DOCUMENTED for 1.5, ASSUMED for 2.x); tiles = ceil * ceil (ASSUMED ceil).
    # Products: tiles < (2**31 / 256)**2 < 2**47, times per_tile <= 10**9 < 2**62.
    cdef int64_t unit
    out.width, out.height, out.rejected = w, h, False
    if w <= p.short_side and h <= p.short_side:
        out.cols = out.rows = out.units = 1
        out.tokens = p.base
        return
    unit = (w if w < h else h) * 2 // 3
    # min(max(unit, lo), hi), in that order, as the pure twin: the two agree on any lo, hi
    unit = p.lo if unit < p.lo else unit
    unit = p.hi if unit > p.hi else unit
    out.cols, out.rows = ceil_div(w, unit), ceil_div(h, unit)
    out.units = out.cols * out.rows
    out.tokens = out.units * p.per_tile


cdef inline int64_t round_half_even_double(double x) noexcept nogil:
    # Python's round() of a float >= 0, exactly: x - floor(x) is exact below 2**52.
    cdef double f = floor(x)
    cdef double d = x - f
    cdef int64_t q = <int64_t>f
    if d > 0.5 or (d == 0.5 and (q & 1)):
        q += 1
    return q


cdef inline void mistral_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    # providers 3.1 (mistral-common 1.13.1, ImageEncoder._image_to_num_tokens), in the same
    # binary64 operations in the same order as the vendor's Python: IEEE-754 division is
    # correctly rounded in C as in Python, and sides < 2**31 are exact doubles. cap = max
    # image size, patch, merge; no upscaling; max(.., 1) guards.
    cdef double ratio, rw, rh
    cdef int64_t cell = p.patch * p.merge
    rw = <double>w / <double>p.cap
    rh = <double>h / <double>p.cap
    ratio = rh if rh > rw else rw
    if ratio > 1.0:
        rw = <double>w / ratio
        rh = <double>h / ratio
        w = round_half_even_double(rw)
        h = round_half_even_double(rh)
        w = w if w > 0 else 1
        h = h if h > 0 else 1
    out.cols, out.rows = (w - 1) // cell + 1, (h - 1) // cell + 1
    out.units = out.cols * out.rows
    out.tokens = out.rows * (out.cols + 1)  # step 6: a break (or end) token per row
    # the resized size (step 2); the pixels then go to (cols * cell) x (rows * cell), step 7
    out.width, out.height, out.rejected = w, h, False


cdef inline int bit_length(uint64_t x) noexcept nogil:
    cdef int n = 0
    while x:
        x >>= 1
        n += 1
    return n


cdef inline double div_rn(int64_t a, int64_t b) noexcept nogil:
    # a / b correctly rounded to binary64 (ties to even), as Python's int / int is, for
    # 0 <= a < 2**63 and 0 < b < 2**31. Below 2**53 both operands are exact doubles and one
    # IEEE division rounds once; above, the 53 leading bits are taken in integers.
    cdef int64_t q, r, m, rest, half
    cdef int s, t
    if a < (<int64_t>1 << 53):
        return <double>a / <double>b
    q, r = a // b, a % b
    s = bit_length(<uint64_t>q) - 53
    if s > 0:  # q alone has more than 53 bits: round at bit s, the remainder is sticky
        m = q >> s
        rest = q & ((<int64_t>1 << s) - 1)
        half = <int64_t>1 << (s - 1)
        # compare rest + r / b with half: rest * b + r vs half * b (< 2**9 * 2**31)
        if rest * b + r > half * b or (rest * b + r == half * b and (m & 1)):
            m += 1
        return <double>m * <double>(<int64_t>1 << s)
    t = -s  # 0 <= t <= 31 (q >= 2**22 because a >= 2**53 and b < 2**31)
    m = (q << t) + (r << t) // b
    r = (r << t) % b
    if 2 * r > b or (2 * r == b and (m & 1)):
        m += 1
    return <double>m / <double>(<int64_t>1 << t)


cdef inline void qwen_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    # providers 4.1: transformers 5.25.0 smart_resize(height, width, factor, min_pixels,
    # max_pixels), each float operation as the vendor's Python does it (see div_rn and
    # round_half_even_double); patch = factor, lo/hi = min/max pixels.
    cdef int64_t f = p.patch, hb, wb, longer, shorter
    cdef double beta
    longer, shorter = (w, h) if w >= h else (h, w)
    out.width, out.height = w, h
    if longer > 200 * shorter:  # step 1 (exact: the float ratio is > 200 iff this is)
        out.rejected = True
        out.tokens = out.units = out.cols = out.rows = 0
        return
    hb = div_half_even(h, f) * f  # step 2: round(h / f) is exact (no tie can be made up)
    wb = div_half_even(w, f) * f
    if hb * wb > p.hi:  # step 3
        beta = sqrt(div_rn(h * w, p.hi))
        hb = <int64_t>floor(<double>h / beta / <double>f) * f
        wb = <int64_t>floor(<double>w / beta / <double>f) * f
        hb = hb if hb > f else f
        wb = wb if wb > f else f
    elif hb * wb < p.lo:  # step 4 (h * w < 2**53 here: exact doubles)
        beta = sqrt(<double>p.lo / <double>(h * w))
        hb = <int64_t>ceil(<double>h * beta / <double>f) * f
        wb = <int64_t>ceil(<double>w * beta / <double>f) * f
    out.cols, out.rows = wb // f, hb // f
    out.units = out.cols * out.rows  # step 5
    out.tokens = out.units + p.markers  # step 6: + <|vision_start|> <|vision_end|>
    out.width, out.height, out.rejected = wb, hb, False


cdef inline void image_cost(const Params* p, int64_t w, int64_t h, Outcome* out) noexcept nogil:
    if p.scheme == SCHEME_PATCH:
        patch_cost(p, w, h, out)
    elif p.scheme == SCHEME_TILE:
        tile_cost(p, w, h, out)
    elif p.scheme == SCHEME_CLAUDE:
        claude_cost(p, w, h, out)
    elif p.scheme == SCHEME_GEMINI_TILES:
        gemini_tiles_cost(p, w, h, out)
    elif p.scheme == SCHEME_MISTRAL:
        mistral_cost(p, w, h, out)
    elif p.scheme == SCHEME_QWEN:
        qwen_cost(p, w, h, out)
    else:
        out.tokens, out.width, out.height, out.units = p.base, w, h, 0
        out.cols = out.rows = 0
        out.rejected = False


cdef inline bint side_ok(int64_t side) noexcept nogil:
    # 1 <= side <= MAX_DIMENSION in one unsigned compare
    return <uint64_t>(side - 1) < <uint64_t>MAX_DIMENSION
