# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Image size from the header: the compiled parser (spec 5).

Every read of the input goes through ``fetch``, which checks the range against the input's
size before touching a byte; the format walkers only ever index their own fixed-size local
buffers with constants. For a base64 data URL ``fetch`` decodes just the groups the range
covers (decoded byte k sits in characters 4*(k//3) .. 4*(k//3)+3), so jumping over a 60 KB
ICC profile costs nothing. ``_header_py.py`` takes the same steps in the same order;
failures come back as (kind, code, numbers) and the shared builders of ``_image_input`` turn
them into exceptions, so both parsers raise the same errors with the same messages.
"""

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memchr, memcmp, memcpy

from . import _image_input as fmt
from ._image_input import ImageInfo

IMPLEMENTATION = "cython"

cdef extern from "Python.h":
    PyObject* PyType_GenericAlloc(PyTypeObject* type, Py_ssize_t nitems)
    bint PyUnicode_IS_ASCII(object)
    const void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)


cdef enum Kind:
    FOUND = 0
    TRUNCATED = 1
    CORRUPT = 2
    UNSUPPORTED = 3
    BAD_BASE64 = 4

cdef enum Format:  # index into FORMAT_NAMES
    UNKNOWN = 0
    PNG = 1
    JPEG = 2
    GIF = 3
    WEBP = 4

cdef tuple FORMAT_NAMES = ("", "png", "jpeg", "gif", "webp")

cdef enum Code:  # = the codes of _image_input (tests/test_header.py checks they match)
    PNG_NO_IHDR = 1
    PNG_BAD_SIZE = 2
    PNG_BAD_CHUNK_LENGTH = 3
    JPEG_NO_MARKER = 10
    JPEG_NO_FRAME = 11
    JPEG_BAD_LENGTH = 12
    JPEG_ZERO_SIZE = 13
    GIF_ZERO_SIZE = 20
    GIF_BAD_BLOCK = 21
    WEBP_UNKNOWN_CHUNK = 30
    WEBP_NOT_KEYFRAME = 31
    WEBP_BAD_START_CODE = 32
    WEBP_BAD_SIGNATURE = 33
    WEBP_BAD_VERSION = 34
    WEBP_ZERO_SIZE = 35

CODES = {
    "PNG_NO_IHDR": PNG_NO_IHDR,
    "PNG_BAD_SIZE": PNG_BAD_SIZE,
    "PNG_BAD_CHUNK_LENGTH": PNG_BAD_CHUNK_LENGTH,
    "JPEG_NO_MARKER": JPEG_NO_MARKER,
    "JPEG_NO_FRAME": JPEG_NO_FRAME,
    "JPEG_BAD_LENGTH": JPEG_BAD_LENGTH,
    "JPEG_ZERO_SIZE": JPEG_ZERO_SIZE,
    "GIF_ZERO_SIZE": GIF_ZERO_SIZE,
    "GIF_BAD_BLOCK": GIF_BAD_BLOCK,
    "WEBP_UNKNOWN_CHUNK": WEBP_UNKNOWN_CHUNK,
    "WEBP_NOT_KEYFRAME": WEBP_NOT_KEYFRAME,
    "WEBP_BAD_START_CODE": WEBP_BAD_START_CODE,
    "WEBP_BAD_SIGNATURE": WEBP_BAD_SIGNATURE,
    "WEBP_BAD_VERSION": WEBP_BAD_VERSION,
    "WEBP_ZERO_SIZE": WEBP_ZERO_SIZE,
}

cdef enum:
    MAX_INT31 = 2147483647
    NOT_BASE64 = 64

cdef Py_ssize_t MAX_HEADER = fmt.MAX_DATA_URL_HEADER
cdef Py_ssize_t SNIFF_BYTES = fmt.SNIFF_BYTES


cdef struct Source:
    const uint8_t* data   # the bytes, or the base64 payload (after the comma)
    Py_ssize_t size       # bytes available: for base64, the decoded size
    Py_ssize_t text_len   # base64: payload characters
    bint base64

cdef struct Outcome:
    Kind kind
    Format format
    int code              # CORRUPT: an _image_input code
    int64_t a, b          # FOUND: width, height; TRUNCATED: a = bytes needed;
                          # CORRUPT: the code's numbers; BAD_BASE64: a = payload offset
    bint animated


# --- the one way to read input ---------------------------------------------------------------

cdef uint8_t[256] DECODE
cdef int _i
for _i in range(256):
    DECODE[_i] = NOT_BASE64
cdef const uint8_t* _ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
for _i in range(64):
    DECODE[_ALPHABET[_i]] = _i


cdef inline int fetch(const Source* s, Py_ssize_t offset, Py_ssize_t n, uint8_t* out,
                      Outcome* o) noexcept nogil:
    """Copy input bytes [offset, offset + n) to out, or record why not and return -1."""
    if offset < 0 or n > s.size or offset > s.size - n:
        o.kind, o.a = TRUNCATED, offset + n
        return -1
    if n == 0:  # (and fetch_base64 needs n >= 1: its last group is (offset + n - 1) // 3)
        return 0
    if not s.base64:
        memcpy(out, s.data + offset, n)
        return 0
    return fetch_base64(s, offset, n, out, o)  # out of line: fetch must stay small to inline


cdef int fetch_base64(const Source* s, Py_ssize_t offset, Py_ssize_t n, uint8_t* out,
                      Outcome* o) noexcept nogil:
    # The caller checked [offset, offset + n), n >= 1, against the decoded size, so every
    # group read here lies inside the payload: group g holds k = min(3, size - 3g) bytes, carried by
    # k + 1 alphabet characters; the rest of a final group must be "=" padding.
    cdef Py_ssize_t g, j, k, at, i
    cdef Py_ssize_t first = offset // 3, last = (offset + n - 1) // 3
    cdef uint32_t bits, value, invalid
    cdef const uint8_t* c
    cdef uint8_t decoded[3]
    cdef Py_ssize_t written = 0
    for g in range(first, last + 1):
        k = s.size - 3 * g
        at = 4 * g
        c = s.data + at
        if k >= 3:  # a full group: four alphabet characters
            k = 3
            invalid = DECODE[c[0]] | DECODE[c[1]] | DECODE[c[2]] | DECODE[c[3]]
            bits = (<uint32_t>DECODE[c[0]] << 18 | <uint32_t>DECODE[c[1]] << 12
                    | <uint32_t>DECODE[c[2]] << 6 | DECODE[c[3]])
        else:  # the final group: k + 1 alphabet characters, then "=" padding if any
            invalid = 0
            bits = 0
            for j in range(4):
                if j <= k:
                    value = DECODE[c[j]]
                    invalid |= value
                    bits = (bits << 6) | value
                else:
                    if at + j < s.text_len and c[j] != b"="[0]:
                        invalid |= NOT_BASE64
                    bits <<= 6
        if invalid & NOT_BASE64:
            o.kind, o.a = BAD_BASE64, at
            return -1
        decoded[0], decoded[1], decoded[2] = bits >> 16, (bits >> 8) & 0xFF, bits & 0xFF
        i = offset - 3 * g if 3 * g < offset else 0
        while i < k and written < n:
            out[written] = decoded[i]
            written += 1
            i += 1
    return 0


cdef inline uint32_t be16(const uint8_t* b) noexcept nogil:
    return (<uint32_t>b[0] << 8) | b[1]

cdef inline uint32_t be32(const uint8_t* b) noexcept nogil:
    return (<uint32_t>b[0] << 24) | (<uint32_t>b[1] << 16) | (<uint32_t>b[2] << 8) | b[3]

cdef inline uint32_t le16(const uint8_t* b) noexcept nogil:
    return (<uint32_t>b[1] << 8) | b[0]

cdef inline uint32_t le24(const uint8_t* b) noexcept nogil:
    return (<uint32_t>b[2] << 16) | (<uint32_t>b[1] << 8) | b[0]

cdef inline uint32_t le32(const uint8_t* b) noexcept nogil:
    return (<uint32_t>b[3] << 24) | (<uint32_t>b[2] << 16) | (<uint32_t>b[1] << 8) | b[0]


cdef inline int corrupt(Outcome* o, int code, int64_t a, int64_t b) noexcept nogil:
    o.kind, o.code, o.a, o.b = CORRUPT, code, a, b
    return -1


cdef inline int found(Outcome* o, int64_t width, int64_t height, bint animated) noexcept nogil:
    o.kind, o.a, o.b, o.animated = FOUND, width, height, animated
    return 0


# --- the formats (the same steps as _header_py.py) ------------------------------------

cdef int identify(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t head[12]
    cdef Py_ssize_t n = s.size if s.size < 12 else 12
    if fetch(s, 0, n, head, o) < 0:
        return -1
    o.format = UNKNOWN
    if s.size == 0:
        o.kind, o.a = TRUNCATED, 1
        return -1
    if memcmp(head, b"\x89PNG\r\n\x1a\n", n if n < 8 else 8) == 0:
        o.format = PNG
    elif head[0] == 0xFF and (n < 2 or head[1] == 0xD8):
        o.format = JPEG
    elif (memcmp(head, b"GIF87a", n if n < 6 else 6) == 0
          or memcmp(head, b"GIF89a", n if n < 6 else 6) == 0):
        o.format = GIF
    elif memcmp(head, b"RIFF", n if n < 4 else 4) == 0 and (n < 12 or memcmp(head + 8, b"WEBP", 4) == 0):
        o.format = WEBP
    return 0


cdef int parse_png(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[16]
    cdef uint32_t width, height, length
    cdef Py_ssize_t pos
    if fetch(s, 8, 16, b, o) < 0:  # the signature was checked by identify
        return -1
    if memcmp(b + 4, b"IHDR", 4) != 0:
        return corrupt(o, PNG_NO_IHDR, be32(b + 4), 0)
    length = be32(b)
    if length > MAX_INT31:
        return corrupt(o, PNG_BAD_CHUNK_LENGTH, 8, length)
    width, height = be32(b + 8), be32(b + 12)
    if not (1 <= width <= MAX_INT31 and 1 <= height <= MAX_INT31):
        return corrupt(o, PNG_BAD_SIZE, width, height)
    pos = 8 + 12 + length
    while True:  # walk the chunks to the first IDAT: an acTL before it makes an APNG
        if fetch(s, pos, 8, b, o) < 0:
            return -1
        length = be32(b)
        if length > MAX_INT31:
            return corrupt(o, PNG_BAD_CHUNK_LENGTH, pos, length)
        if memcmp(b + 4, b"acTL", 4) == 0:
            return found(o, width, height, True)
        if memcmp(b + 4, b"IDAT", 4) == 0:
            return found(o, width, height, False)
        pos += 12 + length


cdef inline bint is_frame_header(uint32_t marker) noexcept nogil:
    # SOF0..SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames
    return 0xC0 <= marker <= 0xCF and marker != 0xC4 and marker != 0xC8 and marker != 0xCC


cdef int parse_jpeg(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[5]
    cdef uint32_t marker, length, width, height
    cdef Py_ssize_t pos = 2
    if fetch(s, 0, 2, b, o) < 0:
        return -1
    while True:
        if fetch(s, pos, 1, b, o) < 0:
            return -1
        if b[0] != 0xFF:
            return corrupt(o, JPEG_NO_MARKER, pos, b[0])
        if fetch(s, pos + 1, 1, b, o) < 0:
            return -1
        marker = b[0]
        while marker == 0xFF:  # fill bytes
            pos += 1
            if fetch(s, pos + 1, 1, b, o) < 0:
                return -1
            marker = b[0]
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone: TEM, RST0..7
            pos += 2
            continue
        if marker == 0x00 or marker == 0xD8 or marker == 0xD9 or marker == 0xDA:
            return corrupt(o, JPEG_NO_FRAME, pos, marker)
        if fetch(s, pos + 2, 2, b, o) < 0:
            return -1
        length = be16(b)
        if length < 2 or (is_frame_header(marker) and length < 8):
            return corrupt(o, JPEG_BAD_LENGTH, pos + 2, length)
        if is_frame_header(marker):
            if fetch(s, pos + 4, 5, b, o) < 0:  # precision, height, width
                return -1
            height, width = be16(b + 1), be16(b + 3)
            if width == 0 or height == 0:
                return corrupt(o, JPEG_ZERO_SIZE, width, height)
            return found(o, width, height, False)
        pos += 2 + length


cdef int gif_sub_blocks(const Source* s, Py_ssize_t* pos, Outcome* o) noexcept nogil:
    cdef uint8_t n
    while True:
        if fetch(s, pos[0], 1, &n, o) < 0:
            return -1
        pos[0] += 1 + n
        if n == 0:
            return 0


cdef int parse_gif(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[13]
    cdef uint32_t width, height
    cdef Py_ssize_t pos
    cdef int images = 0
    if fetch(s, 0, 13, b, o) < 0:
        return -1
    width, height = le16(b + 6), le16(b + 8)
    if width == 0 or height == 0:
        return corrupt(o, GIF_ZERO_SIZE, width, height)
    pos = 13 + ((3 << ((b[10] & 7) + 1)) if b[10] & 0x80 else 0)
    while True:  # the block stream: a second image descriptor means animated
        if fetch(s, pos, 1, b, o) < 0:
            return -1
        if b[0] == 0x2C:  # image descriptor
            images += 1
            if images == 2:
                return found(o, width, height, True)
            if fetch(s, pos + 9, 1, b, o) < 0:
                return -1
            pos += 10 + ((3 << ((b[0] & 7) + 1)) if b[0] & 0x80 else 0) + 1  # + LZW size
            if gif_sub_blocks(s, &pos, o) < 0:
                return -1
        elif b[0] == 0x21:  # extension: introducer, label, sub-blocks
            pos += 2
            if gif_sub_blocks(s, &pos, o) < 0:
                return -1
        elif b[0] == 0x3B:  # trailer
            return found(o, width, height, False)
        else:
            return corrupt(o, GIF_BAD_BLOCK, pos, b[0])


cdef int parse_webp(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[20]
    cdef uint32_t width, height, bits
    if fetch(s, 12, 8, b + 12, o) < 0:  # the first chunk's header ("RIFF....WEBP": identify)
        return -1
    if memcmp(b + 12, b"VP8 ", 4) == 0:
        if fetch(s, 20, 10, b, o) < 0:
            return -1
        if b[0] & 1:
            return corrupt(o, WEBP_NOT_KEYFRAME, 0, 0)
        if memcmp(b + 3, b"\x9d\x01\x2a", 3) != 0:
            return corrupt(o, WEBP_BAD_START_CODE, 0, 0)
        width, height = le16(b + 6) & 0x3FFF, le16(b + 8) & 0x3FFF
        if width == 0 or height == 0:
            return corrupt(o, WEBP_ZERO_SIZE, width, height)
        return found(o, width, height, False)
    if memcmp(b + 12, b"VP8L", 4) == 0:
        if fetch(s, 20, 5, b, o) < 0:
            return -1
        if b[0] != 0x2F:
            return corrupt(o, WEBP_BAD_SIGNATURE, b[0], 0)
        bits = le32(b + 1)
        if bits >> 29:
            return corrupt(o, WEBP_BAD_VERSION, bits >> 29, 0)
        return found(o, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, False)
    if memcmp(b + 12, b"VP8X", 4) == 0:
        if fetch(s, 20, 10, b, o) < 0:
            return -1
        return found(o, le24(b + 4) + 1, le24(b + 7) + 1, (b[0] & 0x02) != 0)
    return corrupt(o, WEBP_UNKNOWN_CHUNK, le32(b + 12), 0)


cdef int parse(const Source* s, Outcome* o) noexcept nogil:
    if identify(s, o) < 0:
        return -1
    if o.format == PNG:
        return parse_png(s, o)
    if o.format == JPEG:
        return parse_jpeg(s, o)
    if o.format == GIF:
        return parse_gif(s, o)
    if o.format == WEBP:
        return parse_webp(s, o)
    o.kind = UNSUPPORTED
    return -1


# --- Python entry points (same names and behaviour in _header_py.py) -------------------

cdef PyTypeObject* IMAGE_INFO = <PyTypeObject*>ImageInfo


cdef object new_image_info(int64_t width, int64_t height, Format format, bint animated):
    # ImageInfo(...) runs the NamedTuple's Python-level __new__ (~250 ns); filling the tuple
    # subclass directly is what a C extension would do, and gives the identical object.
    cdef PyObject* raw = PyType_GenericAlloc(IMAGE_INFO, 4)  # a heap type's tp_alloc
    if raw == NULL:
        raise MemoryError()
    info = <object>raw  # takes a second reference ...
    Py_DECREF(info)     # ... so drop the one tp_alloc returned
    cdef object w = width, h = height, flag = animated
    cdef object name = <object>PyTuple_GET_ITEM(FORMAT_NAMES, format)
    Py_INCREF(w)  # PyTuple_SET_ITEM steals a reference: give it one
    PyTuple_SET_ITEM(info, 0, w)
    Py_INCREF(h)
    PyTuple_SET_ITEM(info, 1, h)
    Py_INCREF(name)
    PyTuple_SET_ITEM(info, 2, name)
    Py_INCREF(flag)
    PyTuple_SET_ITEM(info, 3, flag)
    return info


# Recent results, direct-mapped. Allocating and freeing the result is a third of a call, and
# a gateway sees the same few sizes (screenshots, phone photos) over and over; ImageInfo is
# immutable, so handing out the same object again is safe. Bounded: one entry per slot.
# Threads: a slot is read and written only inside a critical section on RESULTS_GUARD, so
# without the GIL no reader sees half a slot or a result another thread is freeing. With the
# GIL the critical sections compile to nothing: the single-threaded path is unchanged.
cdef enum:
    RESULT_SLOTS = 256

cdef struct ResultSlot:
    int64_t width, height
    Format format
    bint animated
    PyObject* info  # an owned reference, or NULL

cdef ResultSlot RESULTS[RESULT_SLOTS]
cdef object RESULTS_GUARD = object()  # the lock of the critical sections (its ob_mutex)


cdef object image_info_of(int64_t width, int64_t height, Format format, bint animated):
    cdef uint32_t key = (<uint32_t>width * 2654435761u) ^ (<uint32_t>height * 2246822519u)
    cdef ResultSlot* slot = &RESULTS[(key ^ (key >> 16) ^ format ^ (animated << 3)) % RESULT_SLOTS]
    cdef object info = None
    cdef PyObject* old = NULL
    with cython.critical_section(RESULTS_GUARD):
        if (slot.info != NULL and slot.width == width and slot.height == height
                and slot.format == format and slot.animated == animated):
            info = <object>slot.info  # ours now: a later eviction cannot free it
    if info is not None:
        return info
    info = new_image_info(width, height, format, animated)
    with cython.critical_section(RESULTS_GUARD):
        old = slot.info
        Py_INCREF(info)
        slot.info = <PyObject*>info
        slot.width, slot.height, slot.format, slot.animated = width, height, format, animated
    if old != NULL:  # released outside the section: freeing must not happen while holding it
        Py_DECREF(<object>old)
    return info


cdef object outcome(const Source* s, Outcome* o, Py_ssize_t text_start):
    if o.kind == FOUND:
        return image_info_of(o.a, o.b, o.format, o.animated)
    if o.kind == TRUNCATED:
        raise fmt.truncated_error(FORMAT_NAMES[o.format], s.size, o.a)
    if o.kind == CORRUPT:
        raise fmt.corrupt_error(o.code, o.a, o.b)
    if o.kind == BAD_BASE64:
        raise fmt.base64_char_error(text_start + o.a)
    # Unsupported: name it from its first bytes (which may themselves be bad base64)
    cdef Py_ssize_t n = s.size if s.size < SNIFF_BYTES else SNIFF_BYTES
    head = PyBytes_FromStringAndSize(NULL, n)
    if fetch(s, 0, n, <uint8_t*>PyBytes_AS_STRING(head), o) < 0:
        raise fmt.base64_char_error(text_start + o.a)
    raise fmt.unsupported_error(head)


cdef object parse_bytes_at(const uint8_t* data, Py_ssize_t size):
    cdef Source s
    cdef Outcome o
    s.data, s.size, s.text_len, s.base64 = data, size, 0, False
    o.format = UNKNOWN
    parse(&s, &o)
    return outcome(&s, &o, 0)


def parse_buffer(data):
    """The header of an image held whole in memory (bytes, bytearray, memoryview)."""
    if type(data) is bytes:
        return parse_bytes_at(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    if type(data) is bytearray:
        return parse_bytes_at(<const uint8_t*>PyByteArray_AS_STRING(data),
                              PyByteArray_GET_SIZE(data))
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    if view.shape[0] == 0:
        return parse_bytes_at(<const uint8_t*>b"", 0)
    return parse_bytes_at(&view[0], view.shape[0])


cdef object parse_data_url_at(const uint8_t* text, Py_ssize_t length, object url):
    cdef const uint8_t* comma = <const uint8_t*>memchr(
        text, b","[0], length if length < MAX_HEADER else MAX_HEADER)
    if comma == NULL:
        raise fmt.no_comma_error()
    cdef Py_ssize_t start = comma - text + 1
    if not header_ok(text + 5, start - 6):
        header = url[5:start - 1]
        raise fmt.data_url_header_error(header if type(header) is str else header.decode("latin-1"))
    cdef Source s
    cdef Outcome o
    cdef Py_ssize_t payload = length - start
    if payload % 4 == 1:
        raise fmt.base64_length_error(payload)
    s.data, s.text_len, s.base64 = text + start, payload, True
    s.size = payload // 4 * 3 + (payload % 4 - 1 if payload % 4 else 0)
    if payload % 4 == 0 and payload and text[length - 1] == b"="[0]:
        s.size -= 2 if text[length - 2] == b"="[0] else 1
    o.format = UNKNOWN
    parse(&s, &o)
    return outcome(&s, &o, start)


cdef inline uint8_t lower(uint8_t c) noexcept nogil:
    return c + 32 if b"A"[0] <= c <= b"Z"[0] else c


cdef bint header_ok(const uint8_t* header, Py_ssize_t n) noexcept nogil:
    # fmt.data_url_header_ok: "image/..." ending in ";base64", case-insensitive
    cdef Py_ssize_t i
    if n < 7:
        return False
    for i in range(7):
        if lower(header[n - 7 + i]) != b";base64"[i]:
            return False
    for i in range(6):
        if lower(header[i]) != b"image/"[i]:
            return False
    return True


def parse_data_url(url):
    """The header of a ``data:image/...;base64,...`` URL, decoding only what it needs."""
    if type(url) is str:
        if not PyUnicode_IS_ASCII(url):
            raise fmt.non_ascii_error()
        # an ASCII str is stored one byte per character: read it in place, no copy
        return parse_data_url_at(<const uint8_t*>PyUnicode_DATA(url), PyUnicode_GET_LENGTH(url), url)
    if type(url) is bytes:
        return parse_data_url_at(<const uint8_t*>PyBytes_AS_STRING(url), PyBytes_GET_SIZE(url), url)
    if isinstance(url, str):
        return parse_data_url(str(url))
    return parse_data_url(bytes(url))


def image_info(source, *, max_read=fmt.DEFAULT_MAX_READ):
    """See :func:`visiontokens.image_info`."""
    cdef const uint8_t* data
    cdef Py_ssize_t size
    if type(source) is bytes:  # the hot paths first, with no Python-level call
        data, size = <const uint8_t*>PyBytes_AS_STRING(source), PyBytes_GET_SIZE(source)
        if size >= 5 and memcmp(data, b"data:", 5) == 0:
            return parse_data_url_at(data, size, source)
        return parse_bytes_at(data, size)
    if type(source) is str and PyUnicode_IS_ASCII(source):
        data, size = <const uint8_t*>PyUnicode_DATA(source), PyUnicode_GET_LENGTH(source)
        if size >= 5 and memcmp(data, b"data:", 5) == 0:
            return parse_data_url_at(data, size, source)
    return fmt.info_from_any(source, parse_buffer, parse_data_url, max_read)  # the rest
