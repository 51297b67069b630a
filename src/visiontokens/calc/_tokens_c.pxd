from libc.stdint cimport int64_t

from visiontokens.calc._kernels cimport Params


cdef class Model:
    cdef readonly object spec
    cdef readonly str id
    cdef readonly str ruleset
    cdef readonly str scheme
    cdef readonly tuple details
    cdef Params low, high, original, medium, ultra, only
    cdef Params* auto_params
    cdef bint has_low, has_high, has_original, has_fidelity
    cdef dict bounds  # detail -> max_tokens

    cdef Params* level_params(self, str level)
    cdef Params* params_for(self, object detail) except NULL
    cdef int64_t extra(self, int64_t w, int64_t h, object detail, object input_fidelity) except -1
    cdef int64_t tokens(self, object width, object height, object detail,
                        object input_fidelity) except -1
    cdef int64_t tokens_with(self, object width, object height, object detail,
                             object input_fidelity, object min_pixels,
                             object max_pixels) except -1


cdef Model lookup(object name, object ruleset)
cdef Model lookup_with(object name, object ruleset, object undocumented,
                       object enforce_patch_limit)
