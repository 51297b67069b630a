# The numbers of the specification the compiled twins use: the C mirror of visiontokens/_spec.py, which
# tests/test_spec_constants.py holds equal to it (through _tokens_c.SPEC_CONSTANTS).

cdef enum:
    PATCH = 32                 # spec 3.1 step 2
    TILE = 512                 # spec 3.2 step 3
    TILE_FIT = 2048            # spec 3.2 step 1
    TILE_SHORT_SIDE = 768      # spec 3.2 step 2
    MAX_DIMENSION = 2147483647 # 2**31 - 1: the largest width or height accepted
