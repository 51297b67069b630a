# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""JSON request bodies read in place: the compiled scanner (twin of ``_scan_py.py``).

The grammar, the values and the errors are those of ``_scan_py.py``, whose docstring states
them; this module takes the same steps and reports a failure as (offset, what), which
``_scan_py._error`` turns into the error both twins raise. Every read of the body goes
through ``at`` (one byte, -1 past the end) or is preceded by a check that the bytes exist
(``need <= n - pos``); the plain runs of a string are skipped by ``vt_string_stop``
(``_scan_stop.h``), which loads only whole blocks inside the range it is given.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdlib cimport free, realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memchr, memcmp, memcpy
from cpython.pycapsule cimport PyCapsule_GetContext, PyCapsule_New, PyCapsule_SetContext
from cpython.ref cimport Py_DECREF, Py_INCREF

from .._errors import ArgumentTypeError
from . import _scan_py as ref
from ._value_limit import TooDense

IMPLEMENTATION = "cython"

cdef extern from "_scan_stop.h":
    const uint8_t* vt_string_stop(const uint8_t* p, const uint8_t* end) nogil
    int vt_all_ascii(const uint8_t* p, const uint8_t* end) nogil
    int vt_copy_plain(uint8_t* dst, const uint8_t* src, size_t n) nogil
    int vt_block_kind(const uint8_t* src, size_t n) nogil
    enum: VT_PLAIN
    void vt_scan_init()
    int vt_scan_set_wide(int on)

cdef extern from "_fill.h":
    ctypedef struct vt_fill:
        void (*fill)(void* owner, const uint8_t* start, const uint8_t* end) noexcept nogil
        void* owner
    const char* VT_FILL_CAPSULE

vt_scan_init()  # whether the processor has AVX2: asked once, here


def _set_wide(bint on):
    """Turn the AVX2 string loop off (or back on, where the processor has it); returns
    whether it is on. For the tests, which run the SSE2 loop alone too."""
    return bool(vt_scan_set_wide(on))

cdef enum:
    MAX_DEPTH = 200
    ESCAPED = 1
    NON_ASCII = 2

cdef enum:
    BLOCK_SHIFT = 12  # a BodyBuffer's map: one entry per 4 KB block

cdef Py_ssize_t LONG_STRING = ref.LONG_STRING
cdef Py_ssize_t MAX_DATA_URL_HEADER = ref.MAX_DATA_URL_HEADER
cdef Py_ssize_t SKIP_TABLE = ref.SKIP_TABLE
assert MAX_DEPTH == ref.MAX_DEPTH
assert (1 << BLOCK_SHIFT) == ref.BLOCK

cdef class ObjectNode
cdef class ArrayNode
cdef class BodyString


cdef enum What:  # indices into _scan_py.WHAT
    E_VALUE, E_ARRAY, E_OBJECT, E_KEY, E_COLON, E_UNTERMINATED, E_ESCAPE, E_UESCAPE, E_CONTROL
    E_UTF8, E_NUMBER, E_LITERAL, E_TRAILING, E_DEEP, E_BIG_INT, E_DENSE


cdef struct LongString:
    Py_ssize_t start, end  # the opening quote, the offset after the closing one
    int flags

cdef struct Scan:
    const uint8_t* b
    Py_ssize_t n
    Py_ssize_t fail_at
    What what
    LongString* longs     # NULL: validate only
    Py_ssize_t count, capacity
    bint no_memory
    Py_ssize_t values, max_values  # values begun so far; past max_values: E_DENSE
    const uint8_t* plain  # a BodyBuffer's block map (VT_PLAIN: a plain block), or NULL
    Py_ssize_t stepped  # the bytes stepped over by the map, unread


# --- reads ----------------------------------------------------------------------------------------

cdef inline int at(const Scan* s, Py_ssize_t pos) noexcept nogil:
    """The byte at pos, or -1 past the end: the one way to read a single byte."""
    if pos < 0 or pos >= s.n:
        return -1
    return s.b[pos]


cdef inline Py_ssize_t ws(const Scan* s, Py_ssize_t pos) noexcept nogil:
    cdef int c
    while True:
        c = at(s, pos)
        if c != 0x20 and c != 0x0A and c != 0x0D and c != 0x09:
            return pos
        pos += 1


cdef inline Py_ssize_t fail(Scan* s, Py_ssize_t pos, What what) noexcept nogil:
    s.fail_at, s.what = pos, what
    return -1


cdef inline bint cont(const Scan* s, Py_ssize_t pos, int lo, int hi) noexcept nogil:
    cdef int c = at(s, pos)
    return lo <= c <= hi


cdef Py_ssize_t utf8_sequence(const Scan* s, Py_ssize_t p) noexcept nogil:
    """The length of the well-formed UTF-8 sequence at p (RFC 3629), or 0."""
    cdef int c = at(s, p)
    if 0xC2 <= c <= 0xDF:
        return 2 if cont(s, p + 1, 0x80, 0xBF) else 0
    if c == 0xE0:
        return 3 if cont(s, p + 1, 0xA0, 0xBF) and cont(s, p + 2, 0x80, 0xBF) else 0
    if (0xE1 <= c <= 0xEC) or c == 0xEE or c == 0xEF:
        return 3 if cont(s, p + 1, 0x80, 0xBF) and cont(s, p + 2, 0x80, 0xBF) else 0
    if c == 0xED:  # no encoded surrogates
        return 3 if cont(s, p + 1, 0x80, 0x9F) and cont(s, p + 2, 0x80, 0xBF) else 0
    if c == 0xF0:
        return 4 if (cont(s, p + 1, 0x90, 0xBF) and cont(s, p + 2, 0x80, 0xBF)
                     and cont(s, p + 3, 0x80, 0xBF)) else 0
    if 0xF1 <= c <= 0xF3:
        return 4 if (cont(s, p + 1, 0x80, 0xBF) and cont(s, p + 2, 0x80, 0xBF)
                     and cont(s, p + 3, 0x80, 0xBF)) else 0
    if c == 0xF4:
        return 4 if (cont(s, p + 1, 0x80, 0x8F) and cont(s, p + 2, 0x80, 0xBF)
                     and cont(s, p + 3, 0x80, 0xBF)) else 0
    return 0


cdef inline bint is_hex(int c) noexcept nogil:
    return (0x30 <= c <= 0x39) or (0x41 <= c <= 0x46) or (0x61 <= c <= 0x66)


cdef Py_ssize_t plain_run_end(Scan* s, Py_ssize_t p) noexcept nogil:
    """The first stop byte at or after p (p < n), or n. With a block map, the blocks it
    marks as holding none are stepped over unread, and the loop reads one block at a time."""
    cdef Py_ssize_t block_end, q
    if s.plain == NULL:
        return vt_string_stop(s.b + p, s.b + s.n) - s.b
    while p < s.n:
        block_end = ((p >> BLOCK_SHIFT) + 1) << BLOCK_SHIFT
        if s.plain[p >> BLOCK_SHIFT] != VT_PLAIN:
            if block_end > s.n:
                block_end = s.n
            q = vt_string_stop(s.b + p, s.b + block_end) - s.b
            if q < block_end:
                return q
        else:
            s.stepped += (block_end if block_end < s.n else s.n) - p
        p = block_end
    return s.n


cdef Py_ssize_t string(Scan* s, Py_ssize_t pos, int* flags) noexcept nogil:
    """The string opening at pos: the offset after its closing quote (flags set), or -1."""
    cdef Py_ssize_t p = pos + 1, k, digits
    cdef int c, e
    flags[0] = 0
    while True:
        if p < s.n:  # (p <= n: the stop loop reads only [p, n))
            p = plain_run_end(s, p)
        c = at(s, p)
        if c < 0:
            return fail(s, pos, E_UNTERMINATED)
        if c == 0x22:
            return p + 1
        if c == 0x5C:
            flags[0] |= ESCAPED
            e = at(s, p + 1)
            if e < 0:
                return fail(s, pos, E_UNTERMINATED)
            if e == 0x75:  # \uXXXX
                digits = 0
                while digits < 4 and is_hex(at(s, p + 2 + digits)):
                    digits += 1
                if digits == 4:
                    p += 6
                elif p + 2 + digits < s.n:
                    return fail(s, p, E_UESCAPE)
                else:
                    return fail(s, pos, E_UNTERMINATED)
            elif (e == 0x22 or e == 0x5C or e == 0x2F or e == 0x62 or e == 0x66 or e == 0x6E
                  or e == 0x72 or e == 0x74):
                p += 2
            else:
                return fail(s, p, E_ESCAPE)
        elif c < 0x20:
            return fail(s, p, E_CONTROL)
        else:
            k = utf8_sequence(s, p)
            if k == 0:
                return fail(s, p, E_UTF8)
            flags[0] |= NON_ASCII
            p += k


cdef inline Py_ssize_t digits(const Scan* s, Py_ssize_t p) noexcept nogil:
    cdef int c
    while True:
        c = at(s, p)
        if c < 0x30 or c > 0x39:
            return p
        p += 1


cdef Py_ssize_t number(Scan* s, Py_ssize_t pos) noexcept nogil:
    """The offset after the number at pos, or -1 (the grammar of RFC 8259 section 6)."""
    cdef Py_ssize_t p = pos, q
    cdef int c
    if at(s, p) == 0x2D:
        p += 1
    c = at(s, p)
    if c == 0x30:
        p += 1
    elif 0x31 <= c <= 0x39:
        p = digits(s, p + 1)
    else:
        return fail(s, pos, E_NUMBER)
    if at(s, p) == 0x2E:
        q = digits(s, p + 1)
        if q == p + 1:
            return fail(s, pos, E_NUMBER)
        p = q
    c = at(s, p)
    if c == 0x65 or c == 0x45:
        p += 1
        c = at(s, p)
        if c == 0x2B or c == 0x2D:
            p += 1
        q = digits(s, p)
        if q == p:
            return fail(s, pos, E_NUMBER)
        p = q
    return p


cdef inline bint word(const Scan* s, Py_ssize_t pos, const char* text, Py_ssize_t k) noexcept nogil:
    return k <= s.n - pos and memcmp(s.b + pos, text, k) == 0


cdef int record(Scan* s, Py_ssize_t start, Py_ssize_t end, int flags) noexcept nogil:
    cdef LongString* grown
    cdef Py_ssize_t capacity
    if s.count == s.capacity:
        capacity = 64 if s.capacity == 0 else 2 * s.capacity
        grown = <LongString*>realloc(s.longs, capacity * sizeof(LongString))
        if grown == NULL:
            s.no_memory = True
            return -1
        s.longs, s.capacity = grown, capacity
    s.longs[s.count].start = start
    s.longs[s.count].end = end
    s.longs[s.count].flags = flags
    s.count += 1
    return 0


cdef Py_ssize_t scan(Scan* s, bint keep) noexcept nogil:
    """Validate all of the body; with keep, record its long strings. Returns the offset of the
    value, or -1 (s.fail_at, s.what; or s.no_memory)."""
    cdef char stack[MAX_DEPTH]  # 1: an object
    cdef int depth = 0, c, flags, state = 0
    cdef Py_ssize_t p = ws(s, 0), end
    cdef Py_ssize_t first = p
    cdef bint is_object
    while True:
        if state == 0:  # a value is expected at p
            s.values += 1
            if s.values > s.max_values:
                return fail(s, p, E_DENSE)
            c = at(s, p)
            if c == 0x7B or c == 0x5B:
                if depth == MAX_DEPTH:
                    return fail(s, p, E_DEEP)
                is_object = c == 0x7B
                stack[depth] = is_object
                depth += 1
                p = ws(s, p + 1)
                if at(s, p) == (0x7D if is_object else 0x5D):
                    depth -= 1
                    p += 1
                    state = 2
                else:
                    state = 1 if is_object else 0
                continue
            if c == 0x22:
                end = string(s, p, &flags)
                if end < 0:
                    return -1
                if keep and end - p >= SKIP_TABLE and record(s, p, end, flags) < 0:
                    return -1
                p = end
            elif c == 0x2D or 0x30 <= c <= 0x39:
                p = number(s, p)
                if p < 0:
                    return -1
            elif c == 0x74:
                if not word(s, p, "true", 4):
                    return fail(s, p, E_LITERAL)
                p += 4
            elif c == 0x66:
                if not word(s, p, "false", 5):
                    return fail(s, p, E_LITERAL)
                p += 5
            elif c == 0x6E:
                if not word(s, p, "null", 4):
                    return fail(s, p, E_LITERAL)
                p += 4
            else:
                return fail(s, p, E_VALUE)
            state = 2
        elif state == 1:  # a key is expected at p
            if at(s, p) != 0x22:
                return fail(s, p, E_KEY)
            end = string(s, p, &flags)
            if end < 0:
                return -1
            if keep and end - p >= SKIP_TABLE and record(s, p, end, flags) < 0:
                return -1
            p = ws(s, end)
            if at(s, p) != 0x3A:
                return fail(s, p, E_COLON)
            p = ws(s, p + 1)
            state = 0
        else:  # a value ended before p
            p = ws(s, p)
            if depth == 0:
                if p != s.n:
                    return fail(s, p, E_TRAILING)
                return first
            is_object = stack[depth - 1]
            c = at(s, p)
            if c == 0x2C:
                p = ws(s, p + 1)
                state = 1 if is_object else 0
            elif c == (0x7D if is_object else 0x5D):
                depth -= 1
                p += 1
            else:
                return fail(s, p, E_OBJECT if is_object else E_ARRAY)


cdef object as_buffer(object data):
    if type(data) is bytes or type(data) is bytearray:
        return data
    return ref._as_buffer(data)


def validate(data):
    """Check that ``data`` (bytes, bytearray, memoryview) is exactly one JSON value (see the
    module's docstring); raise MalformedRequestError naming the offset where it is not."""
    data = as_buffer(data)
    cdef Py_buffer view
    cdef Scan s
    cdef Py_ssize_t result
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        s.b, s.n, s.longs, s.count, s.capacity, s.no_memory = (
            <const uint8_t*>view.buf, view.len, NULL, 0, 0, False)
        s.values, s.max_values, s.plain, s.stepped = 0, PY_SSIZE_T_MAX, NULL, 0
        with nogil:
            result = scan(&s, False)
        if result < 0:
            raise ref._error(data, s.fail_at, s.what)
    finally:
        PyBuffer_Release(&view)


# --- a body written chunk by chunk -----------------------------------------------------------------

cdef uint8_t NOTHING[1]  # where an empty BodyBuffer's bytes are


@cython.final
@cython.no_gc  # holds only bytes (in ``chunks``): no cycle can run through it
cdef class BodyBuffer:
    """A body written chunk by chunk (``put``), as a server hands it over, read in place
    (``view``), then emptied (``clear``) for the next body: a gateway keeps one from request
    to request. While a view of it is held, ``put`` and ``clear`` raise BufferError.

    The compiled twin tests each ``BLOCK``-byte block of the body as it copies it in, while
    the chunk is still in the processor's cache, and keeps a map of the plain blocks: those
    with no byte that ends a string's plain run (a quote, a backslash, a control, a byte at or
    above 0x80) and a byte that stands only inside a string (a capital letter but E). A
    Document over the whole buffer steps over the plain blocks of a long string unread, and
    ``read_bound`` bounds what a scan reads by the blocks that are not plain. The pure twin
    keeps no map: the answers are the same, which ``plain_blocks`` lets the tests check."""
    # The map ``plain`` holds, per 4 KB block, what vt_block_kind found in its bytes (VT_PLAIN:
    # a plain block). It is right because ``put`` is the only writer, and neither it nor
    # ``clear`` runs while the bytes are exported (the buffer protocol gives read-only views).
    #
    # A plain block that lies whole inside a ``bytes`` chunk and follows another plain block is
    # not copied: ``source`` points at it in the chunk (kept in ``chunks``), and it is copied in
    # when something reads it (``fill``). A scan never does: it steps over plain blocks, and
    # what it reads around one (an escape or a UTF-8 sequence at a block's end, a value begun
    # outside a string) reaches at most the first block of a run, which is always copied. What
    # reads inside a long string fills the bytes first: a BodyString, and the header parser
    # through the ``fill`` hook (images/_fill.h). Every export but a Document's own fills all.
    cdef uint8_t* data
    cdef uint8_t* plain
    cdef const uint8_t** source  # per block: where a block not yet copied is, else NULL
    cdef Py_ssize_t size, capacity, exports, absent  # absent: blocks not yet copied
    cdef list chunks  # the bytes chunks some block of ``source`` points into
    cdef bint export_unfilled  # the next export is a Document's: not filled first
    cdef vt_fill hook  # fill, for the header parser

    def __cinit__(self):
        self.data = self.plain = NULL
        self.source = NULL
        self.size = self.capacity = self.exports = self.absent = 0
        self.chunks = []
        self.export_unfilled = False
        self.hook.fill = fill_hook
        self.hook.owner = <void*>self

    def __dealloc__(self):
        PyMem_Free(self.data)
        PyMem_Free(self.plain)
        PyMem_Free(self.source)

    def __len__(self):
        return self.size

    cdef int reserve(self, Py_ssize_t more) except -1:
        cdef Py_ssize_t capacity, blocks
        cdef void* grown
        if more <= self.capacity - self.size:
            return 0
        if more > PY_SSIZE_T_MAX // 2 - self.size:
            raise MemoryError()
        capacity = self.size + more
        if capacity < self.capacity + self.capacity // 2:  # amortised growth
            capacity = self.capacity + self.capacity // 2
        blocks = (capacity >> BLOCK_SHIFT) + 1
        grown = PyMem_Realloc(self.data, capacity)
        if grown == NULL:
            raise MemoryError()
        self.data = <uint8_t*>grown
        grown = PyMem_Realloc(self.plain, blocks)
        if grown == NULL:
            raise MemoryError()
        self.plain = <uint8_t*>grown
        grown = PyMem_Realloc(self.source, blocks * sizeof(const uint8_t*))
        if grown == NULL:
            raise MemoryError()
        self.source, self.capacity = <const uint8_t**>grown, capacity
        return 0

    def put(self, chunk):
        """Append ``chunk`` (bytes-like); BufferError while the buffer is read."""
        cdef Py_buffer view
        cdef Py_ssize_t at, end, block_end, k, left = 0
        cdef const uint8_t* source
        cdef const uint8_t* block
        cdef uint8_t found
        cdef bint keep = type(chunk) is bytes  # (immutable: its blocks may stay where they are)
        PyObject_GetBuffer(chunk, &view, PyBUF_SIMPLE)
        try:
            if self.exports:  # (after the chunk's export: a buffer put into itself is read)
                raise BufferError("a BodyBuffer cannot change while it is read")
            self.reserve(view.len)
            at, end = self.size, self.size + view.len
            source = <const uint8_t*>view.buf
            # Block by block, each tested in the chunk, with the GIL held: a chunk takes
            # microseconds, and handing the GIL to another thread and back per chunk cost more
            # than the copy (measured under uvicorn).
            while at < end:
                k = at >> BLOCK_SHIFT
                block_end = (k + 1) << BLOCK_SHIFT
                block = source + (at - self.size)
                if block_end > end:
                    block_end = end
                elif keep and k > 0 and at & ((1 << BLOCK_SHIFT) - 1) == 0 and \
                        self.plain[k - 1] == VT_PLAIN:
                    # a whole block, after a plain one: copied only if it is not plain itself
                    found = vt_block_kind(block, 1 << BLOCK_SHIFT)
                    self.plain[k] = found
                    if found == VT_PLAIN:
                        self.source[k] = block
                        left += 1
                    else:
                        memcpy(self.data + at, block, 1 << BLOCK_SHIFT)
                        self.source[k] = NULL
                    at = block_end
                    continue
                found = vt_copy_plain(self.data + at, block, block_end - at)
                if at & ((1 << BLOCK_SHIFT) - 1) == 0:  # the block begins here
                    self.plain[k] = found
                    self.source[k] = NULL
                else:  # the rest of a block begun by an earlier chunk
                    self.plain[k] |= found
                at = block_end
            self.size = end
            if left:
                self.chunks.append(chunk)
                self.absent += left
        finally:
            PyBuffer_Release(&view)

    cdef void fill(self, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
        """Copy in the blocks of [start, end) not copied yet."""
        cdef Py_ssize_t k, last
        if self.absent == 0 or end <= start:
            return
        if start < 0:
            start = 0
        if end > self.size:
            end = self.size
        last = (end - 1) >> BLOCK_SHIFT
        for k in range(start >> BLOCK_SHIFT, last + 1):
            if self.source[k] != NULL:
                memcpy(self.data + (k << BLOCK_SHIFT), self.source[k], 1 << BLOCK_SHIFT)
                self.source[k] = NULL
                self.absent -= 1

    def clear(self):
        """Empty the buffer, keeping its memory; BufferError while the buffer is read."""
        if self.exports:
            raise BufferError("a BodyBuffer cannot change while it is read")
        self.size = self.absent = 0
        self.chunks = []

    def view(self):
        """A read-only view of the body held: release it (or use ``with``) when done."""
        return memoryview(self)

    def plain_blocks(self):
        """One byte per ``BLOCK`` bytes held: 1 where the block is plain, else 0."""
        cdef Py_ssize_t k
        return bytes([self.plain[k] == VT_PLAIN for k in range(
            (self.size + (1 << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT)])

    def _blocks_not_copied(self):
        """How many blocks are not copied in yet (for the tests: the pure twin copies all)."""
        return self.absent

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        # read-only: a write through the view would leave the map wrong
        if not self.export_unfilled:
            self.fill(0, self.size)
        PyBuffer_FillInfo(buffer, self, <void*>(self.data if self.data != NULL else NOTHING),
                          self.size, 1, flags)
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* buffer):
        self.exports -= 1

    cdef int export_to(self, Py_buffer* view) except -1:
        """Export the bytes as they are, blocks not copied in included: a Document's own
        export, which reads them only through ``fill``."""
        self.export_unfilled = True
        try:
            PyObject_GetBuffer(self, view, PyBUF_SIMPLE)
        finally:
            self.export_unfilled = False
        return 0


cdef void release_body(object hook) noexcept:
    """A fill hook's capsule, freed: the buffer it held, let go."""
    cdef void* body = PyCapsule_GetContext(hook)
    if body != NULL:
        Py_DECREF(<object>body)


cdef void fill_hook(void* owner, const uint8_t* start, const uint8_t* end) noexcept nogil:
    # (the header parser calls it with the GIL held: the BodyBuffer is the owner, alive
    # while its Document's window is read)
    (<BodyBuffer>owner).fill(start - (<BodyBuffer>owner).data, end - (<BodyBuffer>owner).data)


cdef BodyBuffer mapped(object data, const Py_buffer* view):
    """The BodyBuffer ``view`` (an export of ``data``) reads from its first byte, or None."""
    cdef object owner = data.obj if type(data) is memoryview else data
    cdef BodyBuffer body
    if type(owner) is not BodyBuffer:
        return None
    body = <BodyBuffer>owner
    if body.data == NULL or <const uint8_t*>view.buf != body.data or view.len > body.size:
        return None
    return body


cdef const uint8_t* block_map(object data, const Py_buffer* view):
    """The block map for a scan of ``view``, or NULL."""
    cdef BodyBuffer body = mapped(data, view)
    return NULL if body is None else body.plain


def read_bound(data):
    """At most how many bytes of ``data`` (bytes, bytearray, memoryview, a BodyBuffer) a scan
    reads: all of them, but for a BodyBuffer (or its view) in the compiled twin, which steps
    over plain blocks: there, twice the bytes of the blocks that are not plain, and one block.
    (Outside a string a scan fails at a plain block's string-only byte, so of a run of plain
    blocks it reads at most the first, entered from a block that is not plain or from the
    start.)"""
    cdef Py_buffer view
    cdef BodyBuffer body
    if type(data) is BodyBuffer:
        body = <BodyBuffer>data
        return bound_of(body, body.size)
    data = as_buffer(data)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        body = mapped(data, &view)
        if body is None:
            return view.len
        return bound_of(body, view.len)
    finally:
        PyBuffer_Release(&view)


cdef Py_ssize_t bound_of(BodyBuffer body, Py_ssize_t size):
    cdef Py_ssize_t k, unplain = 0
    for k in range((size + (1 << BLOCK_SHIFT) - 1) >> BLOCK_SHIFT):
        unplain += body.plain[k] != VT_PLAIN
    return min(size, (2 * unplain + 1) << BLOCK_SHIFT)


cdef object readable(object data):
    """``data`` as Python code reads it: a BodyBuffer as its view, every block copied in."""
    return memoryview(data) if type(data) is BodyBuffer else data


# --- the lazy view ---------------------------------------------------------------------------------

@cython.no_gc  # holds only the body (no cycle: nodes point to it, never back)
cdef class Document:
    """A validated body and its long-string table; ``root`` is its value (a node or a scalar).
    With ``max_values`` (>= 0), the scan raises TooDense where value max_values + 1 begins."""
    cdef Py_buffer view
    cdef bint held
    cdef Scan s
    cdef readonly object data
    cdef Py_ssize_t first
    cdef BodyBuffer body  # data, when it is a BodyBuffer read as it is (see ready)

    def __cinit__(self, data, max_values=-1):
        self.held = False
        self.s.longs = NULL

    def __init__(self, data, Py_ssize_t max_values=-1):
        if self.held:  # (a second __init__ would leak the first export)
            raise ArgumentTypeError("a Document reads one body; make a new one")
        if type(data) is BodyBuffer:  # read where its chunks left it: see BodyBuffer
            self.body = <BodyBuffer>data
            self.body.export_to(&self.view)
        else:
            data = as_buffer(data)
            PyObject_GetBuffer(data, &self.view, PyBUF_SIMPLE)  # held: a bytearray stays put
        self.held = True
        self.data = data
        self.s.b, self.s.n = <const uint8_t*>self.view.buf, self.view.len
        self.s.count, self.s.capacity, self.s.no_memory = 0, 0, False
        self.s.values = 0
        self.s.max_values = max_values if max_values >= 0 else PY_SSIZE_T_MAX
        self.s.plain, self.s.stepped = block_map(data, &self.view), 0
        cdef Py_ssize_t first
        with nogil:
            first = scan(&self.s, True)
        if first < 0:
            if self.s.no_memory:
                raise MemoryError()
            if self.s.what == E_DENSE:
                raise TooDense(self.s.fail_at)
            raise ref._error(readable(data), self.s.fail_at, self.s.what)
        self.first = first

    @property
    def root(self):
        """The body's value: a node, a string or a scalar."""
        return value_at(self, self.first)

    def __dealloc__(self):
        if self.s.longs != NULL:
            free(self.s.longs)
        if self.held:
            PyBuffer_Release(&self.view)

    @property
    def size(self):
        return self.s.n

    @property
    def stepped(self):
        """How many bytes the scan stepped over unread (the plain blocks of a BodyBuffer)."""
        return self.s.stepped

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        # the body's bytes as the scan reads them (a BodyString's window on them, read
        # through its fill hook); read-only
        PyBuffer_FillInfo(buffer, self, <void*>self.view.buf, self.view.len, 1, flags)


cdef inline void ready(Document doc, Py_ssize_t start, Py_ssize_t end):
    """Bytes [start, end) of the body copied in, for a read inside a long string (a plain
    block of a BodyBuffer may not be: see BodyBuffer)."""
    if doc.body is not None:
        doc.body.fill(start, end)


cdef const LongString* long_string(Document doc, Py_ssize_t pos) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = doc.s.count, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if doc.s.longs[mid].start < pos:
            lo = mid + 1
        else:
            hi = mid
    if lo < doc.s.count and doc.s.longs[lo].start == pos:
        return &doc.s.longs[lo]
    return NULL


cdef Py_ssize_t string_end(Document doc, Py_ssize_t pos) noexcept nogil:
    """The offset after the (valid) string opening at pos. A long string is in the table,
    looked up first: its end comes at once, with no memchr over its first SKIP_TABLE bytes.
    A shorter one's closing quote is found by memchr, within SKIP_TABLE bytes (which reach
    at most the block after the opening quote's: a BodyBuffer always holds that one)."""
    cdef const Scan* s = &doc.s
    cdef Py_ssize_t p = pos + 1, limit = pos + 1 + SKIP_TABLE, k
    cdef const uint8_t* q
    cdef const LongString* entry = long_string(doc, pos)
    if entry != NULL:
        return entry.end
    if limit > s.n:
        limit = s.n
    while p < limit:
        q = <const uint8_t*>memchr(s.b + p, 0x22, limit - p)
        if q == NULL:
            break
        k = q - s.b
        p = k - 1
        while p > pos and s.b[p] == 0x5C:  # backslashes right before the quote
            p -= 1
        if (k - 1 - p) % 2 == 0:  # an even run: the quote is not escaped
            return k + 1
        p = k + 1
    return s.n  # (unreachable on a validated body; kept in range)


cdef Py_ssize_t skip(Document doc, Py_ssize_t pos) noexcept nogil:
    """The offset after the (valid) value at pos."""
    cdef const Scan* s = &doc.s
    cdef int c = at(s, pos), depth = 0
    cdef Py_ssize_t p = pos
    if c == 0x22:
        return string_end(doc, pos)
    if c != 0x7B and c != 0x5B:
        while True:
            c = at(s, p)
            if not (c == 0x2B or c == 0x2D or c == 0x2E or (0x30 <= c <= 0x39)
                    or (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A)):
                return p
            p += 1
    while True:
        c = at(s, p)
        if c < 0:
            return p
        if c == 0x22:
            p = string_end(doc, p)
            continue
        if c == 0x7B or c == 0x5B:
            depth += 1
        elif c == 0x7D or c == 0x5D:
            depth -= 1
            if depth == 0:
                return p + 1
        p += 1


cdef int string_flags(Document doc, Py_ssize_t pos, Py_ssize_t end) noexcept nogil:
    cdef const LongString* entry = long_string(doc, pos)
    cdef int flags = 0
    cdef Py_ssize_t p
    if entry != NULL:
        return entry.flags
    if memchr(doc.s.b + pos + 1, 0x5C, end - pos - 2) != NULL:
        flags |= ESCAPED
    if not vt_all_ascii(doc.s.b + pos + 1, doc.s.b + end - 1):
        flags |= NON_ASCII
    return flags


cdef inline void put_utf8(uint8_t* out, Py_ssize_t* k, uint32_t cp) noexcept nogil:
    # surrogates (only from \u escapes) take the 3-byte form: decoded with "surrogatepass"
    if cp < 0x80:
        out[k[0]] = cp
        k[0] += 1
    elif cp < 0x800:
        out[k[0]] = 0xC0 | (cp >> 6)
        out[k[0] + 1] = 0x80 | (cp & 0x3F)
        k[0] += 2
    elif cp < 0x10000:
        out[k[0]] = 0xE0 | (cp >> 12)
        out[k[0] + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[k[0] + 2] = 0x80 | (cp & 0x3F)
        k[0] += 3
    else:
        out[k[0]] = 0xF0 | (cp >> 18)
        out[k[0] + 1] = 0x80 | ((cp >> 12) & 0x3F)
        out[k[0] + 2] = 0x80 | ((cp >> 6) & 0x3F)
        out[k[0] + 3] = 0x80 | (cp & 0x3F)
        k[0] += 4


cdef inline int hex_value(int c) noexcept nogil:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    if 0x41 <= c <= 0x46:
        return c - 0x41 + 10
    if 0x61 <= c <= 0x66:
        return c - 0x61 + 10
    return -1


cdef inline int u_escape(const Scan* s, Py_ssize_t p, Py_ssize_t end) noexcept nogil:
    """The code unit of the \\uXXXX at p, or -1 if there is none before end."""
    cdef int value = 0, i, h
    if end - p < 6 or at(s, p) != 0x5C or at(s, p + 1) != 0x75:
        return -1
    for i in range(4):
        h = hex_value(at(s, p + 2 + i))
        if h < 0:
            return -1
        value = value * 16 + h
    return value


cdef object unescape(Document doc, Py_ssize_t pos, Py_ssize_t end):
    """The escaped (valid) string [pos, end) as str, decoded as json.loads decodes it: a high
    surrogate escape and a low one after it are one character, a lone one stays."""
    cdef const Scan* s = &doc.s
    cdef Py_ssize_t n = end - pos, p = pos + 1, last = end - 1, k = 0
    cdef uint8_t* out = <uint8_t*>PyMem_Malloc(n if n > 0 else 1)  # escapes never grow
    cdef int c, e, unit, low
    if out == NULL:
        raise MemoryError()
    ready(doc, pos, end)
    try:
        while p < last:
            c = at(s, p)
            if c != 0x5C:
                out[k] = c
                k += 1
                p += 1
                continue
            e = at(s, p + 1)
            if e == 0x75:
                unit = u_escape(s, p, last)
                p += 6
                if 0xD800 <= unit <= 0xDBFF:
                    low = u_escape(s, p, last)
                    if 0xDC00 <= low <= 0xDFFF:
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        p += 6
                put_utf8(out, &k, unit)
                continue
            out[k] = (0x08 if e == 0x62 else 0x0C if e == 0x66 else 0x0A if e == 0x6E
                      else 0x0D if e == 0x72 else 0x09 if e == 0x74 else e)
            k += 1
            p += 2
        return PyUnicode_DecodeUTF8(<const char*>out, k, "surrogatepass")
    finally:
        PyMem_Free(out)


cdef object string_value(Document doc, Py_ssize_t pos):
    cdef Py_ssize_t end = string_end(doc, pos)
    cdef int flags = string_flags(doc, pos, end)
    if not flags & ESCAPED:
        if end - pos - 2 >= LONG_STRING:
            return BodyString.make(doc, pos + 1, end - 1, flags)
        return PyUnicode_DecodeUTF8(<const char*>doc.s.b + pos + 1, end - pos - 2, NULL)
    return unescape(doc, pos, end)


cdef object number_value(Document doc, Py_ssize_t pos):
    cdef Py_ssize_t end = skip(doc, pos), p
    cdef bint fraction = False
    cdef int c
    for p in range(pos, end):
        c = doc.s.b[p]
        if c == 0x2E or c == 0x65 or c == 0x45:
            fraction = True
    text = doc.s.b[pos:end]
    if fraction:
        return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise ref._error(readable(doc.data), pos, E_BIG_INT) from None


cdef object value_at(Document doc, Py_ssize_t pos):
    cdef int c = at(&doc.s, pos)
    if c == 0x7B:
        return ObjectNode.make(doc, pos)
    if c == 0x5B:
        return ArrayNode.make(doc, pos)
    if c == 0x22:
        return string_value(doc, pos)
    if c == 0x74:
        return True
    if c == 0x66:
        return False
    if c == 0x6E:
        return None
    return number_value(doc, pos)


cdef inline Py_ssize_t member_value(Document doc, Py_ssize_t key) noexcept nogil:
    """The value's offset of the member whose key opens at ``key``."""
    return ws(&doc.s, ws(&doc.s, string_end(doc, key)) + 1)


cdef inline Py_ssize_t next_item(Document doc, Py_ssize_t value, int close) noexcept nogil:
    """After the value at ``value``: the next member or element, or -1 at the close."""
    cdef Py_ssize_t p = ws(&doc.s, skip(doc, value))
    if at(&doc.s, p) != 0x2C:
        return -1
    return ws(&doc.s, p + 1)


cdef inline Py_ssize_t first_item(Document doc, Py_ssize_t pos, int close) noexcept nogil:
    cdef Py_ssize_t p = ws(&doc.s, pos + 1)
    if at(&doc.s, p) == close or at(&doc.s, p) < 0:
        return -1
    return p


cdef inline bint same(Document doc, Py_ssize_t at, const uint8_t* text, Py_ssize_t length):
    """Whether the body's bytes at ``at`` are ``text`` (a key as long as a block or more may
    hold one not copied in)."""
    if length >= (1 << BLOCK_SHIFT):
        ready(doc, at, at + length)
    return memcmp(doc.s.b + at, text, length) == 0


cdef object key_text(Document doc, Py_ssize_t pos):
    value = string_value(doc, pos)
    return value if type(value) is str else (<BodyString>value).str()


@cython.no_gc
cdef class ObjectNode:
    """A JSON object in the body: read member by member on demand."""
    cdef readonly Document document
    cdef readonly Py_ssize_t offset

    @staticmethod
    cdef ObjectNode make(Document doc, Py_ssize_t pos):
        cdef ObjectNode node = ObjectNode.__new__(ObjectNode)
        node.document, node.offset = doc, pos
        return node

    def get(self, key, default=None):
        """The value of ``key`` (the last one, if the key repeats, as json.loads has it)."""
        if type(key) is not str:
            raise ArgumentTypeError(f"a key must be a str, got {type(key).__name__}")
        cdef bytes wanted = key.encode("utf-8", "surrogatepass")
        cdef const uint8_t* w = wanted
        cdef Py_ssize_t length = len(wanted), p, end, found = -1
        cdef bint plain = memchr(w, 0x5C, length) == NULL
        cdef Document doc = self.document
        p = first_item(doc, self.offset, 0x7D)
        while p >= 0:
            end = string_end(doc, p)
            if plain and end - p - 2 == length and same(doc, p + 1, w, length):
                found = member_value(doc, p)  # (equal bytes, no backslash: equal keys)
            elif string_flags(doc, p, end) & ESCAPED and unescape(doc, p, end) == key:
                found = member_value(doc, p)
            p = next_item(doc, member_value(doc, p), 0x7D)
        return default if found < 0 else value_at(doc, found)

    def __contains__(self, key):
        """Whether the object has the member ``key`` (as ``key in`` json.loads's dict)."""
        if type(key) is not str:
            raise ArgumentTypeError(f"a key must be a str, got {type(key).__name__}")
        cdef bytes wanted = key.encode("utf-8", "surrogatepass")
        cdef const uint8_t* w = wanted
        cdef Py_ssize_t length = len(wanted), p, end
        cdef bint plain = memchr(w, 0x5C, length) == NULL
        cdef Document doc = self.document
        p = first_item(doc, self.offset, 0x7D)
        while p >= 0:
            end = string_end(doc, p)
            if plain and end - p - 2 == length and same(doc, p + 1, w, length):
                return True  # (equal bytes, no backslash: equal keys)
            if string_flags(doc, p, end) & ESCAPED and unescape(doc, p, end) == key:
                return True
            p = next_item(doc, member_value(doc, p), 0x7D)
        return False

    def items(self):
        """(key, value) of every member in order, repeated keys included (``dict(...)`` of it
        is json.loads's object)."""
        cdef Document doc = self.document
        cdef Py_ssize_t p = first_item(doc, self.offset, 0x7D), value
        while p >= 0:
            value = member_value(doc, p)
            yield key_text(doc, p), value_at(doc, value)
            p = next_item(doc, value, 0x7D)

    def keys(self):
        """Every key in order, repeated keys included."""
        cdef Document doc = self.document
        cdef Py_ssize_t p = first_item(doc, self.offset, 0x7D)
        while p >= 0:
            yield key_text(doc, p)
            p = next_item(doc, member_value(doc, p), 0x7D)

    def value(self):
        """The object as plain Python, equal to json.loads of its text."""
        return materialise(self.document, self.offset)

    def end(self):
        """The offset after the object's closing brace."""
        return skip(self.document, self.offset)

    def __repr__(self):
        return f"ObjectNode(at byte {self.offset})"


@cython.no_gc
cdef class ArrayNode:
    """A JSON array in the body: iterated element by element, never built as a list."""
    cdef readonly Document document
    cdef readonly Py_ssize_t offset

    @staticmethod
    cdef ArrayNode make(Document doc, Py_ssize_t pos):
        cdef ArrayNode node = ArrayNode.__new__(ArrayNode)
        node.document, node.offset = doc, pos
        return node

    def __iter__(self):
        cdef Document doc = self.document
        cdef Py_ssize_t p = first_item(doc, self.offset, 0x5D)
        while p >= 0:
            yield value_at(doc, p)
            p = next_item(doc, p, 0x5D)

    def __len__(self):
        cdef Document doc = self.document
        cdef Py_ssize_t p = first_item(doc, self.offset, 0x5D), count = 0
        while p >= 0:
            count += 1
            p = next_item(doc, p, 0x5D)
        return count

    def value(self):
        """The array as plain Python, equal to json.loads of its text."""
        return materialise(self.document, self.offset)

    def end(self):
        """The offset after the array's closing bracket."""
        return skip(self.document, self.offset)

    def __repr__(self):
        return f"ArrayNode(at byte {self.offset})"


cdef object materialise(Document doc, Py_ssize_t pos):
    """The value at pos as plain Python (C recursion: at most MAX_DEPTH levels)."""
    cdef int c = at(&doc.s, pos)
    cdef Py_ssize_t p, value
    if c == 0x7B:
        result = {}
        p = first_item(doc, pos, 0x7D)
        while p >= 0:
            value = member_value(doc, p)
            result[key_text(doc, p)] = materialise(doc, value)
            p = next_item(doc, value, 0x7D)
        return result
    if c == 0x5B:
        items = []
        p = first_item(doc, pos, 0x5D)
        while p >= 0:
            items.append(materialise(doc, p))
            p = next_item(doc, p, 0x5D)
        return items
    value_ = value_at(doc, pos)
    return (<BodyString>value_).str() if type(value_) is BodyString else value_


@cython.no_gc
cdef class BodyString:
    """A long unescaped JSON string, left where it lies in the body: what an image walker
    needs (length, prefix tests, a short head, the raw bytes) without a copy."""
    cdef readonly Document document
    cdef readonly Py_ssize_t start, end
    cdef int flags
    cdef Py_ssize_t length

    @staticmethod
    cdef BodyString make(Document doc, Py_ssize_t start, Py_ssize_t end, int flags):
        cdef BodyString text = BodyString.__new__(BodyString)
        text.document, text.start, text.end, text.flags, text.length = doc, start, end, flags, -1
        return text

    def __len__(self):
        """Characters, as len(str) counts them."""
        cdef Py_ssize_t p, count
        if self.length < 0:
            if self.flags & NON_ASCII:
                ready(self.document, self.start, self.end)
                count = 0
                for p in range(self.start, self.end):
                    if not (0x80 <= self.document.s.b[p] <= 0xBF):
                        count += 1
                self.length = count
            else:
                self.length = self.end - self.start
        return self.length

    def isascii(self):
        """Whether every character is ASCII (known from the scan: no pass over the bytes)."""
        return not self.flags & NON_ASCII

    def startswith(self, prefix):
        """As str.startswith, for a str or a tuple of str."""
        if isinstance(prefix, tuple):
            return any(self.startswith(each) for each in prefix)
        if type(prefix) is not str:
            raise ArgumentTypeError(f"a prefix must be a str, got {type(prefix).__name__}")
        cdef bytes wanted = prefix.encode("utf-8", "surrogatepass")
        cdef Py_ssize_t k = len(wanted)
        if k > self.end - self.start:
            return False
        ready(self.document, self.start, self.start + k)
        return memcmp(self.document.s.b + self.start, <const uint8_t*>wanted, k) == 0

    def head(self, Py_ssize_t n):
        """The first ``n`` characters (fewer if the string is shorter)."""
        if n <= 0:
            return ""
        # the first n characters lie within 4n bytes; a sequence the cut splits is dropped
        cdef Py_ssize_t cut = self.end - self.start
        if n <= cut // 4:
            cut = 4 * n
        ready(self.document, self.start, self.start + cut)
        text = PyUnicode_DecodeUTF8(<const char*>self.document.s.b + self.start, cut, "ignore")
        return text[:n]

    def view(self):
        """The string's raw bytes in the body (valid UTF-8, no escapes)."""
        ready(self.document, self.start, self.end)
        return memoryview(self.document)[self.start:self.end]

    def header_view(self):
        """(view, fill): the string's raw bytes for the image-header parser, which reads only
        what it needs. In a BodyBuffer some blocks of them may not be copied in yet: ``fill``
        is then the hook the compiled parser calls before it reads (else None). The first
        MAX_DATA_URL_HEADER bytes and the last two are always there, and all of a string that
        is not ASCII."""
        cdef Document doc = self.document
        if doc.body is None or doc.body.absent == 0:
            return memoryview(doc)[self.start:self.end], None
        if self.flags & NON_ASCII:
            return self.view(), None
        ready(doc, self.start, self.start + MAX_DATA_URL_HEADER)
        ready(doc, self.end - 2, self.end)
        # the capsule holds the buffer its hook points into, as long as it lives
        hook = PyCapsule_New(&doc.body.hook, VT_FILL_CAPSULE, release_body)
        Py_INCREF(doc.body)
        PyCapsule_SetContext(hook, <void*>doc.body)
        return memoryview(doc)[self.start:self.end], hook

    def str(self):
        """The whole string as a str: a copy, for when it is really needed."""
        ready(self.document, self.start, self.end)
        return PyUnicode_DecodeUTF8(<const char*>self.document.s.b + self.start,
                                    self.end - self.start, NULL)

    def __str__(self):
        return self.str()

    def __repr__(self):
        return f"BodyString({self.head(24)!r}..., {self.end - self.start} bytes)"
