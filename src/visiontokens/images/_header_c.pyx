# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, freethreading_compatible=True
"""Image size from the header: the compiled parser (spec 5).

The rules (what is sized, what is refused, the GIF animation walk, prefixes) are those of
``_header_py.py``, whose docstring states them; this module takes the same steps in the same
order. Every read of the input goes through ``fetch`` or ``need``, which check the range
against the input's size before touching a byte (the GIF sub-block walks check each index
against the size inline); the format walkers only ever index their own fixed-size local
buffers with constants. For a base64 data URL ``fetch`` decodes just the groups the range
covers (decoded byte k sits in characters 4*(k//3) .. 4*(k//3)+3), so jumping over a 60 KB
ICC profile costs nothing. A failure comes back as a code and up to three numbers, which
``outcome`` hands to the message builder of ``_errors.py`` that the pure twin calls
directly, so both raise the same errors with the same messages.
"""

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_SET_ITEM
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy
from cpython.pycapsule cimport PyCapsule_GetPointer

from .. import _errors as err
from . import sources as fmt
from .sources import ImageInfo

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

# Corrupt-data codes: an index into BUILDERS, the _errors builder and how many numbers it takes.
cdef enum Code:
    PNG_CHUNK_TYPE
    PNG_CHUNK_LENGTH
    PNG_CRC
    PNG_IHDR_LENGTH
    PNG_FILTER_METHOD
    PNG_NO_IHDR
    PNG_SIZE
    PNG_APNG_LENGTH
    PNG_APNG_SEQUENCE
    PNG_APNG_FRAME
    JPEG_START
    JPEG_MARKER
    JPEG_NO_FRAME
    JPEG_FRAME_LENGTH
    JPEG_FRAME_TABLE
    JPEG_PRECISION
    JPEG_COMPONENTS
    JPEG_QUANTIZATION
    JPEG_SIZE
    GIF_NO_IMAGE
    GIF_SIZE
    WEBP_RIFF_SIZE
    WEBP_FIRST_CHUNK
    WEBP_CHUNK_SIZE
    WEBP_LEFTOVER
    WEBP_VP8X
    WEBP_AREA
    WEBP_FLAGS
    WEBP_ORDER
    WEBP_ANIM
    WEBP_NO_FRAME
    WEBP_FRAME_BOUNDS
    WEBP_VP8
    WEBP_VP8L

BUILDERS = (
    (err.png_chunk_type_error, 2),
    (err.png_chunk_length_error, 2),
    (err.png_crc_error, 2),
    (err.png_ihdr_length_error, 2),
    (err.png_filter_method_error, 1),
    (err.png_no_ihdr_error, 0),
    (err.png_size_error, 2),
    (err.png_apng_length_error, 3),
    (err.png_apng_sequence_error, 2),
    (err.png_apng_frame_error, 1),
    (err.jpeg_start_error, 1),
    (err.jpeg_marker_error, 2),
    (err.jpeg_no_frame_error, 0),
    (err.jpeg_frame_length_error, 2),
    (err.jpeg_frame_table_error, 2),
    (err.jpeg_precision_error, 1),
    (err.jpeg_components_error, 1),
    (err.jpeg_quantization_error, 1),
    (err.jpeg_size_error, 2),
    (err.gif_no_image_error, 1),
    (err.gif_size_error, 2),
    (err.webp_riff_size_error, 1),
    (err.webp_first_chunk_error, 1),
    (err.webp_chunk_size_error, 2),
    (err.webp_leftover_error, 2),
    (err.webp_vp8x_error, 1),
    (err.webp_area_error, 2),
    (err.webp_flags_error, 1),
    (err.webp_order_error, 2),
    (err.webp_anim_error, 3),
    (err.webp_no_frame_error, 0),
    (err.webp_frame_bounds_error, 1),
    (err.webp_vp8_error, 2),
    (err.webp_vp8l_error, 2),
)

# the "what" numbers of webp_order_error, webp_vp8_error and webp_vp8l_error (_errors.py)
cdef enum:
    SECOND_VP8X = 0
    STILL_IN_ANIMATION = 1
    ANMF_BEFORE_ANIM = 2
    SECOND_IMAGE = 3
    VP8L_AFTER_ALPH = 4
    ALPH_AFTER_IMAGE = 5
    ALPH_ONLY = 6

cdef enum:
    MAX_INT31 = 2147483647
    NOT_BASE64 = 64

cdef int64_t WEBP_MAX_CHUNK = 4294967286  # libwebp's MAX_CHUNK_PAYLOAD
cdef int64_t WEBP_MAX_AREA = 4294967296  # libwebp's MAX_IMAGE_AREA: w * h must stay under it
cdef uint32_t APNG_MAX_FRAMES = 2147483648  # Pillow ignores an acTL frame count above it
cdef Py_ssize_t MAX_HEADER = fmt.MAX_DATA_URL_HEADER
cdef Py_ssize_t SNIFF_BYTES = fmt.SNIFF_BYTES


cdef extern from "_fill.h":
    ctypedef struct vt_fill:
        void (*fill)(void* owner, const uint8_t* start, const uint8_t* end) noexcept nogil
        void* owner
    const char* VT_FILL_CAPSULE


cdef struct Source:
    const vt_fill* fill   # base64 in a body whose blocks are copied in on demand, or NULL
    const uint8_t* data   # the bytes, or the base64 payload (after the comma)
    Py_ssize_t size       # bytes available: for base64, the decoded size
    Py_ssize_t text_len   # base64: payload characters
    bint base64
    const uint8_t* decode # base64: the alphabet's table (DECODE, or DECODE_URL_SAFE_TOO)
    bint complete         # False: data is the start of a longer file

cdef struct Outcome:
    Kind kind
    Format format
    Code code
    int64_t a, b, c       # CORRUPT: the builder's numbers; BAD_BASE64: a = payload offset
    int64_t needed        # TRUNCATED: bytes needed
    int64_t width, height # FOUND
    bint animated, undecided
    bint partial          # a prefix's answer so far (width, height, animated, undecided) is set
    int64_t p_width, p_height
    bint p_animated, p_undecided


# --- the one way to read input ---------------------------------------------------------------

cdef uint8_t[256] DECODE
cdef int _i
for _i in range(256):
    DECODE[_i] = NOT_BASE64
cdef const uint8_t* _ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
for _i in range(64):
    DECODE[_ALPHABET[_i]] = _i
# Gemini's inline blobs in the URL-safe alphabet (RFC 4648 5: "-" for "+", "_" for "/"), as the
# google-genai SDK sends them. ASSUMED (providers.md does not say): the API reads either
# alphabet, mixed too, as the standard one.
cdef uint8_t[256] DECODE_URL_SAFE_TOO
for _i in range(256):
    DECODE_URL_SAFE_TOO[_i] = DECODE[_i]
DECODE_URL_SAFE_TOO[b"-"[0]], DECODE_URL_SAFE_TOO[b"_"[0]] = 62, 63

# CRC-32 (PNG, zlib; reflected polynomial 0xEDB88320), eight bytes a step ("slicing by 8"):
# CRC_TABLES[0] is the classic byte table, CRC_TABLES[k] the CRC of a byte followed by k zeros.
cdef uint32_t[8][256] CRC_TABLES
cdef uint32_t _c
cdef int _k
for _i in range(256):
    _c = _i
    for _k in range(8):
        _c = (0xEDB88320 ^ (_c >> 1)) if _c & 1 else (_c >> 1)
    CRC_TABLES[0][_i] = _c
for _k in range(1, 8):
    for _i in range(256):
        _c = CRC_TABLES[_k - 1][_i]
        CRC_TABLES[_k][_i] = (_c >> 8) ^ CRC_TABLES[0][_c & 0xFF]


cdef inline uint32_t crc_update(uint32_t crc, const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint32_t one, two
    while n >= 8:
        one = crc ^ ((<uint32_t>p[0]) | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
                     | (<uint32_t>p[3] << 24))
        two = (<uint32_t>p[4]) | (<uint32_t>p[5] << 8) | (<uint32_t>p[6] << 16) | (<uint32_t>p[7] << 24)
        crc = (CRC_TABLES[7][one & 0xFF] ^ CRC_TABLES[6][(one >> 8) & 0xFF]
               ^ CRC_TABLES[5][(one >> 16) & 0xFF] ^ CRC_TABLES[4][one >> 24]
               ^ CRC_TABLES[3][two & 0xFF] ^ CRC_TABLES[2][(two >> 8) & 0xFF]
               ^ CRC_TABLES[1][(two >> 16) & 0xFF] ^ CRC_TABLES[0][two >> 24])
        p += 8
        n -= 8
    while n > 0:
        crc = CRC_TABLES[0][(crc ^ p[0]) & 0xFF] ^ (crc >> 8)
        p += 1
        n -= 1
    return crc


cdef inline int short(Outcome* o, int64_t needed) noexcept nogil:
    o.kind, o.needed = TRUNCATED, needed
    return -1


cdef inline int need(const Source* s, int64_t end, Outcome* o) noexcept nogil:
    """Bytes up to ``end`` exist; nothing is read (a skipped payload stays undecoded)."""
    if end > s.size:
        return short(o, end)
    return 0


cdef inline void ready(const Source* s, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    """Payload characters [start, end) copied in, before they are read, when the text is a
    window on a body that copies its blocks in on demand (_fill.h); else nothing to do."""
    if s.fill == NULL:
        return
    if start < 0:
        start = 0
    if end > s.text_len:
        end = s.text_len
    if start < end:
        s.fill.fill(s.fill.owner, s.data + start, s.data + end)


cdef inline int fetch(const Source* s, Py_ssize_t offset, Py_ssize_t n, uint8_t* out,
                      Outcome* o) noexcept nogil:
    """Copy input bytes [offset, offset + n) to out, or record why not and return -1."""
    if offset < 0 or n > s.size or offset > s.size - n:
        return short(o, <int64_t>offset + n)
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
    cdef const uint8_t* table = s.decode
    cdef uint8_t decoded[3]
    cdef Py_ssize_t written = 0
    ready(s, 4 * first, 4 * last + 4)
    for g in range(first, last + 1):
        k = s.size - 3 * g
        at = 4 * g
        c = s.data + at
        if k >= 3:  # a full group: four alphabet characters
            k = 3
            invalid = table[c[0]] | table[c[1]] | table[c[2]] | table[c[3]]
            bits = (<uint32_t>table[c[0]] << 18 | <uint32_t>table[c[1]] << 12
                    | <uint32_t>table[c[2]] << 6 | table[c[3]])
        else:  # the final group: k + 1 alphabet characters, then "=" padding if any
            invalid = 0
            bits = 0
            for j in range(4):
                if j <= k:
                    value = table[c[j]]
                    invalid |= value
                    bits = (bits << 6) | value
                else:
                    if at + j < s.text_len and c[j] != b"="[0]:
                        invalid |= NOT_BASE64
                    bits <<= 6
        if invalid & NOT_BASE64:
            o.kind, o.a = BAD_BASE64, at
            return -1
        i = offset - 3 * g if 3 * g < offset else 0
        if i == 0 and k == 3 and n - written >= 3:  # a whole group inside the range: most
            out[written] = bits >> 16
            out[written + 1] = (bits >> 8) & 0xFF
            out[written + 2] = bits & 0xFF
            written += 3
            continue
        decoded[0], decoded[1], decoded[2] = bits >> 16, (bits >> 8) & 0xFF, bits & 0xFF
        while i < k and written < n:
            out[written] = decoded[i]
            written += 1
            i += 1
    return 0


cdef inline int byte_at(const Source* s, Py_ssize_t offset, Outcome* o) noexcept nogil:
    """The byte at ``offset`` (0..255), or -1 with the reason in o."""
    cdef uint8_t b
    if not s.base64:
        if offset >= s.size:
            return short(o, <int64_t>offset + 1)
        return s.data[offset]
    if fetch(s, offset, 1, &b, o) < 0:
        return -1
    return b


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


cdef inline int corrupt(Outcome* o, Code code, int64_t a, int64_t b, int64_t c) noexcept nogil:
    o.kind, o.code, o.a, o.b, o.c = CORRUPT, code, a, b, c
    return -1


cdef inline int found(Outcome* o, int64_t width, int64_t height, bint animated,
                      bint undecided) noexcept nogil:
    o.kind, o.width, o.height, o.animated, o.undecided = FOUND, width, height, animated, undecided
    return 0


cdef inline void partial(Outcome* o, int64_t width, int64_t height, bint animated,
                         bint undecided) noexcept nogil:
    o.partial = True
    o.p_width, o.p_height, o.p_animated, o.p_undecided = width, height, animated, undecided


# --- the formats (the same steps as _header_py.py) ------------------------------------

cdef int identify(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t head[12]
    cdef Py_ssize_t n = s.size if s.size < 12 else 12
    if fetch(s, 0, n, head, o) < 0:
        return -1
    o.format = UNKNOWN
    if s.size == 0:
        return short(o, 1)
    # (n is 12 but for a tiny input: the constant-length compares are inlined, not calls)
    if (memcmp(head, b"\x89PNG\r\n\x1a\n", 8) == 0 if n == 12
            else memcmp(head, b"\x89PNG\r\n\x1a\n", n if n < 8 else 8) == 0):
        o.format = PNG
    elif head[0] == 0xFF and (n < 2 or head[1] == 0xD8):
        o.format = JPEG
    elif (memcmp(head, b"GIF87a", 6) == 0 or memcmp(head, b"GIF89a", 6) == 0 if n == 12
          else memcmp(head, b"GIF87a", n if n < 6 else 6) == 0
          or memcmp(head, b"GIF89a", n if n < 6 else 6) == 0):
        o.format = GIF
    elif (memcmp(head, b"RIFF", 4) == 0 and memcmp(head + 8, b"WEBP", 4) == 0 if n == 12
          else memcmp(head, b"RIFF", n if n < 4 else 4) == 0 and n < 12):
        o.format = WEBP
    return 0


# PNG -----------------------------------------------------------------------------------

cdef inline bint is_chunk_type_byte(uint8_t c) noexcept nogil:
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95


cdef inline bint known_png_mode(uint8_t depth, uint8_t colour) noexcept nogil:
    # Pillow's table of bit depth and colour type
    if colour == 0:
        return depth == 1 or depth == 2 or depth == 4 or depth == 8 or depth == 16
    if colour == 3:
        return depth == 1 or depth == 2 or depth == 4 or depth == 8
    if colour == 2 or colour == 4 or colour == 6:
        return depth == 8 or depth == 16
    return False


cdef int png_crc(const Source* s, Py_ssize_t pos, uint32_t length, Outcome* o) noexcept nogil:
    """Check the CRC of the chunk at pos (type and payload), already known to be whole."""
    cdef uint8_t buf[64]
    cdef uint32_t crc = ~(<uint32_t>0)
    cdef Py_ssize_t at = pos + 4, end = pos + 8 + length, n
    if need(s, <int64_t>end + 4, o) < 0:  # the chunk and its CRC lie inside the data
        return -1
    if not s.base64:
        crc = crc_update(crc, s.data + at, end - at)
    while s.base64 and at < end:
        n = end - at if end - at < 64 else 64
        if fetch(s, at, n, buf, o) < 0:
            return -1
        crc = crc_update(crc, buf, n)
        at += n
    if fetch(s, end, 4, buf, o) < 0:
        return -1
    if ~crc != be32(buf):
        if fetch(s, pos + 4, 4, buf, o) < 0:
            return -1
        return corrupt(o, PNG_CRC, pos, be32(buf), 0)
    return 0


cdef int parse_png(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[20]
    cdef uint32_t length, kind, number, count
    cdef int64_t width = 0, height = 0, frame_w, frame_h, x, y
    cdef Py_ssize_t pos = 8
    cdef bint known_mode = False, framed = False, default_image, has_frames = False
    cdef bint has_sequence = False
    cdef uint32_t frames = 0, sequence = 0
    while True:
        if fetch(s, pos, 8, b, o) < 0:
            return -1
        length = be32(b)
        kind = be32(b + 4)
        if not (is_chunk_type_byte(b[4]) and is_chunk_type_byte(b[5])
                and is_chunk_type_byte(b[6]) and is_chunk_type_byte(b[7])):
            return corrupt(o, PNG_CHUNK_TYPE, pos, kind, 0)
        if memcmp(b + 4, b"IDAT", 4) == 0 or memcmp(b + 4, b"IEND", 4) == 0:
            default_image = b[5] == b"D"[0] and has_frames and not framed
            break
        if memcmp(b + 4, b"fdAT", 4) == 0:
            if length < 4:
                return corrupt(o, PNG_APNG_LENGTH, pos, kind, length)
            if fetch(s, pos + 8, 4, b, o) < 0:
                return -1
            number = be32(b)
            if not has_sequence or <uint64_t>number != <uint64_t>sequence + 1:
                return corrupt(o, PNG_APNG_SEQUENCE, pos, number, 0)
            default_image = False
            break
        if length > MAX_INT31:
            return corrupt(o, PNG_CHUNK_LENGTH, pos, length, 0)
        if need(s, <int64_t>pos + 12 + length, o) < 0:  # the whole chunk and its CRC
            return -1
        if kind == 0x49484452:  # IHDR
            if length < 13:
                return corrupt(o, PNG_IHDR_LENGTH, pos, length, 0)
            if fetch(s, pos + 8, 13, b, o) < 0:
                return -1
            width, height = be32(b), be32(b + 4)
            known_mode = known_mode or known_png_mode(b[8], b[9])
            if b[11]:
                return corrupt(o, PNG_FILTER_METHOD, b[11], 0, 0)
            if known_mode and 1 <= width <= MAX_INT31 and 1 <= height <= MAX_INT31:
                partial(o, width, height, False, True)
        elif kind == 0x6163544C:  # acTL
            if length < 8:
                return corrupt(o, PNG_APNG_LENGTH, pos, kind, length)
            if fetch(s, pos + 8, 4, b, o) < 0:
                return -1
            count = be32(b)
            if has_frames:  # a second acTL: Pillow drops the animation
                has_frames = False
            elif 0 < count <= APNG_MAX_FRAMES:
                has_frames, frames = True, count
        elif kind == 0x6663544C:  # fcTL
            if length < 26:
                return corrupt(o, PNG_APNG_LENGTH, pos, kind, length)
            if fetch(s, pos + 8, 20, b, o) < 0:
                return -1
            number = be32(b)
            if ((not has_sequence and number != 0)
                    or (has_sequence and <uint64_t>number != <uint64_t>sequence + 1)):
                return corrupt(o, PNG_APNG_SEQUENCE, pos, number, 0)
            has_sequence, sequence = True, number
            frame_w, frame_h, x, y = be32(b + 4), be32(b + 8), be32(b + 12), be32(b + 16)
            if x + frame_w > width or y + frame_h > height:
                return corrupt(o, PNG_APNG_FRAME, pos, 0, 0)
            framed = True
        if not (kind >> 24) & 0x20:  # a critical chunk: its CRC must match
            if png_crc(s, pos, length, o) < 0:
                return -1
        pos += 12 + length
    if not known_mode:
        return corrupt(o, PNG_NO_IHDR, 0, 0, 0)
    if not (1 <= width <= MAX_INT31 and 1 <= height <= MAX_INT31):
        return corrupt(o, PNG_SIZE, width, height, 0)
    count = (frames if has_frames else 1) + (1 if default_image else 0)
    return found(o, width, height, count > 1, False)


# JPEG ----------------------------------------------------------------------------------

cdef inline bint is_frame_header(uint32_t marker) noexcept nogil:
    # SOF0..SOF15 but DHT (C4), JPG (C8), DAC (CC); and DHP (DE), which Pillow reads as one
    return (0xC0 <= marker <= 0xCF and marker != 0xC4 and marker != 0xC8 and marker != 0xCC) \
        or marker == 0xDE


cdef inline bint is_standalone(uint32_t marker) noexcept nogil:
    # JPG, RST0..7, SOI, EOI, JPG0..13: no length follows (Pillow's table)
    return marker == 0xC8 or 0xD0 <= marker <= 0xD9 or 0xF0 <= marker <= 0xFD


cdef int parse_jpeg(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[6]
    cdef int byte, marker
    cdef uint32_t length
    cdef int64_t width = 0, height = 0
    cdef bint sized = False
    cdef Py_ssize_t pos = 2, at, end
    if fetch(s, 0, 3, b, o) < 0:
        return -1
    if b[2] != 0xFF:
        return corrupt(o, JPEG_START, b[2], 0, 0)
    while True:
        if pos >= s.size:  # the data ends between segments
            if s.complete:
                break
            return short(o, <int64_t>pos + 1)
        byte = byte_at(s, pos, o)
        if byte < 0:
            return -1
        if byte != 0xFF:
            pos += 1
            continue
        if pos + 1 >= s.size:
            if s.complete:
                break
            return short(o, <int64_t>pos + 2)
        marker = byte_at(s, pos + 1, o)
        if marker < 0:
            return -1
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0x00:
            pos += 2
            continue
        if marker < 0xC0:
            return corrupt(o, JPEG_MARKER, pos, marker, 0)
        if is_standalone(marker):
            pos += 2
            continue
        if fetch(s, pos + 2, 2, b, o) < 0:
            return -1
        length = be16(b)
        if length > 2 and need(s, <int64_t>pos + 2 + length, o) < 0:  # the segment is whole
            return -1
        if is_frame_header(marker):
            if length < 8:
                return corrupt(o, JPEG_FRAME_LENGTH, pos, length, 0)
            if fetch(s, pos + 4, 6, b, o) < 0:  # precision, height, width, components
                return -1
            if b[0] != 8:
                return corrupt(o, JPEG_PRECISION, b[0], 0, 0)
            if b[5] != 1 and b[5] != 3 and b[5] != 4:
                return corrupt(o, JPEG_COMPONENTS, b[5], 0, 0)
            if (length - 8) % 3:
                return corrupt(o, JPEG_FRAME_TABLE, pos, length, 0)
            width, height, sized = be16(b + 3), be16(b + 1), True
            if width and height:
                partial(o, width, height, False, False)
            else:
                o.partial = False
        elif marker == 0xDB:  # DQT: whole tables, 65 or 129 bytes by their precision
            at, end = pos + 4, pos + 2 + length
            while at < end:
                byte = byte_at(s, at, o)
                if byte < 0:
                    return -1
                at += 65 if byte < 16 else 129
                if at > end:
                    return corrupt(o, JPEG_QUANTIZATION, pos, 0, 0)
        elif marker == 0xDA:  # SOS: the image data begins
            break
        pos += 2 + (length if length > 2 else 2)
    if not sized:
        return corrupt(o, JPEG_NO_FRAME, 0, 0, 0)
    if width == 0 or height == 0:
        return corrupt(o, JPEG_SIZE, width, height, 0)
    return found(o, width, height, False, False)


# GIF -----------------------------------------------------------------------------------
# The walk over data sub-blocks is the one cost that grows with the file. It reads only each
# sub-block's length byte, and encoders write runs of equal sub-blocks (255 bytes each, the
# last one aside): so at a sub-block of length n it checks the next eight length bytes, n + 1
# apart, as independent loads, and jumps over all eight when they are n too. From a data URL
# it decodes only the base64 group holding each length byte, eight groups at once likewise.
# Bytes between blocks that start no block are skipped in one scan, not one call per byte.

cdef inline Py_ssize_t gif_sub_blocks_bytes(const uint8_t* d, Py_ssize_t size,
                                            Py_ssize_t pos) noexcept nogil:
    cdef uint32_t n
    cdef Py_ssize_t step
    while pos < size:
        n = d[pos]
        if n == 0:
            return pos + 1
        step = n + 1
        while pos + 8 * step < size and ((d[pos + step] ^ n) | (d[pos + 2 * step] ^ n)
                                         | (d[pos + 3 * step] ^ n) | (d[pos + 4 * step] ^ n)
                                         | (d[pos + 5 * step] ^ n) | (d[pos + 6 * step] ^ n)
                                         | (d[pos + 7 * step] ^ n) | (d[pos + 8 * step] ^ n)) == 0:
            pos += 8 * step
        pos += step
    return pos


cdef inline uint32_t group_bits(const uint8_t* table, const uint8_t* c) noexcept nogil:
    """The 24 bits of the four base64 characters at c, with bit 24 set if one is invalid."""
    cdef uint32_t a = table[c[0]], b = table[c[1]], e = table[c[2]], f = table[c[3]]
    return (a << 18) | (b << 12) | (e << 6) | f | (((a | b | e | f) & NOT_BASE64) << 18)


cdef inline uint32_t base64_byte(const uint8_t* table, const uint8_t* text,
                                 Py_ssize_t k) noexcept nogil:
    """Decoded byte k from its full group, or 256 + the byte if the group is not valid
    base64 (so it never equals a byte)."""
    cdef Py_ssize_t g = k // 3
    cdef uint32_t bits = group_bits(table, text + 4 * g)
    return ((bits >> (16 - 8 * (k - 3 * g))) & 0xFF) | ((bits >> 16) & 0x100)


cdef enum:
    WINDOW_GROUPS = 1024  # a decoded window: 3 KB

cdef struct Window:
    Py_ssize_t start, end  # the decoded bytes [start, end) held in data
    uint8_t data[3 * WINDOW_GROUPS]


cdef inline bint fill_window(const Source* s, Window* w, Py_ssize_t pos) noexcept nogil:
    """Decode the valid full groups from pos's group on, up to WINDOW_GROUPS of them and
    short of a final partial group. False if there is none (an invalid or final group at pos): the
    caller then reads that byte through byte_at, which reports it as such. No error is raised
    here for a group that is never read."""
    cdef Py_ssize_t g = pos // 3, last = s.size // 3 - 1, i = 0  # the last full group
    cdef uint32_t bits
    ready(s, 4 * g, 4 * (g + WINDOW_GROUPS if g + WINDOW_GROUPS <= last + 1 else last + 1))
    while i < WINDOW_GROUPS and g + i <= last:
        bits = group_bits(s.decode, s.data + 4 * (g + i))
        if bits >> 24:
            break
        w.data[3 * i], w.data[3 * i + 1], w.data[3 * i + 2] = bits >> 16, (bits >> 8) & 0xFF, bits & 0xFF
        i += 1
    w.start, w.end = 3 * g, 3 * (g + i)
    return i > 0


cdef Py_ssize_t gif_sub_blocks_base64(const Source* s, Py_ssize_t pos, Outcome* o) noexcept nogil:
    cdef int n
    cdef Py_ssize_t step
    cdef const uint8_t* t = s.data
    cdef const uint8_t* table = s.decode
    cdef Window w
    w.start = w.end = 0
    # the sparse runs read only full groups: all of them lie before the final, maybe padded, one
    cdef Py_ssize_t full = s.size - 3
    while pos < s.size:
        if w.start <= pos < w.end:
            n = w.data[pos - w.start]
        else:
            n = byte_at(s, pos, o)
            if n < 0:
                return -1
        if n == 0:
            return pos + 1
        step = n + 1
        if step < 16:  # short sub-blocks: decode the text ahead once, and walk the bytes
            if not (w.start <= pos + step < w.end):
                fill_window(s, &w, pos + step)  # (none: the next read reports the bad group)
        else:  # long ones: decode only the length bytes, eight at once along a run
            while pos + 8 * step < full:
                ready(s, 4 * ((pos + step) // 3), 4 * ((pos + 8 * step) // 3) + 4)
                if ((base64_byte(table, t, pos + step) ^ n) | (base64_byte(table, t, pos + 2 * step) ^ n)
                        | (base64_byte(table, t, pos + 3 * step) ^ n) | (base64_byte(table, t, pos + 4 * step) ^ n)
                        | (base64_byte(table, t, pos + 5 * step) ^ n) | (base64_byte(table, t, pos + 6 * step) ^ n)
                        | (base64_byte(table, t, pos + 7 * step) ^ n) | (base64_byte(table, t, pos + 8 * step) ^ n)) != 0:
                    break
                pos += 8 * step
        pos += step
    return pos


cdef inline Py_ssize_t gif_sub_blocks(const Source* s, Py_ssize_t pos, Outcome* o) noexcept nogil:
    """The position after a chain of data sub-blocks; at or past the end if the data ends;
    -1 on bad base64."""
    if not s.base64:
        return gif_sub_blocks_bytes(s.data, s.size, pos)
    return gif_sub_blocks_base64(s, pos, o)


cdef inline Py_ssize_t first_of(const uint8_t* d, Py_ssize_t pos, Py_ssize_t end,
                                uint8_t c) noexcept nogil:
    cdef const void* at = memchr(d + pos, c, end - pos)
    return end if at == NULL else <const uint8_t*>at - d


cdef inline Py_ssize_t first_block_start(const uint8_t* d, Py_ssize_t pos,
                                         Py_ssize_t end) noexcept nogil:
    """The first of 0x21, 0x2C, 0x3B in d[pos:end], or end: three memchr scans, each bounded
    by the last find."""
    end = first_of(d, pos, end, 0x21)
    end = first_of(d, pos, end, 0x2C)
    return first_of(d, pos, end, 0x3B)


cdef Py_ssize_t gif_skip_stray(const Source* s, Py_ssize_t pos, Outcome* o) noexcept nogil:
    """The first position from pos whose byte starts a block (or the end of the data): Pillow
    skips any other byte between blocks. -1 on bad base64."""
    cdef int byte
    cdef Py_ssize_t at
    cdef Window w
    if not s.base64:
        return first_block_start(s.data, pos, s.size)
    while pos < s.size:
        if fill_window(s, &w, pos):  # decode a window and scan it
            at = first_block_start(w.data, pos - w.start, w.end - w.start)
            if at < w.end - w.start:
                return w.start + at
            pos = w.end
        else:  # an invalid or final group: byte by byte
            byte = byte_at(s, pos, o)
            if byte < 0:
                return -1
            if byte == 0x21 or byte == 0x2C or byte == 0x3B:
                return pos
            pos += 1
    return pos


cdef inline Py_ssize_t palette_size(uint8_t packed) noexcept nogil:
    return (3 << ((packed & 7) + 1)) if packed & 0x80 else 0


cdef int parse_gif(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[13]
    cdef int64_t width, height
    cdef Py_ssize_t pos, end
    cdef int block
    if fetch(s, 0, 13, b, o) < 0:
        return -1
    width, height = le16(b + 6), le16(b + 8)
    pos = 13 + palette_size(b[10])
    while True:  # the first image
        block = byte_at(s, pos, o)
        if block < 0:
            return -1
        if block == 0x2C:
            if fetch(s, pos + 1, 9, b, o) < 0:
                return -1
            pos += 10 + palette_size(b[8])
            if byte_at(s, pos, o) < 0:  # the LZW minimum code size
                return -1
            if le16(b) + le16(b + 4) > width:
                width = le16(b) + le16(b + 4)
            if le16(b + 2) + le16(b + 6) > height:
                height = le16(b + 2) + le16(b + 6)
            pos = gif_sub_blocks(s, pos + 1, o)
            if pos < 0:
                return -1
            break
        if block == 0x21:
            if byte_at(s, pos + 1, o) < 0:  # the label
                return -1
            pos = gif_sub_blocks(s, pos + 2, o)
            if pos < 0:
                return -1
        elif block == 0x3B:
            return corrupt(o, GIF_NO_IMAGE, pos, 0, 0)
        else:  # stray bytes between blocks: Pillow skips them
            pos = gif_skip_stray(s, pos, o)
            if pos < 0:
                return -1
    if width == 0 or height == 0:
        return corrupt(o, GIF_SIZE, width, height, 0)
    partial(o, width, height, False, True)
    while pos < s.size:  # a second image?
        block = byte_at(s, pos, o)
        if block < 0:
            return -1
        if block == 0x2C:
            if pos + 10 > s.size:
                break
            block = byte_at(s, pos + 9, o)
            if block < 0:
                return -1
            end = pos + 10 + palette_size(block)
            if end >= s.size:  # (its LZW code size is cut)
                break
            return found(o, width, height, True, False)
        if block == 0x3B:
            return found(o, width, height, False, False)
        if block == 0x21:
            pos = gif_sub_blocks(s, pos + 2, o)
        else:
            pos = gif_skip_stray(s, pos, o)
        if pos < 0:
            return -1
    if s.complete:
        return found(o, width, height, False, True)
    return short(o, <int64_t>(pos if pos > s.size else s.size) + 1)


# WebP ----------------------------------------------------------------------------------

cdef struct Frame:
    Py_ssize_t alpha_at, image_at
    int64_t width, height, x, y
    bint touched, alpha_kept


cdef inline void new_frame(Frame* f) noexcept nogil:
    f.alpha_at = f.image_at = -1
    f.width = f.height = f.x = f.y = 0
    f.touched, f.alpha_kept = False, True


cdef int webp_bitstream(const Source* s, Py_ssize_t pos, bint lossless, uint32_t size,
                        int64_t* width, int64_t* height, Outcome* o) noexcept nogil:
    cdef uint8_t b[10]
    cdef uint32_t bits
    cdef int64_t payload = <int64_t>size + (size & 1)
    if not lossless:
        if payload < 10:
            return corrupt(o, WEBP_VP8, pos, 0, 0)
        if fetch(s, pos + 8, 10, b, o) < 0:
            return -1
        if memcmp(b + 3, b"\x9d\x01\x2a", 3) != 0:
            return corrupt(o, WEBP_VP8, pos, 1, 0)
        bits = le24(b)
        if bits & 1:
            return corrupt(o, WEBP_VP8, pos, 2, 0)
        if (bits >> 1) & 7 > 3:
            return corrupt(o, WEBP_VP8, pos, 3, 0)
        if not (bits >> 4) & 1:
            return corrupt(o, WEBP_VP8, pos, 4, 0)
        if bits >> 5 >= size:
            return corrupt(o, WEBP_VP8, pos, 5, 0)
        width[0], height[0] = le16(b + 6) & 0x3FFF, le16(b + 8) & 0x3FFF
        if width[0] == 0 or height[0] == 0:
            return corrupt(o, WEBP_VP8, pos, 6, 0)
        return 0
    if payload < 5:
        return corrupt(o, WEBP_VP8L, pos, 0, 0)
    if fetch(s, pos + 8, 5, b, o) < 0:
        return -1
    if b[0] != 0x2F:
        return corrupt(o, WEBP_VP8L, pos, 1, 0)
    bits = le32(b + 1)
    if bits >> 29:
        return corrupt(o, WEBP_VP8L, pos, 2, 0)
    width[0], height[0] = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return 0


cdef int webp_chunk(const Source* s, Py_ssize_t pos, int64_t riff_end, uint8_t* kind,
                    uint32_t* size, int64_t* padded, Outcome* o) noexcept nogil:
    """The chunk header at pos: its fourcc (4 bytes to kind), declared and padded size."""
    cdef uint8_t b[8]
    if fetch(s, pos, 8, b, o) < 0:
        return -1
    memcpy(kind, b, 4)
    size[0] = le32(b + 4)
    padded[0] = <int64_t>size[0] + (size[0] & 1)
    if size[0] > WEBP_MAX_CHUNK or padded[0] > riff_end - pos - 8:
        return corrupt(o, WEBP_CHUNK_SIZE, pos, size[0], 0)
    return 0


cdef inline int webp_after_chunk(Py_ssize_t pos, int64_t riff_end, Outcome* o) noexcept nogil:
    """1 at the RIFF end, 0 if a chunk header fits, -1 (an error) for a gap under 8 bytes."""
    if pos == riff_end:
        return 1
    if riff_end - pos < 8:
        return corrupt(o, WEBP_LEFTOVER, pos, riff_end - pos, 0)
    return 0


cdef Py_ssize_t webp_frame(const Source* s, Py_ssize_t pos, int64_t riff_end, Frame* f,
                           Outcome* o) noexcept nogil:
    """libwebp's StoreFrame: an optional ALPH then a VP8/VP8L image, stopping at any other
    chunk or a second one of either; returns where it stopped, or -1."""
    cdef uint8_t kind[4]
    cdef uint32_t size
    cdef int64_t padded
    cdef int after
    if riff_end - pos < 8:
        return corrupt(o, WEBP_LEFTOVER, pos, riff_end - pos, 0)
    while True:
        if webp_chunk(s, pos, riff_end, kind, &size, &padded, o) < 0:
            return -1
        if memcmp(kind, b"ALPH", 4) == 0 and f.alpha_at < 0:
            f.alpha_at = pos
            f.touched = True
        elif (memcmp(kind, b"VP8 ", 4) == 0 or memcmp(kind, b"VP8L", 4) == 0) and f.image_at < 0:
            if kind[3] == b"L"[0] and f.alpha_at >= 0:
                return corrupt(o, WEBP_ORDER, pos, VP8L_AFTER_ALPH, 0)
            if webp_bitstream(s, pos, kind[3] == b"L"[0], size, &f.width, &f.height, o) < 0:
                return -1
            f.image_at = pos
            f.touched = True
        else:
            return pos
        pos += 8 + padded
        after = webp_after_chunk(pos, riff_end, o)
        if after < 0:
            return -1
        if after:
            return pos


cdef bint webp_frame_problem(const Frame* f, bint animation, int64_t width, int64_t height,
                             Code* code, int64_t* a, int64_t* b) noexcept nogil:
    """libwebp's per-frame validity checks (IsValidExtendedFormat), in the reference's order."""
    if f.image_at < 0:
        code[0], a[0], b[0] = WEBP_ORDER, f.alpha_at, ALPH_ONLY
    elif f.alpha_kept and f.alpha_at > f.image_at:
        code[0], a[0], b[0] = WEBP_ORDER, f.alpha_at, ALPH_AFTER_IMAGE
    elif (f.x + f.width > width or f.y + f.height > height) if animation \
            else (f.width != width or f.height != height):
        code[0], a[0], b[0] = WEBP_FRAME_BOUNDS, f.image_at, 0
    else:
        return False
    return True


cdef int parse_webp(const Source* s, Outcome* o) noexcept nogil:
    cdef uint8_t b[16]
    cdef uint8_t kind[4]
    cdef uint32_t riff_size, size, flags
    cdef int64_t riff_end, padded, width, height
    cdef Py_ssize_t pos, at
    cdef Frame frame, last
    cdef int frames = 0, after
    cdef bint animation, anim_seen = False
    # the first frame that fails the validity checks, reported once the walk is done
    cdef bint problem = False
    cdef Code problem_code = WEBP_NO_FRAME
    cdef int64_t problem_a = 0, problem_b = 0
    new_frame(&last)
    if fetch(s, 4, 4, b, o) < 0:
        return -1
    riff_size = le32(b)
    if riff_size < 8 or riff_size > WEBP_MAX_CHUNK:
        return corrupt(o, WEBP_RIFF_SIZE, riff_size, 0, 0)
    riff_end = <int64_t>riff_size + 8
    if s.complete and s.size < riff_end:
        return short(o, riff_end)  # libwebp opens only a whole RIFF
    if fetch(s, 12, 4, kind, o) < 0:
        return -1
    if memcmp(kind, b"VP8 ", 4) == 0 or memcmp(kind, b"VP8L", 4) == 0:  # a simple file
        if not s.complete:  # a prefix: the image's header is enough
            if webp_chunk(s, 12, riff_end, kind, &size, &padded, o) < 0:
                return -1
            if webp_bitstream(s, 12, kind[3] == b"L"[0], size, &width, &height, o) < 0:
                return -1
            return found(o, width, height, False, False)
        new_frame(&frame)
        if webp_frame(s, 12, riff_end, &frame, o) < 0:
            return -1
        return found(o, frame.width, frame.height, False, False)
    if memcmp(kind, b"VP8X", 4) != 0:
        return corrupt(o, WEBP_FIRST_CHUNK, le32(kind), 0, 0)
    if fetch(s, 16, 4, b, o) < 0:
        return -1
    size = le32(b)
    if size > WEBP_MAX_CHUNK or size < 10:
        return corrupt(o, WEBP_VP8X, size, 0, 0)
    padded = <int64_t>size + (size & 1)
    if padded > riff_end - 20:
        return corrupt(o, WEBP_CHUNK_SIZE, 12, size, 0)
    if fetch(s, 20, 10, b, o) < 0:
        return -1
    flags = b[0]
    width, height = <int64_t>le24(b + 4) + 1, <int64_t>le24(b + 7) + 1
    if width * height >= WEBP_MAX_AREA:
        return corrupt(o, WEBP_AREA, width, height, 0)
    animation = (flags & 0x02) != 0
    partial(o, width, height, False, animation)
    if not s.complete and not animation:
        return found(o, width, height, False, False)  # a prefix: sized, and still
    pos = 20 + padded
    if riff_end - pos < 8:
        return corrupt(o, WEBP_LEFTOVER, pos, riff_end - pos, 0)
    while True:
        at = pos
        if webp_chunk(s, pos, riff_end, kind, &size, &padded, o) < 0:
            return -1
        if memcmp(kind, b"VP8X", 4) == 0:
            return corrupt(o, WEBP_ORDER, pos, SECOND_VP8X, 0)
        if (memcmp(kind, b"ALPH", 4) == 0 or memcmp(kind, b"VP8 ", 4) == 0
                or memcmp(kind, b"VP8L", 4) == 0):
            if anim_seen or animation:
                return corrupt(o, WEBP_ORDER, pos, STILL_IN_ANIMATION, 0)
            if frames:
                return corrupt(o, WEBP_ORDER, pos, SECOND_IMAGE, 0)
            new_frame(&frame)
            pos = webp_frame(s, pos, riff_end, &frame, o)
            if pos < 0:
                return -1
            frame.alpha_kept = (flags & 0x10) != 0  # without the alpha flag libwebp drops ALPH
            frames, last = 1, frame
            if not problem:
                problem = webp_frame_problem(&frame, animation, width, height,
                                             &problem_code, &problem_a, &problem_b)
            if pos == riff_end:
                break
            continue
        if memcmp(kind, b"ANIM", 4) == 0:
            if padded < 6:
                return corrupt(o, WEBP_ANIM, pos, le32(kind), size)
            if need(s, pos + 8 + padded, o) < 0:
                return -1
            anim_seen = True
        elif memcmp(kind, b"ANMF", 4) == 0:
            if not anim_seen:
                return corrupt(o, WEBP_ORDER, pos, ANMF_BEFORE_ANIM, 0)
            if padded < 16:
                return corrupt(o, WEBP_ANIM, pos, le32(kind), size)
            if fetch(s, pos + 8, 16, b, o) < 0:
                return -1
            new_frame(&frame)
            frame.x, frame.y = 2 * <int64_t>le24(b), 2 * <int64_t>le24(b + 3)
            frame.width, frame.height = <int64_t>le24(b + 6) + 1, <int64_t>le24(b + 9) + 1
            if frame.width * frame.height >= WEBP_MAX_AREA:
                return corrupt(o, WEBP_AREA, frame.width, frame.height, 0)
            pos = webp_frame(s, pos + 24, riff_end, &frame, o)
            if pos < 0:
                return -1
            if animation and frame.touched:
                if frames and last.image_at < 0:  # the last frame had no image
                    return corrupt(o, WEBP_ORDER, last.alpha_at, ALPH_ONLY, 0)
                frames += 1
                last = frame
                if not problem:
                    problem = webp_frame_problem(&frame, animation, width, height,
                                                 &problem_code, &problem_a, &problem_b)
                if not s.complete and frames == 2:
                    return found(o, width, height, True, False)  # a prefix: animated
            if pos == riff_end:
                break
            continue
        elif need(s, pos + 8 + padded, o) < 0:  # any other chunk: whole
            return -1
        pos = at + 8 + padded
        after = webp_after_chunk(pos, riff_end, o)
        if after < 0:
            return -1
        if after:
            break
    if flags & ~0x3E:
        return corrupt(o, WEBP_FLAGS, flags, 0, 0)
    if not frames:
        return corrupt(o, WEBP_NO_FRAME, 0, 0, 0)
    if problem:
        return corrupt(o, problem_code, problem_a, problem_b, 0)
    return found(o, width, height, frames > 1, False)


cdef int parse(const Source* s, Outcome* o) noexcept nogil:
    o.partial = False
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


# Sides as int objects, made once at import, as CPython keeps its small ints: a distinct
# image then costs two fewer allocations and frees (measured with callgrind: ~90-180
# instructions of ~1,300 a call). Bounded: the sides below SIDE_INTS (8,192 ints, ~260 KB,
# ~0.4 ms at import); a larger side is made per call. The table is filled before the module
# is importable and never changes after, so threads read it without a lock.
cdef enum:
    SIDE_INTS = 8192

cdef PyObject* SIDES[SIDE_INTS]
cdef list SIDES_KEPT = list(range(SIDE_INTS))  # owns the ints SIDES points to
for _i in range(SIDE_INTS):
    SIDES[_i] = <PyObject*>SIDES_KEPT[_i]


cdef inline object side_int(int64_t value):
    if 0 <= value < SIDE_INTS:
        return <object>SIDES[value]
    return value


cdef object new_image_info(int64_t width, int64_t height, Format format, bint animated,
                           bint undecided=False):
    # ImageInfo(...) runs the NamedTuple's Python-level __new__ (~250 ns); filling the tuple
    # subclass directly is what a C extension would do, and gives the identical object.
    cdef PyObject* raw = PyType_GenericAlloc(IMAGE_INFO, 5)  # a heap type's tp_alloc
    if raw == NULL:
        raise MemoryError()
    info = <object>raw  # takes a second reference ...
    Py_DECREF(info)     # ... so drop the one tp_alloc returned
    set_fields(info, width, height, format, animated)
    cdef object open_question = undecided
    Py_INCREF(open_question)
    PyTuple_SET_ITEM(info, 4, open_question)
    return info


cdef inline void set_fields(object info, int64_t width, int64_t height, Format format,
                            bint animated):
    # ImageInfo's first four items, written over whatever the slots hold (a fresh tuple's
    # NULLs; refill keeps the old items and lets them go after)
    cdef object w = side_int(width), h = side_int(height), flag = animated
    cdef object name = <object>PyTuple_GET_ITEM(FORMAT_NAMES, format)
    Py_INCREF(w)  # PyTuple_SET_ITEM steals a reference: give it one
    PyTuple_SET_ITEM(info, 0, w)
    Py_INCREF(h)
    PyTuple_SET_ITEM(info, 1, h)
    Py_INCREF(name)
    PyTuple_SET_ITEM(info, 2, name)
    Py_INCREF(flag)
    PyTuple_SET_ITEM(info, 3, flag)


# Recent results, direct-mapped. Allocating and freeing the result was half of a call, and
# a gateway sees the same few sizes (screenshots, phone photos) over and over; ImageInfo is
# immutable, so handing out the same object again is safe. A new size refills the slot's
# result in place when only the slot holds it. Bounded: one entry per slot.
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

cdef extern from *:
    """
    /* Refilling a cached result in place relies on a reference count of one meaning that
     * nobody else holds it; without the GIL another thread's references are counted apart
     * (biased reference counting), so free-threaded builds always allocate. */
    #ifdef Py_GIL_DISABLED
    #define VT_REUSE_SOLE_RESULT 0
    #else
    #define VT_REUSE_SOLE_RESULT 1
    #endif
    """
    const bint REUSE_SOLE_RESULT "VT_REUSE_SOLE_RESULT"
    # the count read from the pointer (taking it as an object would add a reference)
    Py_ssize_t references "Py_REFCNT" (PyObject*)

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
        elif REUSE_SOLE_RESULT and slot.info != NULL and references(slot.info) == 1:
            # The slot holds the only reference to a result nobody kept: refilled in place
            # (as CPython's zip and enumerate reuse their result tuple), so a new size costs
            # no allocation and no free. Nothing else can see it change: a caller that kept
            # it would hold a second reference.
            info = <object>slot.info
            refill(info, width, height, format, animated)
            slot.width, slot.height, slot.format, slot.animated = width, height, format, animated
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


cdef inline void refill(object info, int64_t width, int64_t height, Format format,
                        bint animated):
    # A cached result's items replaced; every item is an int, a str or a bool that outlives
    # the module (SIDES, FORMAT_NAMES, True, False) or an int the tuple alone holds.
    cdef PyObject* items[4]
    cdef Py_ssize_t i
    for i in range(4):
        items[i] = PyTuple_GET_ITEM(info, i)
    set_fields(info, width, height, format, animated)
    for i in range(4):  # the old items let go last: a side above SIDE_INTS may be freed here
        Py_DECREF(<object>items[i])


cdef object outcome(const Source* s, Outcome* o, Py_ssize_t text_start):
    if o.kind == FOUND:
        if o.undecided:  # (rare: not worth a slot in the cache of recent results)
            return new_image_info(o.width, o.height, o.format, o.animated, True)
        return image_info_of(o.width, o.height, o.format, o.animated)
    if o.kind == TRUNCATED:
        info = None
        if o.partial and not s.complete:
            info = new_image_info(o.p_width, o.p_height, o.format, o.p_animated, o.p_undecided)
        raise err.truncated_error(FORMAT_NAMES[o.format], s.size, o.needed, info)
    if o.kind == CORRUPT:
        builder, count = BUILDERS[o.code]
        raise builder(*(o.a, o.b, o.c)[:count])
    if o.kind == BAD_BASE64:
        raise err.base64_char_error(text_start + o.a)
    # Unsupported: name it from its first bytes (which may themselves be bad base64)
    cdef Py_ssize_t n = s.size if s.size < SNIFF_BYTES else SNIFF_BYTES
    head = PyBytes_FromStringAndSize(NULL, n)
    if fetch(s, 0, n, <uint8_t*>PyBytes_AS_STRING(head), o) < 0:
        raise err.base64_char_error(text_start + o.a)
    raise err.unsupported_error(head)


cdef object parse_bytes_at(const uint8_t* data, Py_ssize_t size, bint complete):
    cdef Source s
    cdef Outcome o
    s.data, s.size, s.text_len, s.base64, s.complete = data, size, 0, False, complete
    s.fill = NULL
    s.decode = &DECODE[0]  # (not read: the bytes are not base64)
    o.format = UNKNOWN
    parse(&s, &o)
    return outcome(&s, &o, 0)


cdef object parse_bytearray(object data, bint whole):
    # Read through a buffer export held for the whole parse: another thread cannot resize the
    # bytearray under us (without the GIL it could run meanwhile; a resize would raise).
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return parse_bytes_at(<const uint8_t*>view.buf, view.len, whole)
    finally:
        PyBuffer_Release(&view)


def decoded_size(length, text_tail):
    """Bytes a canonical base64 payload of ``length`` (an int >= 0) characters decodes to;
    ``text_tail`` is its last two characters, a str or bytes. Padding ("=") counts only at the
    very end."""
    # spec 5: the request walk adds this up for every data URL; _image_input.decoded_size is
    # the rule as written, and this its compiled twin (a differential test holds them).
    cdef Py_ssize_t n = length
    if n % 4:
        return n // 4 * 3 + n % 4 - 1
    cdef Py_ssize_t pad = 0
    if n and _is_pad(text_tail, -1):
        pad = 2 if _is_pad(text_tail, -2) else 1
    return n // 4 * 3 - pad


cdef bint _is_pad(object tail, Py_ssize_t i) except -1:
    cdef Py_ssize_t k = len(tail) + i
    if k < 0:
        return False
    if type(tail) is str:
        return tail[k] == "="
    return tail[k] == 61


def parse_buffer(data, complete=True):
    """The header of an image in memory (bytes, bytearray, memoryview). With ``complete=False``
    ``data`` is the start of a longer file (see ``_header_py.py``)."""
    cdef bint whole = bool(complete)
    if type(data) is bytes:
        return parse_bytes_at(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                              whole)
    if type(data) is bytearray:
        return parse_bytearray(data, whole)
    data = fmt.byte_view(data)  # any memoryview as a flat run of bytes, or a typed error
    if type(data) is bytes:
        return parse_buffer(data, whole)
    cdef const uint8_t[::1] view = data
    if view.shape[0] == 0:
        return parse_bytes_at(<const uint8_t*>b"", 0, whole)
    return parse_bytes_at(&view[0], view.shape[0], whole)


cdef object parse_data_url_at(const uint8_t* text, Py_ssize_t length, object url,
                              const vt_fill* fill=NULL):
    cdef const uint8_t* comma = <const uint8_t*>memchr(
        text, b","[0], length if length < MAX_HEADER else MAX_HEADER)
    if comma == NULL:
        raise err.no_comma_error(MAX_HEADER)
    cdef Py_ssize_t start = comma - text + 1
    if not header_ok(text + 5, start - 6):
        header = url[5:start - 1]
        raise err.data_url_header_error(
            header if type(header) is str else bytes(header).decode("latin-1"))
    return parse_base64_at(text, length, start, 0, False, fill)


cdef object parse_base64_at(const uint8_t* text, Py_ssize_t length, Py_ssize_t start,
                            Py_ssize_t shift, bint url_safe=False, const vt_fill* fill=NULL):
    # the base64 payload text[start:length], decoded only as far as the header needs; an
    # error names character positions counted from text, plus shift; url_safe: "-" and "_"
    # read as "+" and "/"
    cdef Source s
    cdef Outcome o
    cdef Py_ssize_t payload = length - start
    if payload % 4 == 1:
        raise err.base64_length_error(payload)
    s.data, s.text_len, s.base64, s.complete = text + start, payload, True, True
    s.fill = fill  # (the caller has the last two characters copied in: the padding read here)
    s.decode = &DECODE_URL_SAFE_TOO[0] if url_safe else &DECODE[0]
    s.size = payload // 4 * 3 + (payload % 4 - 1 if payload % 4 else 0)
    if payload % 4 == 0 and payload and text[length - 1] == b"="[0]:
        s.size -= 2 if text[length - 2] == b"="[0] else 1
    o.format = UNKNOWN
    parse(&s, &o)
    return outcome(&s, &o, start + shift)


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
            raise err.non_ascii_error()
        # an ASCII str is stored one byte per character: read it in place, no copy
        return parse_data_url_at(<const uint8_t*>PyUnicode_DATA(url), PyUnicode_GET_LENGTH(url), url)
    if type(url) is bytes:
        return parse_data_url_at(<const uint8_t*>PyBytes_AS_STRING(url), PyBytes_GET_SIZE(url), url)
    if isinstance(url, str):
        return parse_data_url(str(url))
    return parse_data_url(bytes(fmt.byte_view(url)))


cdef bint all_ascii(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint8_t seen = 0
    cdef Py_ssize_t i
    for i in range(n):  # no early exit: the compiler vectorises it (a 6 MB URL in ~0.4 ms)
        seen |= p[i]
    return seen < 0x80


cdef const vt_fill* fill_hook(object fill) except? NULL:
    """The hook in ``fill`` (a capsule from the compiled scan), or NULL for None."""
    if fill is None:
        return NULL
    try:
        return <const vt_fill*>PyCapsule_GetPointer(fill, VT_FILL_CAPSULE)
    except ValueError:
        raise err.ArgumentTypeError(f"fill must be a BodyString's fill hook or None, got "
                                    f"{type(fill).__name__}") from None


def data_url_info(text, *, ascii=False, fill=None):
    """The header of a data URL given as its bytes (bytes, bytearray, memoryview: a window on
    a request body, say), read in place: the same result and errors as image_info on the
    equal str. The caller has checked the "data:" scheme; ``ascii=True`` says it knows every
    byte is ASCII (the request scan knows it of each string), which skips that check.
    ``fill``: the hook that comes with a window on a compiled BodyBuffer whose blocks are
    copied in as they are read (``BodyString.header_view``), or None."""
    cdef const vt_fill* hook = fill_hook(fill)
    cdef Py_buffer view
    if type(text) is not bytes and type(text) is not bytearray:
        text = fmt.byte_view(text)  # a flat memoryview (or a copy of a strided one), or a typed error
    PyObject_GetBuffer(text, &view, PyBUF_SIMPLE)  # held: a bytearray cannot move meanwhile
    try:
        if not ascii and not all_ascii(<const uint8_t*>view.buf, view.len):
            raise err.non_ascii_error()  # as for a str holding a non-ASCII character
        return parse_data_url_at(<const uint8_t*>view.buf, view.len, text, hook)
    finally:
        PyBuffer_Release(&view)


cdef check_media_type(media_type):
    if type(media_type) is not str or not fmt.data_url_header_ok(media_type + ";base64"):
        raise err.data_url_header_error(f"{media_type};base64" if isinstance(media_type, str)
                                        else type(media_type).__name__)


def base64_info(text, media_type, *, ascii=False, shift=0, url_safe=False, fill=None):
    """The header of raw base64 given as its bytes (a window on a request body), read in
    place: the same result and errors as parse_base64 on the equal str, except that the
    character positions an error names are ``shift`` more (a Chat Completions URL holding
    the base64 alone reads as the data URL "data:image/*;base64," + it: its errors count
    from that URL's start). ``ascii=True`` and ``fill``: as for data_url_info. ``url_safe``:
    as for parse_base64."""
    cdef const vt_fill* hook = fill_hook(fill)
    check_media_type(media_type)
    cdef Py_ssize_t by = shift
    cdef Py_buffer view
    if type(text) is not bytes and type(text) is not bytearray:
        text = fmt.byte_view(text)  # a flat memoryview (or a copy of a strided one), or a typed error
    PyObject_GetBuffer(text, &view, PyBUF_SIMPLE)  # held: a bytearray cannot move meanwhile
    try:
        if not ascii and not all_ascii(<const uint8_t*>view.buf, view.len):
            raise err.non_ascii_error()  # as for a str holding a non-ASCII character
        return parse_base64_at(<const uint8_t*>view.buf, view.len, 0, by, bool(url_safe), hook)
    finally:
        PyBuffer_Release(&view)


def parse_base64(text, media_type, *, url_safe=False):
    """The header of an image sent as raw base64 with its media type (an Anthropic base64
    source, a Gemini inlineData blob), read in place as a data URL's payload is: no copy
    into a "data:" string. ``media_type`` is checked as a data URL's header would be; the
    format comes from the bytes. ``url_safe=True`` (Gemini) also reads the URL-safe
    alphabet: "-" and "_" as "+" and "/", wherever they are."""
    check_media_type(media_type)
    cdef bint either = bool(url_safe)
    if type(text) is str:
        if not PyUnicode_IS_ASCII(text):
            raise err.non_ascii_error()
        return parse_base64_at(<const uint8_t*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                               0, 0, either)
    if type(text) is bytes:
        return parse_base64_at(<const uint8_t*>PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text),
                               0, 0, either)
    if isinstance(text, str):
        return parse_base64(str(text), media_type, url_safe=either)
    return parse_base64(bytes(fmt.byte_view(text)), media_type, url_safe=either)


cdef inline bint data_scheme(const uint8_t* data, Py_ssize_t size) noexcept nogil:
    # "data:" in any case: URL schemes are case-insensitive (RFC 3986 3.1), as in
    # count_request and the pure twin. (c | 0x20) is lower case for a letter, and only 'D'
    # and 'd' give 'd', and so on.
    return (size >= 5 and (data[0] | 0x20) == 0x64 and (data[1] | 0x20) == 0x61
            and (data[2] | 0x20) == 0x74 and (data[3] | 0x20) == 0x61 and data[4] == 0x3A)


def image_info(source, *, max_read=fmt.DEFAULT_MAX_READ):
    """See :func:`visiontokens.image_info`."""
    cdef const uint8_t* data
    cdef Py_ssize_t size
    if type(max_read) is not int or max_read < 1:  # checked for every source, as the twin does
        fmt.check_max_read(max_read)
    if type(source) is bytes:  # the hot paths first, with no Python-level call
        data, size = <const uint8_t*>PyBytes_AS_STRING(source), PyBytes_GET_SIZE(source)
        if data_scheme(data, size):
            return parse_data_url_at(data, size, source)
        return parse_bytes_at(data, size, True)
    if type(source) is str and PyUnicode_IS_ASCII(source):
        data, size = <const uint8_t*>PyUnicode_DATA(source), PyUnicode_GET_LENGTH(source)
        if data_scheme(data, size):
            return parse_data_url_at(data, size, source)
    elif type(source) is bytearray:  # (a data URL in a bytearray takes the long way)
        if not data_scheme(<const uint8_t*>PyByteArray_AS_STRING(source),
                           PyByteArray_GET_SIZE(source)):
            return parse_bytearray(source, True)
    return fmt.info_from_any(source, parse_buffer, parse_data_url, max_read)  # the rest
