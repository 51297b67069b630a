/* The string scanner's inner loop (_scan_c.pyx): skip the plain bytes of a JSON string.
 *
 * vt_string_stop(p, end) is the first byte in [p, end) that is '"', '\\', below 0x20 or
 * at or above 0x80, or end. A base64 data URL is one long run of plain bytes, so this loop is
 * where a large body's time goes: with SSE2 (every x86-64) it tests 32 bytes a step, else 8
 * at a time by SWAR. Every load is of bytes inside [p, end): the loops run only while at
 * least 64 (32, 8) bytes remain, and the tail is read byte by byte.
 *
 * With GCC or Clang on x86, a string still plain after its first 32 bytes goes on with AVX2,
 * 64 bytes a step, when the processor has it (asked once, by vt_scan_init at import: the
 * build's flags stay portable). The SSE2 loop ran at 16 GB/s whether the bytes were in L1 or
 * in memory: bound by its instructions, not by the memory, so the wider loop reads faster.
 *
 * vt_block_kind(src, n) says, with the same loop, whether a block's bytes could be a plain
 * block (below); vt_copy_plain(dst, src, n) copies them into a BodyBuffer and says the same.
 */
#ifndef VT_SCAN_STOP_H
#define VT_SCAN_STOP_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define VT_SSE2 1
#endif

#if defined(VT_SSE2) && (defined(__GNUC__) || defined(__clang__)) \
    && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define VT_WIDE 1

static int vt_wide = 0; /* whether to use the AVX2 loop: set once, at import */

static void vt_scan_init(void) {
    __builtin_cpu_init();
    vt_wide = __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* Whether the AVX2 loop is on (the tests turn it off to test the SSE2 loop alone); turning it
 * on where the processor lacks AVX2 is refused. */
static int vt_scan_set_wide(int on) {
    vt_scan_init();
    if (!on)
        vt_wide = 0;
    return vt_wide;
}

/* The AVX2 loop: the first byte of the first 64-byte block at p holding a stop byte (the
 * SSE2 loop finds which), or p where fewer than 64 bytes remain. */
__attribute__((target("avx2"))) static const uint8_t* vt_string_stop_wide(const uint8_t* p,
                                                                          const uint8_t* end) {
    const __m256i quote = _mm256_set1_epi8('"');
    const __m256i slash = _mm256_set1_epi8('\\');
    const __m256i space = _mm256_set1_epi8(0x20);
    while (end - p >= 64) {
        __m256i a = _mm256_loadu_si256((const __m256i*)p);
        __m256i b = _mm256_loadu_si256((const __m256i*)(p + 32));
        /* signed compare, as below: a byte >= 0x80 is negative, so below 0x20 */
        __m256i ma = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(a, quote),
                                                     _mm256_cmpeq_epi8(a, slash)),
                                     _mm256_cmpgt_epi8(space, a));
        __m256i mb = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(b, quote),
                                                     _mm256_cmpeq_epi8(b, slash)),
                                     _mm256_cmpgt_epi8(space, b));
        if (_mm256_movemask_epi8(_mm256_or_si256(ma, mb)))
            break;
        p += 64;
    }
    return p;
}
#else
static void vt_scan_init(void) {}
static int vt_scan_set_wide(int on) { (void)on; return 0; }
#endif

static inline const uint8_t* vt_string_stop(const uint8_t* p, const uint8_t* end) {
#ifdef VT_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i slash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
#ifdef VT_WIDE
    int first = 1; /* most strings (keys, roles, short text) end in their first 32 bytes */
#endif
    /* signed compare: a byte >= 0x80 is negative, so "< 0x20" catches it with the controls */
    while (end - p >= 32) {
        __m128i a = _mm_loadu_si128((const __m128i*)p);
        __m128i b = _mm_loadu_si128((const __m128i*)(p + 16));
        __m128i ma = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, slash)),
                                  _mm_cmplt_epi8(a, space));
        __m128i mb = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, slash)),
                                  _mm_cmplt_epi8(b, space));
        if (_mm_movemask_epi8(_mm_or_si128(ma, mb)))
            break; /* the stop lies in these 32 bytes: found below */
        p += 32;
#ifdef VT_WIDE
        if (first && vt_wide) { /* a long string: on 64 bytes a step, once */
            p = vt_string_stop_wide(p, end);
            first = 0;
        }
#endif
    }
#else
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t x, q, s;
        memcpy(&x, p, 8);
        q = x ^ (ones * '"');
        s = x ^ (ones * '\\');
        if (((x | ((q - ones) & ~q) | ((s - ones) & ~s) | (x - ones * 0x20)) & highs) != 0)
            break; /* a high bit, a quote, a backslash, or a byte below 0x20 in these 8 */
        p += 8;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80)
        p++;
    return p;
}

/* Whether [p, end) holds a capital letter other than E: a byte that, in valid JSON, stands
 * only inside a string (E may be an exponent). Found in the first bytes of base64. */
static inline int vt_has_string_only_byte(const uint8_t* p, const uint8_t* end) {
    while (end - p >= 64) {
        int any = 0;
        for (int i = 0; i < 64; i++) /* (no early exit inside: the compiler vectorises it) */
            any |= (uint8_t)(p[i] - 'A') < 26 && p[i] != 'E';
        if (any)
            return 1;
        p += 64;
    }
    for (; p < end; p++)
        if ((uint8_t)(*p - 'A') < 26 && *p != 'E')
            return 1;
    return 0;
}

/* What vt_block_kind finds in a block's bytes: a block is plain when, over all of its
 * bytes, it finds VT_STRING_ONLY and never VT_STOP. */
#define VT_STOP 1        /* a byte that stops a string's plain run (vt_string_stop) */
#define VT_STRING_ONLY 2 /* no such byte, and one that stands only inside a string */
#define VT_PLAIN VT_STRING_ONLY

/* What the n bytes at src hold: VT_STOP or VT_STRING_ONLY, or 0 (neither). A scan outside a
 * string fails at a string-only byte, so it never reads past the first of a run of plain
 * blocks (see _scan_c.read_bound). A BodyBuffer tests each chunk as it arrives, still in the
 * processor's cache. */
static inline int vt_block_kind(const uint8_t* src, size_t n) {
    if (vt_string_stop(src, src + n) != src + n)
        return VT_STOP;
    return vt_has_string_only_byte(src, src + n) ? VT_STRING_ONLY : 0;
}

/* Copy n bytes from src to dst (not overlapping), and say what they hold (vt_block_kind).
 * The bytes are tested in the source and copied by memcpy: under uvicorn, 7.5 MB in
 * 0.55-0.62 ms, against 0.70-0.74 ms for an AVX2 loop that tested each 64 bytes as it stored
 * them (and slower still with stores around the cache). */
static int vt_copy_plain(uint8_t* dst, const uint8_t* src, size_t n) {
    memcpy(dst, src, n);
    return vt_block_kind(src, n);
}

/* Whether all of [p, end) is ASCII: an OR of every byte (the compiler vectorises it). */
static inline int vt_all_ascii(const uint8_t* p, const uint8_t* end) {
    uint8_t any = 0;
    while (end - p >= 64) {
        for (int i = 0; i < 64; i++)
            any |= p[i];
        if (any & 0x80)
            return 0;
        p += 64;
    }
    while (p < end)
        any |= *p++;
    return !(any & 0x80);
}

#endif
