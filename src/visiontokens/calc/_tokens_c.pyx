# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, binding=True, freethreading_compatible=True
"""The compiled core: scalar entry points over the typed integer kernels of _kernels.pxd.

The same kernels serve the batch entry point (_batch_c.pyx, which needs numpy and so is
imported on the first batch call), so every entry point agrees by construction;
``_tokens_py.py`` is the independent oracle they are tested against. Everything that is not
arithmetic (name resolution, argument checks on the slow path, error messages) is shared
Python code, called only off the hot path.
"""

from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport int64_t

from visiontokens.calc._kernels cimport (
    SCHEME_CLAUDE, SCHEME_FLAT, SCHEME_GEMINI_TILES, SCHEME_MISTRAL, SCHEME_PATCH, SCHEME_QWEN,
    SCHEME_TILE, Outcome, Params, image_cost, side_ok,
)

from .. import rules
from .arguments import checked_dimension, result_labels, with_pixel_limits
from .bounds import worst_case_size
from .._errors import aspect_ratio_error, no_upper_bound_error, rejected_error

IMPLEMENTATION = "cython"

from visiontokens.calc cimport _spec

#: The spec numbers as the kernels see them (_spec.pxd); a test holds them equal to _spec.py.
SPEC_CONSTANTS = {"PATCH": _spec.PATCH, "TILE": _spec.TILE, "TILE_FIT": _spec.TILE_FIT,
                  "TILE_SHORT_SIDE": _spec.TILE_SHORT_SIDE, "MAX_DIMENSION": _spec.MAX_DIMENSION}


# --- resolved models ---------------------------------------------------------------------------

cdef dict _SCHEMES = {"patch": SCHEME_PATCH, "tile": SCHEME_TILE, "flat": SCHEME_FLAT,
                      "fixed": SCHEME_FLAT, "claude": SCHEME_CLAUDE,
                      "gemini_tiles": SCHEME_GEMINI_TILES, "mistral": SCHEME_MISTRAL,
                      "qwen": SCHEME_QWEN}


cdef Params params_from(object d):
    cdef Params p
    p.scheme = _SCHEMES[d.scheme]
    p.cap, p.budget, p.num, p.den = d.cap, d.budget, d.mult_num, d.mult_den
    p.reject_over, p.short_side = d.reject_over, d.short_side
    p.base, p.per_tile = d.base, d.per_tile
    p.patch, p.merge, p.lo, p.hi, p.markers = d.patch, d.merge, d.lo, d.hi, d.markers
    return p


cdef object rejection(object model_id, const Params* p, int64_t w, int64_t h, const Outcome* o):
    # The error of a rejected image: the shared builders, so both twins say the same.
    if p.scheme == SCHEME_QWEN:
        return aspect_ratio_error(model_id, w, h)
    return rejected_error(model_id, o.units, p.reject_over)


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
        if "medium" in params:  # Gemini media-resolution levels (providers 2.1)
            self.medium = params_from(params["medium"])
        if "ultra_high" in params:
            self.ultra = params_from(params["ultra_high"])
        if "auto" in params:  # a provider model without detail levels
            self.only = params_from(params["auto"])
        self.auto_params = self.level_params(spec.auto)
        self.bounds = {}

    def __repr__(self):
        return f"<visiontokens.Model {self.id!r} ruleset={self.ruleset!r} ({IMPLEMENTATION})>"

    cdef Params* level_params(self, str level):
        if level == "high":
            return &self.high
        if level == "low":
            return &self.low
        if level == "auto":
            return &self.only
        if level == "medium":
            return &self.medium
        if level == "ultra_high":
            return &self.ultra
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

    cdef int64_t extra(self, int64_t w, int64_t h, object detail, object input_fidelity) except -1:
        if input_fidelity is None:
            return 0
        # off the hot path: the extras of the level the detail chose (spec 3.3)
        p = self.spec.detail_params(detail)
        return rules.fidelity_extra(self.id, self.has_fidelity, p.fidelity_square,
                              p.fidelity_other, w, h, input_fidelity)

    cdef int64_t tokens(self, object width, object height, object detail,
                        object input_fidelity) except -1:
        cdef int64_t w = as_side("width", width)
        cdef int64_t h = as_side("height", height)
        cdef const Params* p = self.params_for(detail)
        cdef int64_t extra = self.extra(w, h, detail, input_fidelity)
        cdef Outcome o
        image_cost(p, w, h, &o)
        if o.rejected:
            raise rejection(self.id, p, w, h, &o)
        return o.tokens + extra

    cdef int64_t tokens_with(self, object width, object height, object detail,
                             object input_fidelity, object min_pixels,
                             object max_pixels) except -1:
        # The per-call Qwen limits (providers 4.2): off the hot path, a copy of the level's
        # parameters with the call's min/max pixels, checked by the shared code.
        if min_pixels is None and max_pixels is None:
            return self.tokens(width, height, detail, input_fidelity)
        cdef int64_t w = as_side("width", width)
        cdef int64_t h = as_side("height", height)
        self.params_for(detail)
        cdef int64_t extra = self.extra(w, h, detail, input_fidelity)
        cdef Params p = params_from(with_pixel_limits(
            self.id, self.spec.detail_params(detail), min_pixels, max_pixels))
        cdef Outcome o
        image_cost(&p, w, h, &o)
        if o.rejected:
            raise rejection(self.id, &p, w, h, &o)
        return o.tokens + extra

    def count(self, width, height, detail="auto", *, input_fidelity=None, min_pixels=None,
              max_pixels=None):
        """Input tokens of a width x height image at a detail level."""
        if min_pixels is None and max_pixels is None:
            return self.tokens(width, height, detail, input_fidelity)
        return self.tokens_with(width, height, detail, input_fidelity, min_pixels, max_pixels)

    def max_tokens(self, detail="auto"):
        """The most an image of any size can cost at ``detail``: what an image whose size is
        unknown is charged. Exact: a witness size costs it. ``input_fidelity`` extras are
        left out. Gemini 1.5 and 2.x tiles have no bound (no largest size is documented):
        NoUpperBoundError."""
        hit = self.bounds.get(detail) if detail is None or type(detail) is str else None
        if hit is None:
            level = self.spec.detail_params(detail)  # a bad level raises
            if level.scheme == "gemini_tiles":
                raise no_upper_bound_error(self.id, level.level)
            width, height = worst_case_size(level)
            hit = self.tokens(width, height, detail, None)
            if detail is None or type(detail) is str:
                self.bounds[detail] = hit
        return hit

    def explain(self, width, height, detail="auto", *, input_fidelity=None, min_pixels=None,
                max_pixels=None):
        """The tokens and how they were reached, as an :class:`ImageCost`."""
        cdef int64_t w = as_side("width", width)
        cdef int64_t h = as_side("height", height)
        cdef Params local = self.params_for(detail)[0]
        cdef int64_t extra = self.extra(w, h, detail, input_fidelity)
        level = self.spec.detail_params(detail)
        if min_pixels is not None or max_pixels is not None:
            level = with_pixel_limits(self.id, level, min_pixels, max_pixels)
            local = params_from(level)
        cdef const Params* p = &local
        cdef Outcome o
        image_cost(p, w, h, &o)
        if o.rejected:
            raise rejection(self.id, p, w, h, &o)
        provider = p.scheme >= SCHEME_CLAUDE
        global _ImageCost
        if _ImageCost is None:  # the result class (a dataclass) loads on first use, not at import
            from .._results import ImageCost as _ImageCost
        return _ImageCost(
            tokens=o.tokens + extra, model=self.id,
            detail=level.level, scheme=self.scheme,
            width=w, height=h, resized_width=o.width, resized_height=o.height,
            patches=o.units if p.scheme == SCHEME_PATCH or (
                provider and p.scheme != SCHEME_GEMINI_TILES) else None,
            tiles=o.units if p.scheme == SCHEME_TILE or p.scheme == SCHEME_GEMINI_TILES else None,
            ruleset=self.ruleset, multiplier=self.spec.multiplier,
            input_fidelity=input_fidelity, assumed_from=self.spec.assumed_from,
            evidence=self.spec.evidence, grid=(o.cols, o.rows) if provider else None,
            **result_labels(self.spec, level),
        )


cdef object _ImageCost = None


# --- name lookup, cached (a dict hit, no resolution per call) --------------------------------

# The models live in this twin's own namespace of the one cache (rules.memo): nothing but a
# Model of this module is ever stored there, and every read is a checked cast all the same.
# Keys: the bare name for the default ruleset, (ruleset, name) for a shipped one, and
# ("policy", ...) with the policy keywords; a ruleset that is not shipped never makes a key.
cdef dict _memo = rules.namespace("tokens.cython")
cdef frozenset _SHIPPED = frozenset(rules.SHIPPED)


cdef extern from *:
    """
    /* memo[key] as a new reference, or None. PyDict_GetItem only lends its result: without
       the GIL another thread's cache clear could free the model before we own it, so where
       PyDict_GetItemRef exists (3.13+, every free-threaded build) it is used instead. Keys
       are str or tuples of str and bool: hashing them cannot fail. */
    static PyObject* vt_memo_get(PyObject* memo, PyObject* key) {
        PyObject* value;
    #if PY_VERSION_HEX >= 0x030D0000
        if (PyDict_GetItemRef(memo, key, &value) < 0) {
            PyErr_Clear();
            value = NULL;
        }
    #else
        value = PyDict_GetItem(memo, key);  /* safe: the GIL is held */
        Py_XINCREF(value);
    #endif
        if (value == NULL) {
            Py_INCREF(Py_None);
            return Py_None;
        }
        return value;
    }
    """
    object vt_memo_get(dict memo, object key)


cdef Model lookup(object name, object ruleset):
    cdef object key, hit
    if type(name) is not str or (ruleset is not None and (
            type(ruleset) is not str or ruleset not in _SHIPPED)):
        return Model(rules.resolve(name, ruleset))  # raises the shared error
    key = name if ruleset is None else (ruleset, name)
    hit = vt_memo_get(_memo, key)
    if hit is not None:
        return <Model?>hit
    return <Model?>rules.memoised(_memo, key, _new_model, name, ruleset)


def _new_model(name, ruleset):
    return Model(rules.resolve(name, ruleset))


cdef Model lookup_with(object name, object ruleset, object undocumented,
                       object enforce_patch_limit):
    """lookup() with the policy keywords (spec 3.5, 8.6); the defaults take lookup's path."""
    if undocumented is _ERROR and enforce_patch_limit is True:
        return lookup(name, ruleset)
    rules.check_policies(undocumented, enforce_patch_limit)
    if undocumented == "error" and enforce_patch_limit:
        return lookup(name, ruleset)
    if type(name) is not str or (ruleset is not None and (
            type(ruleset) is not str or ruleset not in _SHIPPED)):
        return Model(rules.resolve(name, ruleset, undocumented, enforce_patch_limit))
    key = ("policy", ruleset, name, undocumented, enforce_patch_limit)
    hit = vt_memo_get(_memo, key)
    if hit is not None:
        return <Model?>hit
    return <Model?>rules.memoised(_memo, key, _new_policy_model, name, ruleset, undocumented,
                                  enforce_patch_limit)


def _new_policy_model(name, ruleset, undocumented, enforce_patch_limit):
    return Model(rules.resolve(name, ruleset, undocumented, enforce_patch_limit))


cdef str _ERROR = "error"


def get_model(name, *, ruleset=None, undocumented="error", enforce_patch_limit=True):
    """The model ``name`` means in ``ruleset``, resolved once.
    ``undocumented="assume"`` counts a known undocumented model like the documented model the
    data names (the figures say so); ``enforce_patch_limit=False`` drops the 30,000-patch
    rejection."""
    return lookup_with(name, ruleset, undocumented, enforce_patch_limit)


def count_image_tokens(width, height, model, detail="auto", *, ruleset=None,
                       input_fidelity=None, undocumented="error", enforce_patch_limit=True,
                       min_pixels=None, max_pixels=None):
    """Input tokens of a width x height image on ``model`` at ``detail``.
    ``min_pixels``/``max_pixels`` override a Qwen model's processor limits for this call."""
    if min_pixels is not None or max_pixels is not None:
        return lookup_with(model, ruleset, undocumented, enforce_patch_limit).tokens_with(
            width, height, detail, input_fidelity, min_pixels, max_pixels)
    if undocumented is _ERROR and enforce_patch_limit is True:
        return lookup(model, ruleset).tokens(width, height, detail, input_fidelity)
    return lookup_with(model, ruleset, undocumented, enforce_patch_limit).tokens(
        width, height, detail, input_fidelity)


def explain_image_tokens(width, height, model, detail="auto", *, ruleset=None,
                         input_fidelity=None, undocumented="error", enforce_patch_limit=True,
                         min_pixels=None, max_pixels=None):
    """Like :func:`count_image_tokens`, with the resized size, patches or tiles, the grid,
    and what the figure is (provider, exactness, tier, marker tokens, docs date)."""
    return lookup_with(model, ruleset, undocumented, enforce_patch_limit).explain(
        width, height, detail, input_fidelity=input_fidelity, min_pixels=min_pixels,
        max_pixels=max_pixels)


# --- batch -----------------------------------------------------------------------------------



def count_image_tokens_batch(widths, heights, model, detail="auto", *, ruleset=None,
                             on_error="raise", undocumented="error", enforce_patch_limit=True):
    """Tokens for many images at once: numpy in, numpy out (int64).

    ``model`` and ``detail`` are each one value or one per row. A row that cannot be
    counted raises, naming the row; ``on_error="mask"`` returns ``(tokens, rejected)``
    instead, with 0 tokens on rejected rows.
    """
    global _batch
    if _batch is None:
        from ._batch_c import count_image_tokens_batch as _batch
    return _batch(widths, heights, model, detail, ruleset, on_error, undocumented,
                  enforce_patch_limit)


cdef object _batch = None
