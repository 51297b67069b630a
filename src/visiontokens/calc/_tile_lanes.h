/* The tile batch loop (spec 3.2) in 32-bit lanes, for _batch_c.pyx.
 *
 * Why C: a tile row costs ~15 64-bit multiplies and two divisions in the scalar kernel
 * (tile_cost in _kernels.pxd), ~12 ns. Restated as comparisons of exact integer products,
 * as below, it has no division and fits in 32-bit lanes, which compilers vectorise: ~7 ns
 * with baseline SSE2 and ~2 ns with AVX2. target_clones builds both and picks one when the
 * module loads, so the shipped build stays portable (nothing like -march=native).
 *
 * The rules, as tile_cost computes them (the differential tests hold both to the reference):
 *   step 1  the long side L > box fits to box; the short side S becomes
 *           floor((2*S*box + L) / (2*L)) (half up, spec 8.1 ASSUMED): call it num / den,
 *           with num = S, den = 1 when no fit is needed;
 *   step 2  a fitted short side longer than `side` becomes `side`, and the long side
 *           floor(fitted_long * side / fitted_short);
 *   step 3  tiles = ceil(short / 512) * ceil(long / 512).
 * Every "floor(a / b) > t" is "a >= b * (t + 1)", and since box <= 4 * 512 no side spans more
 * than 4 tiles: each factor is 1 plus three comparisons.
 *
 * Domain: rows whose sides are both in 1..VT_LANE_MAX_SIDE, box <= 2048, side <= 2048. Then
 * every product is below 2**31. Rows outside are left to the caller (returned as a count).
 * The input is read in its own integer dtype (int32 logs are not converted first).
 */
#ifndef VISIONTOKENS_TILE_LANES_H
#define VISIONTOKENS_TILE_LANES_H

#include <stdint.h>

#define VT_LANE_MAX_SIDE 8191
#define VT_LANE_MAX_BOX 2048

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VT_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef VT_CLONES
#define VT_CLONES
#endif

/* always_inline is GCC's and Clang's spelling; MSVC has its own, anything else gets a plain
 * inline (the loop below is where the row must be inlined to vectorise). */
#if defined(__GNUC__) || defined(__clang__)
#define VT_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define VT_ALWAYS_INLINE __forceinline
#else
#define VT_ALWAYS_INLINE inline
#endif

/* One row, from its sides minus one (so 0 and negative sides land out of range): the tokens,
 * computed on clamped values so nothing overflows; the caller counts out-of-range rows. */
static VT_ALWAYS_INLINE int64_t
vt_tile_row(uint32_t w0, uint32_t h0, int in_range, uint32_t box, uint32_t side,
            int64_t base, int64_t per_tile)
{
    uint32_t w = (in_range ? w0 : 0) + 1, h = (in_range ? h0 : 0) + 1;
    uint32_t lng = w >= h ? w : h, sht = w >= h ? h : w;
    uint32_t fit = -(uint32_t)(lng > box);  /* all ones or zero: selects without a branch */
    uint32_t num = sht ^ (((2 * sht * box + lng) ^ sht) & fit);
    uint32_t den = 1 ^ ((2 * lng ^ 1) & fit);
    uint32_t fitted_long = lng ^ ((box ^ lng) & fit);
    uint32_t shorten = -(uint32_t)(num >= den * (side + 1));
    /* short side after step 2: min(fitted short, side) */
    uint32_t short_tiles = 1 + ((side > 512) & (num >= den * 513))
                             + ((side > 1024) & (num >= den * 1025))
                             + ((side > 1536) & (num >= den * 1537));
    /* shortened long side > e  <=>  fitted_short <= floor(fitted_long * side / (e + 1)) */
    uint32_t stretched = fitted_long * side;
    uint32_t shortened_long_tiles = 1 + (num < den * (stretched / 513 + 1))
                                      + (num < den * (stretched / 1025 + 1))
                                      + (num < den * (stretched / 1537 + 1));
    uint32_t long_tiles = ((fitted_long + 511) >> 9)
                          ^ ((shortened_long_tiles ^ ((fitted_long + 511) >> 9)) & shorten);
    return base + (int64_t)(short_tiles * long_tiles) * per_tile;
}

/* vt_tile_lanes_<TYPE>(W, H, T, n, box, side, base, per_tile): writes T[i] for every row whose
 * sides are in lane range and returns how many are not (their T[i] is left unspecified for
 * the caller to overwrite). One copy per dtype the batch reads without converting (int32,
 * int64; _batch_c.pyx widens the others to int64 a block at a time). WIDE is the unsigned
 * type the range check runs in, 32 bits wide where the input fits, so an int32 column stays
 * in 32-bit lanes. Converting a negative value to WIDE wraps it
 * past the range, as does a uint64 past int64. */
#define VT_TILE_LANES(TYPE, WIDE)                                                           \
VT_CLONES static int64_t                                                                    \
vt_tile_lanes_##TYPE(const TYPE *W, const TYPE *H, int64_t *T, int64_t n,                   \
                     int64_t box, int64_t side, int64_t base, int64_t per_tile)             \
{                                                                                           \
    int64_t out_of_range = 0;                                                               \
    for (int64_t i = 0; i < n; i++) {                                                       \
        WIDE w = (WIDE)W[i] - 1, h = (WIDE)H[i] - 1;                                        \
        int in_range = (w < VT_LANE_MAX_SIDE) & (h < VT_LANE_MAX_SIDE);                     \
        out_of_range += !in_range;                                                          \
        T[i] = vt_tile_row((uint32_t)w, (uint32_t)h, in_range, (uint32_t)box,               \
                           (uint32_t)side, base, per_tile);                                 \
    }                                                                                       \
    return out_of_range;                                                                    \
}

VT_TILE_LANES(int32_t, uint32_t)
VT_TILE_LANES(int64_t, uint64_t)

#endif
