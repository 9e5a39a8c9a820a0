// C = A · Bᵀ on 8-bit integers, for the encoder's INT8-compute mode (Spec/int8-compute.md).
//
// A holds activations quantized per row (per token) and B per-row INT8 weights, both symmetric
// in [-127, 127]. Every form accumulates the exact integer sum Σ a·b in int32, so they agree
// bit for bit; the float epilogue (sum × a_scale × b_scale, + bias) is the same IEEE operations
// in the same order in every form, so the floats agree too.
//
// Three forms, chosen at run time:
//   - AVX-512 VNNI: `vpdpbusd` multiplies unsigned by signed bytes, four to a 32-bit lane.
//     Activations are stored offset by 128 (as unsigned bytes a + 128), and the offset's
//     contribution, 128 · Σ b, is kept per column at packing time and subtracted: exact.
//   - AVX2: both operands sign-extended to 16 bits, `vpmaddwd` (two products summed into each
//     32-bit lane, no saturation possible: |a·b + a'·b'| ≤ 2 · 127²) and `vpaddd`. Not
//     `vpmaddubsw`, whose 16-bit sums of u8 × s8 pairs saturate for 8-bit activations.
//   - portable: the same 16-bit layout read by plain loops.
//
// Layouts (k is padded with zeros to a multiple of 4, columns to a multiple of NR = 16):
//   16-bit ("pairs", portable and AVX2): B in panels of 16 columns; within a panel, k-pair t
//     holds b[c][2t], b[c][2t + 1] for c = 0…15 (64 bytes). A: rows of kp int16.
//   8-bit ("quads", VNNI): within a panel, k-quad t holds b[c][4t … 4t + 3] for c = 0…15
//     (64 bytes); then, after all panels, one int32 per padded column: 128 · Σ_k b[c][k].
//     A: rows of kp bytes, a + 128 (padding 128, that is zero).
//
// Blocking: MC rows of A (≤ 96 · kp · 2 bytes, in L2) against every 16-column panel of B
// (kp · 32 bytes, L1 for k = 384), an MR × 16 tile of C at a time.

#include "CWeightsSIMD.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

#define NR 16
#define MC 96

static inline size_t padded_depth(size_t k) { return (k + 3) & ~(size_t)3; }
static inline size_t panel_count(size_t n) { return (n + NR - 1) / NR; }
static inline size_t min_size(size_t x, size_t y) { return x < y ? x : y; }

// --- CPU choice -------------------------------------------------------------------------

static int detected_level(void) {
    return weights_cpu_has_avx512_vnni() ? WEIGHTS_I8GEMM_VNNI
         : weights_cpu_has_avx2() ? WEIGHTS_I8GEMM_AVX2 : WEIGHTS_I8GEMM_PORTABLE;
}

int weights_i8gemm_level(int kernel) {
    int level = detected_level();
    if (kernel == WEIGHTS_KERNEL_PORTABLE) return WEIGHTS_I8GEMM_PORTABLE;
    if (kernel == WEIGHTS_ENGINE_KERNEL_AVX2) return level > WEIGHTS_I8GEMM_AVX2 ? WEIGHTS_I8GEMM_AVX2 : level;
    return level;
}

static int checked_level(int level) {
    // A level the CPU cannot run falls back to the best it can (never to a crash).
    int best = detected_level();
    if (level < WEIGHTS_I8GEMM_PORTABLE || level > best) return best;
    return level;
}

// --- Packing the weights ----------------------------------------------------------------

size_t weights_i8gemm_packed_bytes(size_t n, size_t k, int level) {
    size_t columns = panel_count(n) * NR, kp = padded_depth(k);
    if (checked_level(level) == WEIGHTS_I8GEMM_VNNI) return columns * kp + columns * sizeof(int32_t);
    return columns * kp * sizeof(int16_t);
}

// B's value (column, i), zero past the matrix.
static inline int8_t b_value(const int8_t *row, size_t i, size_t k) { return row && i < k ? row[i] : 0; }

void weights_i8gemm_pack(const int8_t *b, size_t ldb, size_t n, size_t k, void *packed, int level) {
    size_t kp = padded_depth(k), panels = panel_count(n);
    bool quads = checked_level(level) == WEIGHTS_I8GEMM_VNNI;
    // Both layouts are panels of 32-bit units, one per (step of depth, column): a unit holds
    // two 16-bit values (pairs) or four bytes (quads), little-endian, lowest depth first.
    uint32_t *units = (uint32_t *)packed;
    size_t steps = quads ? kp / 4 : kp / 2;
    int32_t *offsets = (int32_t *)((int8_t *)packed + panels * NR * kp);
    for (size_t p = 0; p < panels; p++) {
        for (size_t c = 0; c < NR; c++) {
            size_t column = p * NR + c;
            const int8_t *row = column < n ? b + column * ldb : NULL;
            uint32_t *out = units + p * steps * NR + c;
            if (quads) {
                int32_t sum = 0;
                for (size_t t = 0; t < steps; t++) {
                    uint32_t unit = 0;
                    for (size_t e = 0; e < 4; e++) {
                        int8_t value = b_value(row, 4 * t + e, k);
                        sum += value;
                        unit |= (uint32_t)(uint8_t)value << (8 * e);
                    }
                    out[t * NR] = unit;
                }
                offsets[column] = 128 * sum;
            } else {
                for (size_t t = 0; t < steps; t++) {
                    uint16_t low = (uint16_t)(int16_t)b_value(row, 2 * t, k);
                    uint16_t high = (uint16_t)(int16_t)b_value(row, 2 * t + 1, k);
                    out[t * NR] = (uint32_t)low | (uint32_t)high << 16;
                }
            }
        }
    }
}

// --- Quantizing the activations ---------------------------------------------------------

size_t weights_i8gemm_activation_bytes(size_t m, size_t k, int level) {
    size_t kp = padded_depth(k);
    return checked_level(level) == WEIGHTS_I8GEMM_VNNI ? m * kp : m * kp * sizeof(int16_t);
}

// The scale of a row whose largest magnitude is `largest`, and the divisor its values are
// quantized with (1 for an all-zero row, whose levels are then all 0).
static inline float row_scale(float largest) { return largest / 127.0f; }
static inline float row_divisor(float scale) { return scale > 0 ? scale : 1.0f; }

// clamp(roundHalfEven(x / divisor), -127, 127); NaN gives -127 (as the AVX2 max/min do).
static inline int level_portable(float x, float divisor) {
    float level = nearbyintf(x / divisor);
    level = level >= -127.0f ? level : -127.0f;
    level = level <= 127.0f ? level : 127.0f;
    return (int)level;
}

static float largest_portable(const float *x, size_t k) {
    float largest = 0;
    for (size_t i = 0; i < k; i++) {
        float magnitude = fabsf(x[i]);
        largest = magnitude > largest ? magnitude : largest;  // NaN is skipped
    }
    return largest;
}

static void quantize_row_portable(const float *x, size_t k, void *row, float *scale, bool quads) {
    size_t kp = padded_depth(k);
    float s = row_scale(largest_portable(x, k)), divisor = row_divisor(s);
    *scale = s;
    if (quads) {
        uint8_t *out = (uint8_t *)row;
        for (size_t i = 0; i < kp; i++) out[i] = (uint8_t)((i < k ? level_portable(x[i], divisor) : 0) + 128);
    } else {
        int16_t *out = (int16_t *)row;
        for (size_t i = 0; i < kp; i++) out[i] = (int16_t)(i < k ? level_portable(x[i], divisor) : 0);
    }
}

#ifdef WEIGHTS_X86
#define AVX2_TARGET __attribute__((target("avx2,fma")))

AVX2_TARGET static float largest_avx2(const float *x, size_t k) {
    const __m256 magnitude_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 result = _mm256_setzero_ps();
    size_t i = 0;
    // max(magnitude, result) returns `result` when `magnitude` is NaN: NaN is skipped, as above.
    for (; i + 8 <= k; i += 8) result = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), magnitude_mask), result);
    float lanes[8];
    _mm256_storeu_ps(lanes, result);
    float largest = largest_portable(x + i, k - i);
    for (int lane = 0; lane < 8; lane++) largest = lanes[lane] > largest ? lanes[lane] : largest;
    return largest;
}

// Eight levels of x[0…7] as int32 lanes.
AVX2_TARGET static inline __m256i levels8_avx2(const float *x, __m256 divisor) {
    const __m256 low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
    __m256 level = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x), divisor),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    level = _mm256_min_ps(_mm256_max_ps(level, low), high);  // max(NaN, low) is low
    return _mm256_cvtps_epi32(level);
}

AVX2_TARGET static void quantize_row_avx2(const float *x, size_t k, void *row, float *scale, bool quads) {
    size_t kp = padded_depth(k);
    float s = row_scale(largest_avx2(x, k)), divisor = row_divisor(s);
    *scale = s;
    const __m256 d = _mm256_set1_ps(divisor);
    size_t i = 0;
    if (quads) {
        uint8_t *out = (uint8_t *)row;
        const __m256i offset = _mm256_set1_epi8((char)0x80);
        for (; i + 32 <= k; i += 32) {
            __m256i words = _mm256_packs_epi32(levels8_avx2(x + i, d), levels8_avx2(x + i + 8, d));
            __m256i words2 = _mm256_packs_epi32(levels8_avx2(x + i + 16, d), levels8_avx2(x + i + 24, d));
            __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words2),
                                                        _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(out + i), _mm256_xor_si256(bytes, offset));  // + 128 mod 256
        }
        for (; i < kp; i++) out[i] = (uint8_t)((i < k ? level_portable(x[i], divisor) : 0) + 128);
    } else {
        int16_t *out = (int16_t *)row;
        for (; i + 16 <= k; i += 16) {
            __m256i words = _mm256_packs_epi32(levels8_avx2(x + i, d), levels8_avx2(x + i + 8, d));
            _mm256_storeu_si256((__m256i *)(out + i), _mm256_permute4x64_epi64(words, 0xD8));
        }
        for (; i < kp; i++) out[i] = (int16_t)(i < k ? level_portable(x[i], divisor) : 0);
    }
}
#endif

void weights_i8gemm_quantize(const float *x, size_t ldx, size_t m, size_t k, void *activations, float *scales,
                             int level) {
    level = checked_level(level);
    bool quads = level == WEIGHTS_I8GEMM_VNNI;
    size_t row_bytes = quads ? padded_depth(k) : padded_depth(k) * sizeof(int16_t);
    for (size_t r = 0; r < m; r++) {
        void *row = (char *)activations + r * row_bytes;
#ifdef WEIGHTS_X86
        if (level != WEIGHTS_I8GEMM_PORTABLE) { quantize_row_avx2(x + r * ldx, k, row, scales + r, quads); continue; }
#endif
        quantize_row_portable(x + r * ldx, k, row, scales + r, quads);
    }
}

// --- The epilogue, shared by the forms: sums → C ----------------------------------------

// Where and how a tile is written.
typedef struct {
    int32_t *sums;            // integer output (NULL for float output)
    float *c;                 // float output
    size_t ldc;
    const float *a_scales;    // per row of A
    const float *b_scales;    // per column (row of B)
    const float *bias;        // per column, or NULL
} Output;

// Writes `rows` × `columns` sums of a tile (row stride NR in `tile`) at (row, column).
static void store_tile(const Output *out, const int32_t *tile, size_t row, size_t rows, size_t column,
                       size_t columns) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < columns; j++) {
            int32_t sum = tile[r * NR + j];
            if (out->sums) {
                out->sums[(row + r) * out->ldc + column + j] = sum;
            } else {
                float value = (float)sum * out->a_scales[row + r];
                value = value * out->b_scales[column + j];
                if (out->bias) value = value + out->bias[column + j];
                out->c[(row + r) * out->ldc + column + j] = value;
            }
        }
    }
}

// --- Portable ---------------------------------------------------------------------------

static void tile_portable(const int16_t *a, size_t lda, size_t rows, const int16_t *panel, size_t kp,
                          int32_t tile[]) {
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < NR; c++) {
            int32_t sum = 0;
            for (size_t t = 0; t < kp / 2; t++) {
                sum += (int32_t)a[r * lda + 2 * t] * panel[t * 2 * NR + 2 * c]
                     + (int32_t)a[r * lda + 2 * t + 1] * panel[t * 2 * NR + 2 * c + 1];
            }
            tile[r * NR + c] = sum;
        }
    }
}

#ifdef WEIGHTS_X86

// --- AVX2 -------------------------------------------------------------------------------

#define MR_AVX2 6

// An MR × 16 tile: 2·MR accumulators, 2 of B, one broadcast of A (15 of the 16 ymm).
AVX2_TARGET static inline __attribute__((always_inline)) void
tile_avx2(const int16_t *a, size_t lda, int rows, const int16_t *panel, size_t kp, const Output *out,
          size_t row, size_t column, size_t columns) {
    __m256i acc[MR_AVX2][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (size_t t = 0; t < kp / 2; t++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(panel + t * 2 * NR));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(panel + t * 2 * NR + NR));
        for (int r = 0; r < rows; r++) {
            int32_t pair;
            memcpy(&pair, a + r * lda + 2 * t, sizeof pair);
            __m256i x = _mm256_set1_epi32(pair);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
        }
    }
    if (out->sums || columns < NR) {
        int32_t tile[MR_AVX2 * NR];
        for (int r = 0; r < rows; r++) {
            _mm256_storeu_si256((__m256i *)(tile + r * NR), acc[r][0]);
            _mm256_storeu_si256((__m256i *)(tile + r * NR + 8), acc[r][1]);
        }
        store_tile(out, tile, row, (size_t)rows, column, columns);
        return;
    }
    // The same operations as store_tile: (float)sum × a_scale, × b_scale, + bias; no FMA.
    __m256 scale0 = _mm256_loadu_ps(out->b_scales + column), scale1 = _mm256_loadu_ps(out->b_scales + column + 8);
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (out->bias) { bias0 = _mm256_loadu_ps(out->bias + column); bias1 = _mm256_loadu_ps(out->bias + column + 8); }
    for (int r = 0; r < rows; r++) {
        __m256 s = _mm256_set1_ps(out->a_scales[row + r]);
        __m256 v0 = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), s), scale0);
        __m256 v1 = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), s), scale1);
        if (out->bias) { v0 = _mm256_add_ps(v0, bias0); v1 = _mm256_add_ps(v1, bias1); }
        float *target = out->c + (row + r) * out->ldc + column;
        _mm256_storeu_ps(target, v0);
        _mm256_storeu_ps(target + 8, v1);
    }
}

AVX2_TARGET static void tiles_avx2(const int16_t *a, size_t lda, size_t rows, const int16_t *panel, size_t kp,
                                   const Output *out, size_t row, size_t column, size_t columns) {
    size_t r = 0;
    for (; r + MR_AVX2 <= rows; r += MR_AVX2) tile_avx2(a + r * lda, lda, MR_AVX2, panel, kp, out, row + r, column, columns);
    switch (rows - r) {  // constant row counts, so that the accumulators stay in registers
    case 5: tile_avx2(a + r * lda, lda, 5, panel, kp, out, row + r, column, columns); break;
    case 4: tile_avx2(a + r * lda, lda, 4, panel, kp, out, row + r, column, columns); break;
    case 3: tile_avx2(a + r * lda, lda, 3, panel, kp, out, row + r, column, columns); break;
    case 2: tile_avx2(a + r * lda, lda, 2, panel, kp, out, row + r, column, columns); break;
    case 1: tile_avx2(a + r * lda, lda, 1, panel, kp, out, row + r, column, columns); break;
    default: break;
    }
}

// --- AVX-512 VNNI -----------------------------------------------------------------------

#define VNNI_TARGET __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))
#define MR_VNNI 12

// An MR × 16 tile: MR zmm accumulators, one of B, one broadcast of A.
VNNI_TARGET static inline __attribute__((always_inline)) void
tile_vnni(const uint8_t *a, size_t lda, int rows, const int8_t *panel, const int32_t *offsets, size_t kp,
          const Output *out, size_t row, size_t column, size_t columns) {
    __m512i acc[MR_VNNI];
    for (int r = 0; r < rows; r++) acc[r] = _mm512_setzero_si512();
    for (size_t t = 0; t < kp / 4; t++) {
        __m512i b = _mm512_loadu_si512((const void *)(panel + t * 4 * NR));
        for (int r = 0; r < rows; r++) {
            int32_t quad;
            memcpy(&quad, a + r * lda + 4 * t, sizeof quad);
            acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(quad), b);
        }
    }
    // Σ (a + 128)·b − 128·Σ b = Σ a·b, exactly (no lane can overflow for k ≤ 65536).
    __m512i offset = _mm512_loadu_si512((const void *)(offsets + column));
    for (int r = 0; r < rows; r++) acc[r] = _mm512_sub_epi32(acc[r], offset);
    __mmask16 mask = columns >= NR ? (__mmask16)0xFFFF : (__mmask16)((1u << columns) - 1);
    if (out->sums) {
        for (int r = 0; r < rows; r++)
            _mm512_mask_storeu_epi32(out->sums + (row + r) * out->ldc + column, mask, acc[r]);
        return;
    }
    __m512 scale = _mm512_maskz_loadu_ps(mask, out->b_scales + column);
    __m512 bias = out->bias ? _mm512_maskz_loadu_ps(mask, out->bias + column) : _mm512_setzero_ps();
    for (int r = 0; r < rows; r++) {
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[r]), _mm512_set1_ps(out->a_scales[row + r])), scale);
        if (out->bias) v = _mm512_add_ps(v, bias);
        _mm512_mask_storeu_ps(out->c + (row + r) * out->ldc + column, mask, v);
    }
}

VNNI_TARGET static void tiles_vnni(const uint8_t *a, size_t lda, size_t rows, const int8_t *panel,
                                   const int32_t *offsets, size_t kp, const Output *out, size_t row,
                                   size_t column, size_t columns) {
    size_t r = 0;
    for (; r + MR_VNNI <= rows; r += MR_VNNI)
        tile_vnni(a + r * lda, lda, MR_VNNI, panel, offsets, kp, out, row + r, column, columns);
#define VNNI_TAIL(count) \
    case count: tile_vnni(a + r * lda, lda, count, panel, offsets, kp, out, row + r, column, columns); break;
    switch (rows - r) {  // constant row counts, so that the accumulators stay in registers
    VNNI_TAIL(11) VNNI_TAIL(10) VNNI_TAIL(9) VNNI_TAIL(8) VNNI_TAIL(7) VNNI_TAIL(6)
    VNNI_TAIL(5) VNNI_TAIL(4) VNNI_TAIL(3) VNNI_TAIL(2) VNNI_TAIL(1)
    default: break;
    }
#undef VNNI_TAIL
}
#endif

// --- Driver -----------------------------------------------------------------------------

static void gemm(size_t m, size_t column_from, size_t column_count, size_t n, size_t k, const void *activations,
                 const void *packed, int level, const Output *out) {
    level = checked_level(level);
    size_t kp = padded_depth(k), panels = panel_count(n);
    if (column_from % NR != 0 || column_from > n) return;
    size_t end = min_size(n, column_from + column_count);
    for (size_t row = 0; row < m; row += MC) {
        size_t rows = min_size(MC, m - row);
        for (size_t column = column_from; column < end; column += NR) {
            size_t p = column / NR, columns = min_size(NR, end - column);
            (void)panels;
#ifdef WEIGHTS_X86
            if (level == WEIGHTS_I8GEMM_VNNI) {
                const int8_t *panel = (const int8_t *)packed + p * NR * kp;
                const int32_t *offsets = (const int32_t *)((const int8_t *)packed + panels * NR * kp);
                tiles_vnni((const uint8_t *)activations + row * kp, kp, rows, panel, offsets, kp, out, row, column,
                           columns);
                continue;
            }
            if (level == WEIGHTS_I8GEMM_AVX2) {
                tiles_avx2((const int16_t *)activations + row * kp, kp, rows, (const int16_t *)packed + p * NR * kp,
                           kp, out, row, column, columns);
                continue;
            }
#endif
            const int16_t *a = (const int16_t *)activations + row * kp;
            const int16_t *panel = (const int16_t *)packed + p * NR * kp;
            int32_t tile[NR * 8];
            for (size_t r = 0; r < rows; r += 8) {
                size_t count = min_size(8, rows - r);
                tile_portable(a + r * kp, kp, count, panel, kp, tile);
                store_tile(out, tile, row + r, count, column, columns);
            }
        }
    }
}

void weights_i8gemm_sums(size_t m, size_t column_from, size_t column_count, size_t n, size_t k,
                         const void *activations, const void *packed, int32_t *sums, size_t ldc, int level) {
    Output out = { sums, NULL, ldc, NULL, NULL, NULL };
    gemm(m, column_from, column_count, n, k, activations, packed, level, &out);
}

void weights_i8gemm(size_t m, size_t column_from, size_t column_count, size_t n, size_t k, const void *activations,
                    const float *a_scales, const void *packed, const float *b_scales, const float *bias, float *c,
                    size_t ldc, int level) {
    Output out = { NULL, c, ldc, a_scales, b_scales, bias };
    gemm(m, column_from, column_count, n, k, activations, packed, level, &out);
}
