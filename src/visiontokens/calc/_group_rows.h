/* Rows dealt by code, for the per-row-model batch loop of _batch_c.pyx (run_sorted).
 *
 * vt_deal(codes, m, k, buckets, stride, sizes): for each code c in [0, k), the row numbers
 * j in [0, m) with codes[j] == c, in order, at buckets + c * stride; sizes[c] their count.
 * Every code is in [0, k) (the caller checks), m <= 65536 (row numbers are 16 bits) and
 * stride >= m + VT_DEAL_SLACK: a wide step stores a whole vector past the last row it keeps.
 *
 * Two ways, the same answer:
 * - one pass, a row at a time, each row number stored where its code's bucket ends: ~3.5
 *   cycles a row (a load and a store of the bucket's end per row);
 * - with AVX-512 VBMI2 (Intel since Ice Lake, AMD since Zen 4), one pass per code over the
 *   block, 32 rows a step: the codes compared, the row numbers of the equal ones compressed
 *   into a vector and stored. k passes of about 3 cycles per 32 rows: for the ten models of a
 *   typical log, under a cycle a row (measured: 0.5-0.6 ns a row less than the one pass for
 *   4 and 10 pairs, level at 16 and 20). Asked once at import (the build's flags stay
 *   portable), and taken for k <= VT_DEAL_WIDE_MAX.
 */
#ifndef VT_GROUP_ROWS_H
#define VT_GROUP_ROWS_H

#include <stdint.h>

#define VT_DEAL_SLACK 32
#define VT_DEAL_WIDE_MAX 12

static void vt_deal_rows(const int32_t *codes, int64_t m, int64_t k, uint16_t *buckets,
                         int64_t stride, int64_t *sizes)
{
    int64_t c, j = 0;
    uint16_t *put[64];  /* k <= 64 (GROUP_MAX in _batch_c.pyx) */
    uint16_t *b;
    int32_t code;
    for (c = 0; c < k; c++)
        put[c] = buckets + c * stride;
    /* Four rows a step: the loop's own count and test are a third of a one-row step. */
    for (; j + 4 <= m; j += 4) {
        code = codes[j];     b = put[code]; b[0] = (uint16_t)j;       put[code] = b + 1;
        code = codes[j + 1]; b = put[code]; b[0] = (uint16_t)(j + 1); put[code] = b + 1;
        code = codes[j + 2]; b = put[code]; b[0] = (uint16_t)(j + 2); put[code] = b + 1;
        code = codes[j + 3]; b = put[code]; b[0] = (uint16_t)(j + 3); put[code] = b + 1;
    }
    for (; j < m; j++) {
        code = codes[j]; b = put[code]; b[0] = (uint16_t)j; put[code] = b + 1;
    }
    for (c = 0; c < k; c++)
        sizes[c] = put[c] - (buckets + c * stride);
}

/* (GCC 8 and Clang 6 were the first to know VBMI2; MSVC and other targets: the one pass) */
#if (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)) && defined(__x86_64__)
#include <immintrin.h>
#define VT_DEAL_HAS_WIDE 1

static int vt_deal_wide = 0; /* whether to use the AVX-512 passes: set once, at import */

static void vt_deal_init(void) {
    __builtin_cpu_init();
    vt_deal_wide = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                   && __builtin_cpu_supports("avx512vbmi2");
}

/* Whether the AVX-512 passes are on (the tests turn them off to test the one-pass loop);
 * turning them on where the processor lacks them is refused. */
static int vt_deal_set_wide(int on) {
    vt_deal_init();
    if (!on)
        vt_deal_wide = 0;
    return vt_deal_wide;
}

__attribute__((target("avx512f,avx512bw,avx512vbmi2")))
static void vt_deal_passes(const int32_t *codes, int64_t m, int64_t k, uint16_t *buckets,
                           int64_t stride, int64_t *sizes)
{
    /* the row numbers j .. j + 31 as 16-bit lanes */
    const __m512i first = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
                                           19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                           5, 4, 3, 2, 1, 0);
    const __m512i step = _mm512_set1_epi16(32);
    int64_t c, j, n;
    for (c = 0; c < k; c++) {
        const __m512i want = _mm512_set1_epi32((int32_t)c);
        __m512i rows = first;
        uint16_t *out = buckets + c * stride;
        n = 0;
        for (j = 0; j + 32 <= m; j += 32) {
            __mmask16 lo = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(codes + j), want);
            __mmask16 hi = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512(codes + j + 16), want);
            __mmask32 equal = (__mmask32)lo | ((__mmask32)hi << 16);
            /* a whole vector stored: the lanes past the kept ones land in the slack, and the
             * next step (or the next code's pass, which starts past the slack) overwrites */
            _mm512_storeu_si512(out + n, _mm512_maskz_compress_epi16(equal, rows));
            n += __builtin_popcount(equal);
            rows = _mm512_add_epi16(rows, step);
        }
        for (; j < m; j++) {
            out[n] = (uint16_t)j;
            n += codes[j] == c;
        }
        sizes[c] = n;
    }
}

#else
static void vt_deal_init(void) {}
static int vt_deal_set_wide(int on) { (void)on; return 0; }
#endif

static void vt_deal(const int32_t *codes, int64_t m, int64_t k, uint16_t *buckets,
                    int64_t stride, int64_t *sizes)
{
#ifdef VT_DEAL_HAS_WIDE
    if (vt_deal_wide && k <= VT_DEAL_WIDE_MAX) {
        vt_deal_passes(codes, m, k, buckets, stride, sizes);
        return;
    }
#endif
    vt_deal_rows(codes, m, k, buckets, stride, sizes);
}

#endif
