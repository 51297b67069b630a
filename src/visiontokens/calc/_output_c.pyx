# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, binding=True, freethreading_compatible=True
"""Output image tokens (spec 6.2), the compiled twin: integer kernels over a resolved model.

A model is resolved once into C parameters (the gpt-image-1 table as an array, the
gpt-image-2 rule as integers); a call then checks its arguments, prices the cell in C and
returns an int. ``_output_py.py`` is the oracle it is tested against; argument rules, the
reasons a size is refused and the result are shared Python (``_output_shared``), called off
the hot path, so both twins accept and refuse the same inputs with the same messages.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint8_t

from . import output_rules as shared
from .. import rules
from .._errors import size_type_error, unsupported_quality_error, unsupported_size_error

IMPLEMENTATION = "cython"

AUTO = shared.AUTO


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    const void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)


cdef enum:
    MAX_QUALITIES = 8  # per model, in the data (low, medium, high today)
    MAX_SIZES = 8  # per table model (three today)
    SIDE_DIGITS_MAX = 9  # shared.SIDE_DIGITS_MAX: sides < 10**9, products inside int64

    # why a flexible size is refused, in the order the checks run (spec 6.2)
    SIZE_OK = 0
    SIZE_MULTIPLE = 1
    SIZE_LONG_SIDE = 2
    SIZE_RATIO = 3
    SIZE_PIXELS = 4


cdef struct Flexible:
    # spec 6.2, gpt-image-2 (EMPIRICAL): the size limits and the rule's constants
    int64_t multiple, long_side_max, ratio_max, pixels_min, pixels_max, offset, divisor


cdef struct Priced:
    int64_t tokens, width, height  # width/height: flexible models only
    int quality, size  # indices into qualities / sizes (size: table models only)


# --- kernels ----------------------------------------------------------------------------------

cdef inline int size_problem(const Flexible* r, int64_t w, int64_t h) noexcept nogil:
    """Why the API cannot make w x h, or SIZE_OK; w, h in 1 .. 10**9 - 1."""
    cdef int64_t long_side = w if w > h else h
    cdef int64_t short_side = h if w > h else w
    if w % r.multiple or h % r.multiple:
        return SIZE_MULTIPLE
    if long_side > r.long_side_max:
        return SIZE_LONG_SIDE
    if long_side > r.ratio_max * short_side:
        return SIZE_RATIO
    if w * h < r.pixels_min or w * h > r.pixels_max:
        return SIZE_PIXELS
    return SIZE_OK


cdef inline int64_t flexible_tokens(const Flexible* r, int64_t f, int64_t w,
                                    int64_t h) noexcept nogil:
    """spec 6.2: s = (2 f S + L) // (2 L); tokens = ceil(f s (offset + w h) / divisor).
    Only for a valid size, where every product is far inside int64."""
    cdef int64_t long_side = w if w > h else h
    cdef int64_t short_side = h if w > h else w
    cdef int64_t s = (2 * f * short_side + long_side) // (2 * long_side)
    return (f * s * (r.offset + w * h) + r.divisor - 1) // r.divisor


cdef inline bint read_side(const uint8_t* text, Py_ssize_t length, Py_ssize_t* at,
                           int64_t* side) noexcept nogil:
    """One side of WIDTHxHEIGHT from text[at[0]:]: 1 to 9 ASCII digits, no leading zero.
    Every read is checked against ``length``."""
    cdef Py_ssize_t start = at[0]
    cdef int64_t value = 0
    while at[0] < length and at[0] - start < SIDE_DIGITS_MAX and 48 <= text[at[0]] <= 57:
        value = value * 10 + (text[at[0]] - 48)
        at[0] += 1
    if at[0] == start or text[start] == 48:  # no digit, or a leading zero
        return False
    side[0] = value
    return True


cdef bint parse_size(str size, int64_t* w, int64_t* h):
    """WIDTHxHEIGHT as the API spells it (the pure twin's regular expression)."""
    if not PyUnicode_IS_ASCII(size):
        return False
    cdef const uint8_t* text = <const uint8_t*>PyUnicode_DATA(size)
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(size)
    cdef Py_ssize_t at = 0
    if not read_side(text, length, &at, w):
        return False
    if at >= length or text[at] != 120:  # "x"
        return False
    at += 1
    if not read_side(text, length, &at, h):
        return False
    return at == length


cdef inline int64_t as_count(str name, object value, int64_t low, int64_t high) except -1:
    # a plain int in range is the fast path; anything else takes the shared rule
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and low <= v <= high:
            return v
    return shared.checked_count(name, value, low, high)


# --- resolved models ---------------------------------------------------------------------------

cdef class OutputModel:
    """An image-generation model resolved in one ruleset: no name lookup per call."""

    cdef readonly object spec
    cdef readonly str id
    cdef readonly str ruleset
    cdef bint flexible
    cdef tuple qualities, sizes
    cdef dict quality_index, size_index  # str -> position: one hash probe per call
    cdef int n_qualities, n_sizes
    cdef int64_t factors[MAX_QUALITIES]
    cdef int64_t cells[MAX_QUALITIES][MAX_SIZES]
    cdef Flexible rule
    cdef int64_t partial_tokens, n_max, partial_max
    # flexible models: the costliest size per quality, searched once when the model is
    # resolved (about a millisecond), so the object never changes after: safe to share
    # between threads without the GIL
    cdef Priced costliest[MAX_QUALITIES]

    def __init__(self, spec):
        self.spec = spec
        self.id, self.ruleset = spec.id, spec.ruleset
        self.flexible = spec.rule == "flexible"
        self.qualities, self.sizes = tuple(spec.qualities), tuple(spec.sizes)
        self.n_qualities, self.n_sizes = len(self.qualities), len(self.sizes)
        self.quality_index = {name: i for i, name in enumerate(self.qualities)}
        self.size_index = {name: i for i, name in enumerate(self.sizes)}
        if self.n_qualities > MAX_QUALITIES or self.n_sizes > MAX_SIZES:
            raise ValueError(f"{spec.id}: more qualities or sizes than the compiled twin holds")
        cdef int q, s
        for q in range(self.n_qualities):
            if self.flexible:
                self.factors[q] = spec.quality_factors[self.qualities[q]]
            else:
                for s in range(self.n_sizes):
                    self.cells[q][s] = spec.cells[self.qualities[q]][self.sizes[s]]
        self.rule.multiple, self.rule.long_side_max = spec.size_multiple, spec.long_side_max
        self.rule.ratio_max = spec.ratio_max
        self.rule.pixels_min, self.rule.pixels_max = spec.pixels_min, spec.pixels_max
        self.rule.offset, self.rule.divisor = spec.pixel_offset, spec.divisor
        self.partial_tokens = spec.partial_image_tokens
        self.n_max, self.partial_max = spec.n_max, spec.partial_images_max
        if self.flexible:
            for q in range(self.n_qualities):
                self.search_costliest(q)

    def __repr__(self):
        return f"<visiontokens.OutputModel {self.id!r} ruleset={self.ruleset!r} ({IMPLEMENTATION})>"

    cdef void search_costliest(self, int q) noexcept:
        """Every size the model can make, searched (widths, then heights, ascending; the
        first on a tie): the costliest at quality q."""
        cdef Priced* best = &self.costliest[q]
        cdef int64_t w, h, tallest, tokens
        cdef const Flexible* r = &self.rule
        best.tokens, best.width, best.height, best.quality, best.size = -1, 0, 0, q, -1
        w = r.multiple
        while w <= r.long_side_max:
            tallest = min(r.long_side_max, r.ratio_max * w, r.pixels_max // w)
            h = r.multiple
            while h <= tallest:
                if size_problem(r, w, h) == SIZE_OK:
                    tokens = flexible_tokens(r, self.factors[q], w, h)
                    if tokens > best.tokens:
                        best.tokens, best.width, best.height = tokens, w, h
                h += r.multiple
            w += r.multiple

    cdef int price(self, object size, object quality, Priced* out) except -1:
        """The costliest cell the API may pick for size and quality ("auto" or one value),
        the first in data order on a tie; raises for what the model cannot make."""
        cdef int q, s, q_low = 0, q_high = self.n_qualities, s_asked = -1, problem
        cdef int64_t w = 0, h = 0, tokens
        cdef Priced* best
        cdef PyObject* hit
        # The checks, in the order both twins keep: quality, size (n, partials: the caller).
        if quality is None:
            quality = AUTO
        if type(quality) is not str:
            raise unsupported_quality_error(self.id, quality, self.qualities)
        if quality != AUTO:
            hit = PyDict_GetItem(self.quality_index, quality)
            if hit is NULL:
                raise unsupported_quality_error(self.id, quality, self.qualities)
            q_low = <object>hit
            q_high = q_low + 1
        if size is None:
            size = AUTO
        if type(size) is not str:
            raise size_type_error(size)
        if size != AUTO:
            if not self.flexible:
                hit = PyDict_GetItem(self.size_index, size)
                if hit is NULL:
                    raise unsupported_size_error(self.id, size, shared.table_reason(self.spec))
                s_asked = <object>hit
            else:
                if not parse_size(size, &w, &h):
                    raise unsupported_size_error(self.id, size, shared.format_reason())
                problem = size_problem(&self.rule, w, h)
                if problem != SIZE_OK:
                    raise unsupported_size_error(self.id, size, self.reason(problem, w * h))
        out.tokens = -1
        for q in range(q_low, q_high):
            if not self.flexible:
                for s in range(self.n_sizes):
                    if (s_asked < 0 or s == s_asked) and self.cells[q][s] > out.tokens:
                        out.tokens, out.quality, out.size = self.cells[q][s], q, s
            elif size == AUTO:
                best = &self.costliest[q]
                if best.tokens > out.tokens:
                    out[0] = best[0]
            else:
                tokens = flexible_tokens(&self.rule, self.factors[q], w, h)
                if tokens > out.tokens:
                    out.tokens, out.width, out.height, out.quality = tokens, w, h, q
        return 0

    cdef str reason(self, int problem, int64_t pixels):
        if problem == SIZE_MULTIPLE:
            return shared.multiple_reason(self.spec)
        if problem == SIZE_LONG_SIDE:
            return shared.long_side_reason(self.spec)
        if problem == SIZE_RATIO:
            return shared.ratio_reason(self.spec)
        return shared.pixels_reason(self.spec, pixels)

    cdef int64_t tokens(self, object size, object quality, object n,
                        object partial_images) except -1:
        cdef Priced p
        self.price(size, quality, &p)
        cdef int64_t images = as_count("n", n, 1, self.n_max)
        cdef int64_t partials = as_count("partial_images", partial_images, 0, self.partial_max)
        return images * (p.tokens + partials * self.partial_tokens)

    def count(self, size=AUTO, quality=AUTO, n=1, partial_images=0):
        """Output tokens of n images of size at quality, each with its partial images."""
        return self.tokens(size, quality, n, partial_images)

    def explain(self, size=AUTO, quality=AUTO, n=1, partial_images=0):
        """The tokens and how they were reached, as an :class:`OutputImageCost`."""
        cdef Priced p
        self.price(size, quality, &p)
        images = as_count("n", n, 1, self.n_max)
        partials = as_count("partial_images", partial_images, 0, self.partial_max)
        priced_size = f"{p.width}x{p.height}" if self.flexible else self.sizes[p.size]
        return shared.cost(self.spec, AUTO if size is None else size,
                           AUTO if quality is None else quality, priced_size,
                           self.qualities[p.quality], p.tokens, images, partials)


# --- name lookup, cached in this twin's own namespace of the one cache ------------------------

cdef dict _memo = rules.namespace("output.cython")
cdef frozenset _SHIPPED = frozenset(rules.SHIPPED)


cdef OutputModel lookup(object name, object ruleset, object undocumented):
    cdef object key, hit
    if type(name) is not str or type(undocumented) is not str or (ruleset is not None and (
            type(ruleset) is not str or ruleset not in _SHIPPED)):
        return OutputModel(rules.resolve_output(name, ruleset, undocumented))  # raises
    # the common case (default ruleset, undocumented="error") keys by the bare name
    key = name if ruleset is None and undocumented == "error" else (name, ruleset, undocumented)
    hit = _memo.get(key)  # a new reference: safe while another thread clears the cache
    if hit is not None:
        return <OutputModel?>hit
    return <OutputModel?>rules.memoised(_memo, key, _new_output_model, name, ruleset, undocumented)


def _new_output_model(name, ruleset, undocumented):
    return OutputModel(rules.resolve_output(name, ruleset, undocumented))


def get_output_model(model, *, ruleset=None, undocumented="error"):
    """The output-token rule of an image model, resolved once."""
    return lookup(model, ruleset, undocumented)


def count_output_image_tokens(model, size=AUTO, quality=AUTO, *, n=1, partial_images=0,
                              ruleset=None, undocumented="error"):
    """Output tokens of generating ``n`` images of ``size`` at ``quality`` on ``model``,
    each with ``partial_images`` streamed partial images."""
    return lookup(model, ruleset, undocumented).tokens(size, quality, n, partial_images)


def explain_output_image_tokens(model, size=AUTO, quality=AUTO, *, n=1, partial_images=0,
                                ruleset=None, undocumented="error"):
    """Like :func:`count_output_image_tokens`, with the cell priced and whether the figure
    is exact, an upper bound (size or quality "auto") or EMPIRICAL (gpt-image-2)."""
    return lookup(model, ruleset, undocumented).explain(size, quality, n, partial_images)
