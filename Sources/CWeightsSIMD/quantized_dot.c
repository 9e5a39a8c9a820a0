// Dot products of GGUF block-quantized weight rows with activations quantized to 8 bits, the
// decoder's matrix-vector kernel (Spec/gguf.md, "Computing with quantized weights").
//
// Weights stay in their blocks, as they lie in the mapped file. Activations are quantized once
// per vector, always per 32 values: to Q8_0 levels and scale (the scale rounded to binary16 as
// Q8_0's, held in binary32) for the 32-element weight formats, and to Q8_32 blocks (one binary32 scale and the block's scaled sum) for the K
// formats, whose 16- and 32-value sub-blocks each meet one activation block. Each
// (sub-)block's products are summed in integers and scaled once, in binary32.
//
// Every kernel has a portable C form and an AVX2 form chosen at run time; both sum the same
// integers, so they differ only in the order of the final binary32 additions. The AVX2 forms
// are one body per format over a tile of rows × tokens (quantized_tiles.h): one row and one
// token, four rows and one token (generation), two rows and four tokens (a prompt block), all
// with the same bits for each (row, token); a prompt block's tiles also come in an AVX-512
// VNNI form from the same source.

#include "CWeightsSIMD.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

// MARK: - Block layouts (bytes as they lie in the file)

enum { QK8_0 = 32, QK_K = 256 };

typedef struct { uint16_t d; int8_t qs[QK8_0]; } block_q8_0;                        // 34 bytes
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK8_0 / 2]; } block_q5_0;     // 22 bytes
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } block_q4_K;  // 144
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K;  // 210
// A Q4_K block with its sub-blocks' scales and minimums widened to binary32 (d · scale,
// dmin · min), for a prompt block's tiles.
typedef struct { float scales[8]; float mins[8]; uint8_t qs[QK_K / 2]; } block_q4_Kw;  // 192 bytes
// A Q5_0 block widened for a prompt block's tiles: its levels plus 16 (0…31) as bytes, and
// its scale in binary32.
typedef struct { float d; uint8_t qs[QK8_0]; } block_q5_0w;  // 36 bytes
// Activations for the 32-value formats: Q8_0 levels and scale, the scale rounded to binary16
// as Q8_0's is and kept as that value in binary32, so that no product converts it.
typedef struct { float d; int8_t qs[QK8_0]; } block_q8_0a;  // 36 bytes
// Activations for the K formats: 32 values, a binary32 scale, and d · Σ qs (for Q4_K's minimums).
typedef struct { float d; float sum; int8_t qs[QK8_0]; } block_q8_32;  // 40 bytes

// Activations of consecutive tokens: token t's blocks start t · stride bytes after base.
typedef struct { const uint8_t *base; size_t stride; } token_rows;

_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block");
_Static_assert(sizeof(block_q4_K) == 144, "Q4_K block");
_Static_assert(sizeof(block_q6_K) == 210, "Q6_K block");
_Static_assert(sizeof(block_q8_0a) == 36, "Q8_0 activation block");
_Static_assert(sizeof(block_q5_0w) == 36, "widened Q5_0 block");
_Static_assert(sizeof(block_q8_32) == 40, "Q8_32 block");

// MARK: - binary16

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000 | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalize
        int shift = 0;
        while ((mantissa & 0x400) == 0) { mantissa <<= 1; shift++; }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mantissa & 0x3FF) << 13);
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint16_t float_to_half(float value) {
    // Round to nearest, ties to even; the scales quantized here are finite and positive.
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint32_t sign = (bits >> 16) & 0x8000;
    int32_t exponent = (int32_t)((bits >> 23) & 0xFF) - 127 + 15;
    uint32_t mantissa = bits & 0x7FFFFF;
    if (((bits >> 23) & 0xFF) == 0xFF) return (uint16_t)(sign | 0x7C00 | (mantissa ? 0x200 : 0));
    if (exponent >= 0x1F) return (uint16_t)(sign | 0x7C00);
    if (exponent <= 0) {
        if (exponent < -10) return (uint16_t)sign;
        mantissa |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exponent);
        uint32_t half = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t midpoint = 1u << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exponent << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}

static inline int nearest_int(float value) { return (int)lrintf(value); }

// MARK: - Quantizing activations

size_t weights_quantized_activation_size(int weight_type, size_t k) {
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0:
    case WEIGHTS_GGML_Q5_0: return k / QK8_0 * sizeof(block_q8_0a);
    case WEIGHTS_GGML_Q4_K:
    case WEIGHTS_GGML_Q6_K: return k / QK8_0 * sizeof(block_q8_32);
    default: return 0;
    }
}

size_t weights_quantized_block_elements(int weight_type) {
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0:
    case WEIGHTS_GGML_Q5_0: return QK8_0;
    case WEIGHTS_GGML_Q4_K:
    case WEIGHTS_GGML_Q6_K: return QK_K;
    default: return 0;
    }
}

size_t weights_quantized_block_bytes(int weight_type) {
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0: return sizeof(block_q8_0);
    case WEIGHTS_GGML_Q5_0: return sizeof(block_q5_0);
    case WEIGHTS_GGML_Q4_K: return sizeof(block_q4_K);
    case WEIGHTS_GGML_Q6_K: return sizeof(block_q6_K);
    default: return 0;
    }
}

// Q8_0: scale = max|x| / 127, q = round(x / scale), the scale rounded to binary16.
static void quantize_q8_0_portable(const float *x, size_t k, block_q8_0a *out) {
    for (size_t b = 0; b < k / QK8_0; b++) {
        const float *v = x + b * QK8_0;
        float largest = 0;
        for (int i = 0; i < QK8_0; i++) largest = fmaxf(largest, fabsf(v[i]));
        float d = largest / 127.0f;
        float inverse = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = half_to_float(float_to_half(d));
        for (int i = 0; i < QK8_0; i++) out[b].qs[i] = (int8_t)roundf(v[i] * inverse);
    }
}

// Q8_32: as Q8_0 (scale = max|x| / 127, q = round(x / scale)), the scale kept in binary32, and
// the block's sum d · Σ q.
static void quantize_q8_32_portable(const float *x, size_t k, block_q8_32 *out) {
    for (size_t b = 0; b < k / QK8_0; b++) {
        const float *v = x + b * QK8_0;
        float largest = 0;
        for (int i = 0; i < QK8_0; i++) largest = fmaxf(largest, fabsf(v[i]));
        float d = largest / 127.0f;
        float inverse = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int i = 0; i < QK8_0; i++) {
            out[b].qs[i] = (int8_t)roundf(v[i] * inverse);
            sum += out[b].qs[i];
        }
        out[b].d = d;
        out[b].sum = d * (float)sum;
    }
}

// MARK: - Portable dot products

static float dot_q8_0_portable(size_t blocks, const block_q8_0 *w, const block_q8_0a *a) {
    float sum = 0;
    for (size_t b = 0; b < blocks; b++) {
        int products = 0;
        for (int i = 0; i < QK8_0; i++) products += w[b].qs[i] * a[b].qs[i];
        sum += half_to_float(w[b].d) * a[b].d * (float)products;
    }
    return sum;
}

// The 32 levels of a Q5_0 block, -16…15: element j takes the low nibble of qs[j] (j < 16) or
// the high nibble of qs[j - 16], and bit j of qh as its fifth bit.
static inline void unpack_q5_0(const block_q5_0 *block, int8_t levels[QK8_0]) {
    uint32_t high;
    memcpy(&high, block->qh, sizeof high);
    for (int j = 0; j < QK8_0 / 2; j++) {
        levels[j] = (int8_t)(((block->qs[j] & 0x0F) | (((high >> j) & 1) << 4)) - 16);
        levels[j + 16] = (int8_t)(((block->qs[j] >> 4) | (((high >> (j + 16)) & 1) << 4)) - 16);
    }
}

static float dot_q5_0_portable(size_t blocks, const block_q5_0 *w, const block_q8_0a *a) {
    float sum = 0;
    int8_t levels[QK8_0];
    for (size_t b = 0; b < blocks; b++) {
        unpack_q5_0(w + b, levels);
        int products = 0;
        for (int i = 0; i < QK8_0; i++) products += levels[i] * a[b].qs[i];
        sum += half_to_float(w[b].d) * a[b].d * (float)products;
    }
    return sum;
}

// The 6-bit scale and minimum of sub-block j (0…7) of a Q4_K or Q5_K block: sub-blocks 0–3
// keep theirs in the low six bits of bytes j and j + 4; 4–7 in the nibbles of bytes j + 4 and
// the top two bits of bytes j - 4 and j.
static inline void scale_and_min_k4(int j, const uint8_t *scales, uint8_t *scale, uint8_t *minimum) {
    if (j < 4) {
        *scale = scales[j] & 63;
        *minimum = scales[j + 4] & 63;
    } else {
        *scale = (uint8_t)((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4));
        *minimum = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

// Sub-block j (32 values) of a Q4_K block meets activation block j: per sub-block,
// (d · scale) · da · Σ q · aq − (dmin · min) · (da · Σ aq).
static float dot_q4_K_portable(size_t blocks, const block_q4_K *w, const block_q8_32 *a) {
    float sum = 0, minimums = 0;
    for (size_t b = 0; b < blocks; b++, a += 8) {
        float d = half_to_float(w[b].d), dmin = half_to_float(w[b].dmin);
        for (int j = 0; j < QK_K / 64; j++) {
            const uint8_t *q4 = w[b].qs + 32 * j;
            uint8_t scale0, min0, scale1, min1;
            scale_and_min_k4(2 * j, w[b].scales, &scale0, &min0);
            scale_and_min_k4(2 * j + 1, w[b].scales, &scale1, &min1);
            int low = 0, high = 0;
            for (int i = 0; i < 32; i++) {
                low += (q4[i] & 0x0F) * a[2 * j].qs[i];
                high += (q4[i] >> 4) * a[2 * j + 1].qs[i];
            }
            sum += a[2 * j].d * (d * scale0) * (float)low + a[2 * j + 1].d * (d * scale1) * (float)high;
            minimums += (dmin * min0) * a[2 * j].sum + (dmin * min1) * a[2 * j + 1].sum;
        }
    }
    return sum - minimums;
}

// The 256 levels of a Q6_K block, -32…31. Each 128 values take their low four bits from 64
// bytes of ql (low nibbles for the first 64 values, high nibbles for the next 64) and their
// top two bits from 32 bytes of qh (two bits per value, four values per byte).
static inline void unpack_q6_K(const block_q6_K *block, int8_t levels[QK_K]) {
    const uint8_t *ql = block->ql;
    const uint8_t *qh = block->qh;
    int8_t *out = levels;
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l++) {
            out[l] = (int8_t)(((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32);
            out[l + 32] = (int8_t)(((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32);
            out[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            out[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
        ql += 64;
        qh += 32;
        out += 128;
    }
}

static float dot_q6_K_portable(size_t blocks, const block_q6_K *w, const block_q8_32 *a) {
    float sum = 0;
    int8_t levels[QK_K];
    for (size_t b = 0; b < blocks; b++, a += 8) {
        unpack_q6_K(w + b, levels);
        float d = half_to_float(w[b].d);
        for (int c = 0; c < QK_K / 32; c++) {  // activation block c: 16-value groups 2c and 2c + 1
            int products[2] = {0, 0};
            for (int i = 0; i < 32; i++) products[i / 16] += levels[c * 32 + i] * a[c].qs[i];
            int scaled = w[b].scales[2 * c] * products[0] + w[b].scales[2 * c + 1] * products[1];
            sum += a[c].d * d * (float)scaled;
        }
    }
    return sum;
}

// MARK: - AVX2 dot products

#ifdef WEIGHTS_X86
#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static inline float horizontal_sum(__m256 v) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
}

// Quantizing activations: the portable loops' arithmetic (the largest magnitude, d = largest /
// 127 and its inverse in scalar binary32, each value times the inverse, rounded half away from
// zero as roundf does), eight values at a time, so the same bytes.
AVX2_TARGET static inline float largest_magnitude(const float *v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 largest = _mm256_setzero_ps();
    // max(|v|, largest) keeps `largest` where |v| is NaN, as fmaxf does.
    for (int i = 0; i < QK8_0; i += 8) largest = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(v + i)), largest);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(largest), _mm256_extractf128_ps(largest, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// round(v · inverse) half away from zero, as int32: the truncation, plus ±1 where the part cut
// off (exact: the values are below 2^23) is at least one half. NaN gives 0.
AVX2_TARGET static inline __m256i rounded(const float *v, __m256 inverse) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 x = _mm256_mul_ps(_mm256_loadu_ps(v), inverse);
    __m256 whole = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(x, whole)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 step = _mm256_and_ps(up, _mm256_or_ps(_mm256_and_ps(x, sign), _mm256_set1_ps(1.0f)));
    __m256i q = _mm256_cvttps_epi32(_mm256_add_ps(whole, step));
    return _mm256_andnot_si256(_mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)), q);
}

// A block's 32 values quantized with `inverse`, stored in order; returns Σ q.
AVX2_TARGET static inline int quantize_block_avx2(const float *v, float inverse, int8_t qs[QK8_0]) {
    __m256 scale = _mm256_set1_ps(inverse);
    __m256i q0 = rounded(v, scale), q1 = rounded(v + 8, scale), q2 = rounded(v + 16, scale), q3 = rounded(v + 24, scale);
    // int32 → int16 → int8 (all within −127…127), then undo the packs' per-lane interleave.
    __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, bytes);
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

AVX2_TARGET static void quantize_q8_0_avx2(const float *x, size_t k, block_q8_0a *out) {
    for (size_t b = 0; b < k / QK8_0; b++) {
        const float *v = x + b * QK8_0;
        float d = largest_magnitude(v) / 127.0f;
        float inverse = d != 0 ? 1.0f / d : 0.0f;
        out[b].d = half_to_float(float_to_half(d));
        (void)quantize_block_avx2(v, inverse, out[b].qs);
    }
}

AVX2_TARGET static void quantize_q8_32_avx2(const float *x, size_t k, block_q8_32 *out) {
    for (size_t b = 0; b < k / QK8_0; b++) {
        const float *v = x + b * QK8_0;
        float d = largest_magnitude(v) / 127.0f;
        float inverse = d != 0 ? 1.0f / d : 0.0f;
        int sum = quantize_block_avx2(v, inverse, out[b].qs);
        out[b].d = d;
        out[b].sum = d * (float)sum;
    }
}

// Q5_0 levels plus 16 as 32 bytes (0…31): the nibbles, with bit j of qh as bit 4 of element j.
AVX2_TARGET static inline __m256i offset_levels_q5_0(const block_q5_0 *block) {
    __m128i packed = _mm_loadu_si128((const __m128i *)block->qs);
    __m128i low = _mm_and_si128(packed, _mm_set1_epi8(0x0F));
    __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F));
    __m256i nibbles = _mm256_set_m128i(high, low);
    uint32_t bits;
    memcpy(&bits, block->qh, sizeof bits);
    // Spread bit j of `bits` to byte j: each byte gets its 32-bit word's relevant byte, then
    // the bit is tested against a per-byte mask.
    __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
    __m256i mask = _mm256_set1_epi64x((long long)0x7FBFDFEFF7FBFDFE);
    __m256i set = _mm256_cmpeq_epi8(_mm256_or_si256(spread, mask), _mm256_set1_epi8(-1));
    __m256i fifth = _mm256_and_si256(set, _mm256_set1_epi8(0x10));
    return _mm256_or_si256(nibbles, fifth);
}

// Q5_0 levels as 32 signed bytes (−16…15).
AVX2_TARGET static inline __m256i levels_q5_0(const block_q5_0 *block) {
    return _mm256_sub_epi8(offset_levels_q5_0(block), _mm256_set1_epi8(16));
}

// The scales and minimums of a Q4_K block's eight sub-blocks, in binary32.
static inline void q4_K_scales(const block_q4_K *w, float d, float dmin, float scales[8], float minimums[8]) {
    for (int j = 0; j < 8; j++) {
        uint8_t scale, minimum;
        scale_and_min_k4(j, w->scales, &scale, &minimum);
        scales[j] = d * scale;
        minimums[j] = dmin * minimum;
    }
}

// The 256 levels of a Q6_K block plus 32 (0…63), as eight runs of 32 in value order, and the
// scales of each run's two 16-value groups as 16-bit lanes (low half: the first group).
AVX2_TARGET static inline void q6_K_unpack(const block_q6_K *w, __m256i v[8], __m256i scale16[8]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i two = _mm256_set1_epi8(3);
    const uint8_t *ql = w->ql, *qh = w->qh;
    for (int half = 0; half < 2; half++, ql += 64, qh += 32) {
        __m256i low0 = _mm256_loadu_si256((const __m256i *)ql);
        __m256i low1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        __m256i top = _mm256_loadu_si256((const __m256i *)qh);
        v[4 * half] = _mm256_or_si256(_mm256_and_si256(low0, nibble), _mm256_slli_epi16(_mm256_and_si256(top, two), 4));
        v[4 * half + 1] = _mm256_or_si256(_mm256_and_si256(low1, nibble),
                                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, 2), two), 4));
        v[4 * half + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low0, 4), nibble),
                                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, 4), two), 4));
        v[4 * half + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low1, 4), nibble),
                                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(top, 6), two), 4));
    }
    for (int r = 0; r < 8; r++) {
        scale16[r] = _mm256_set_m128i(_mm_set1_epi16(w->scales[2 * r + 1]), _mm_set1_epi16(w->scales[2 * r]));
    }
}

// MARK: - Tiles of rows × tokens (AVX2, and AVX-512 VNNI where the CPU has it)

// A prompt block's tile: 2 rows × 4 tokens (8 accumulators, within AVX2's 16 registers).
enum { TILE_ROWS = 2, TILE_TOKENS = 4 };

#define TILE_TARGET AVX2_TARGET
#define TILE_NAME(name) name##_avx2
#define TILE_SUM4(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
// (v − 32) · q = v · q − 32 · q as int16 pairs (2 · 63 · 127 fits), times the scales.
#define TILE_Q6_BIAS(q) _mm256_maddubs_epi16(_mm256_set1_epi8(32), (q))
#define TILE_Q6(v, q, bias, s) _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16((v), (q)), (bias)), (s))
// u · q − 16 · q as int16 pairs (2 · 31 · 127 fits), summed in pairs to int32.
#define TILE_OFFSET_BIAS(q) _mm256_maddubs_epi16(_mm256_set1_epi8(16), (q))
#define TILE_OFFSET_SUM4(bias, u, q) \
    _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16((u), (q)), (bias)), _mm256_set1_epi16(1))
#include "quantized_tiles.h"
#undef TILE_TARGET
#undef TILE_NAME
#undef TILE_SUM4
#undef TILE_Q6_BIAS
#undef TILE_Q6
#undef TILE_OFFSET_BIAS
#undef TILE_OFFSET_SUM4

#define VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
#define TILE_TARGET VNNI_TARGET
#define TILE_NAME(name) name##_vnni
#define TILE_SUM4(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
// The bias is −Σ 32 · q per lane, the dot product's starting value: v · q − 32 · q per lane.
#define TILE_Q6_BIAS(q) _mm256_sub_epi32(_mm256_setzero_si256(), TILE_SUM4(_mm256_set1_epi8(32), (q)))
#define TILE_Q6(v, q, bias, s) _mm256_mullo_epi32(_mm256_dpbusd_epi32((bias), (v), (q)), _mm256_srai_epi32((s), 16))
// The dot product starts from −Σ 16 · q per lane.
#define TILE_OFFSET_BIAS(q) _mm256_sub_epi32(_mm256_setzero_si256(), TILE_SUM4(_mm256_set1_epi8(16), (q)))
#define TILE_OFFSET_SUM4(bias, u, q) _mm256_dpbusd_epi32((bias), (u), (q))
#define TILE_PAIRED_ELSEWHERE 1  // widened Q5_0, widened Q4_K and Q6_K: two tokens a register, below
#include "quantized_tiles.h"
#undef TILE_TARGET
#undef TILE_NAME
#undef TILE_SUM4
#undef TILE_Q6_BIAS
#undef TILE_Q6
#undef TILE_OFFSET_BIAS
#undef TILE_OFFSET_SUM4
#undef TILE_PAIRED_ELSEWHERE

// MARK: - Tiles with two tokens per register (AVX-512 VNNI)
//
// The VNNI tiles again, on 512-bit registers: the low half of each register holds one token's
// lanes, the high half the next token's, so one instruction does what the 256-bit tile does
// for two (row, token) pairs. Each half sums, scales and accumulates exactly as the 256-bit
// lanes do, in the same order, and is summed horizontally on its own: the same bits as every
// other shape (the invariant in quantized_tiles.h).

#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
#define PAIR_BODY AVX512_TARGET static inline __attribute__((always_inline))

// Tokens t and t + 1's 32 activation bytes, one per half.
PAIR_BODY __m512i pair_bytes(const int8_t *first, const int8_t *second) {
    __m512i low = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)first));
    return _mm512_inserti64x4(low, _mm256_loadu_si256((const __m256i *)second), 1);
}

// Tokens t and t + 1's scales, each across its half.
PAIR_BODY __m512 pair_scales(float first, float second) {
    return _mm512_mask_broadcastss_ps(_mm512_set1_ps(first), 0xFF00, _mm_set_ss(second));
}

// out[t · out_stride + r] for tokens t = 2p (the low half of acc[r][p]) and 2p + 1 (the high
// half), each half summed on its own as a 256-bit accumulator is, less minimums[r][t] where
// given (Q4_K's).
PAIR_BODY void pair_store(const __m512 acc[4][2], const float minimums[4][4], float *out, size_t out_stride,
                          const int R, const int P) {
    _Pragma("unroll") for (int p = 0; p < P; p++) _Pragma("unroll") for (int r = 0; r < R; r++) {
        float low = horizontal_sum(_mm512_castps512_ps256(acc[r][p]));
        float high = horizontal_sum(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][p]), 1)));
        if (minimums) {
            low -= minimums[r][2 * p];
            high -= minimums[r][2 * p + 1];
        }
        out[2 * p * out_stride + r] = low;
        out[(2 * p + 1) * out_stride + r] = high;
    }
}

// Widened Q5_0 rows (block_q5_0w) × 2P tokens: tile_q5_0w's arithmetic.
PAIR_BODY void pair_q5_0w(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                          float *out, size_t out_stride, const int R, const int P) {
    const __m512i offset = _mm512_set1_epi8(16);
    __m512 acc[4][2];
    _Pragma("unroll") for (int r = 0; r < R; r++) _Pragma("unroll") for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m512i y[2], bias[2];
        __m512 da[2];
        _Pragma("unroll") for (int p = 0; p < P; p++) {
            const block_q8_0a *first = (const block_q8_0a *)(a.base + 2 * p * a.stride) + b;
            const block_q8_0a *second = (const block_q8_0a *)(a.base + (2 * p + 1) * a.stride) + b;
            y[p] = pair_bytes(first->qs, second->qs);
            bias[p] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, y[p]));
            da[p] = pair_scales(first->d, second->d);
        }
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            const block_q5_0w *w = (const block_q5_0w *)(row + r * row_bytes) + b;
            __m512i u = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w->qs));
            __m512 dw = _mm512_set1_ps(w->d);
            _Pragma("unroll") for (int p = 0; p < P; p++) {
                __m512i sums = _mm512_dpbusd_epi32(bias[p], u, y[p]);
                acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da[p]), _mm512_cvtepi32_ps(sums), acc[r][p]);
            }
        }
    }
    pair_store(acc, NULL, out, out_stride, R, P);
}

// Q4_K rows with binary32 scales (block_q4_Kw) × 2P tokens: tile_q4_K_rows' arithmetic.
PAIR_BODY void pair_q4_Kw(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                          float *out, size_t out_stride, const int R, const int P) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    __m512 acc[4][2];
    float minimums[4][4];
    _Pragma("unroll") for (int r = 0; r < R; r++) {
        _Pragma("unroll") for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
        _Pragma("unroll") for (int t = 0; t < 2 * P; t++) minimums[r][t] = 0;
    }
    for (size_t b = 0; b < blocks; b++) {
        for (int j = 0; j < QK_K / 64; j++) {  // sub-blocks 2j (low nibbles) and 2j + 1 (high)
            __m512i low[4], high[4];
            _Pragma("unroll") for (int r = 0; r < R; r++) {
                const block_q4_Kw *w = (const block_q4_Kw *)(row + r * row_bytes) + b;
                __m512i packed = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w->qs + 32 * j)));
                low[r] = _mm512_and_si512(packed, nibble);
                high[r] = _mm512_and_si512(_mm512_srli_epi32(packed, 4), nibble);
            }
            _Pragma("unroll") for (int p = 0; p < P; p++) {
                const block_q8_32 *first = (const block_q8_32 *)(a.base + 2 * p * a.stride) + 8 * b + 2 * j;
                const block_q8_32 *second = (const block_q8_32 *)(a.base + (2 * p + 1) * a.stride) + 8 * b + 2 * j;
                __m512i y0 = pair_bytes(first[0].qs, second[0].qs), y1 = pair_bytes(first[1].qs, second[1].qs);
                __m512 d0 = pair_scales(first[0].d, second[0].d), d1 = pair_scales(first[1].d, second[1].d);
                _Pragma("unroll") for (int r = 0; r < R; r++) {
                    const block_q4_Kw *w = (const block_q4_Kw *)(row + r * row_bytes) + b;
                    __m512 scale0 = _mm512_mul_ps(d0, _mm512_set1_ps(w->scales[2 * j]));
                    __m512 scale1 = _mm512_mul_ps(d1, _mm512_set1_ps(w->scales[2 * j + 1]));
                    __m512i sums0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), low[r], y0);
                    __m512i sums1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), high[r], y1);
                    acc[r][p] = _mm512_fmadd_ps(scale0, _mm512_cvtepi32_ps(sums0), acc[r][p]);
                    acc[r][p] = _mm512_fmadd_ps(scale1, _mm512_cvtepi32_ps(sums1), acc[r][p]);
                }
            }
        }
        _Pragma("unroll") for (int r = 0; r < R; r++) _Pragma("unroll") for (int t = 0; t < 2 * P; t++) {
            const block_q4_Kw *w = (const block_q4_Kw *)(row + r * row_bytes) + b;
            const block_q8_32 *y = (const block_q8_32 *)(a.base + t * a.stride) + 8 * b;
            for (int j = 0; j < 8; j++) minimums[r][t] = fmaf(w->mins[j], y[j].sum, minimums[r][t]);
        }
    }
    pair_store(acc, minimums, out, out_stride, R, P);
}

// Q6_K rows × 2P tokens: tile_q6_K's arithmetic (the VNNI form of TILE_Q6).
PAIR_BODY void pair_q6_K(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                         float *out, size_t out_stride, const int R, const int P) {
    const __m512i offset = _mm512_set1_epi8(32);
    __m512 acc[4][2];
    _Pragma("unroll") for (int r = 0; r < R; r++) _Pragma("unroll") for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i v[4][8], scale16[4][8];
        __m512 d[4];
        _Pragma("unroll") for (int r = 0; r < R; r++) {
            const block_q6_K *w = (const block_q6_K *)(row + r * row_bytes) + b;
            q6_K_unpack(w, v[r], scale16[r]);
            d[r] = _mm512_set1_ps(_cvtsh_ss(w->d));
        }
        for (int c = 0; c < 8; c++) {
            __m512i levels[4], scales[4];
            _Pragma("unroll") for (int r = 0; r < R; r++) {
                levels[r] = _mm512_broadcast_i64x4(v[r][c]);
                scales[r] = _mm512_broadcast_i64x4(_mm256_srai_epi32(scale16[r][c], 16));
            }
            _Pragma("unroll") for (int p = 0; p < P; p++) {
                const block_q8_32 *first = (const block_q8_32 *)(a.base + 2 * p * a.stride) + 8 * b + c;
                const block_q8_32 *second = (const block_q8_32 *)(a.base + (2 * p + 1) * a.stride) + 8 * b + c;
                __m512i q = pair_bytes(first->qs, second->qs);
                __m512i bias = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, q));
                __m512 dy = pair_scales(first->d, second->d);
                _Pragma("unroll") for (int r = 0; r < R; r++) {
                    __m512i sums = _mm512_mullo_epi32(_mm512_dpbusd_epi32(bias, levels[r], q), scales[r]);
                    acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(dy, d[r]), _mm512_cvtepi32_ps(sums), acc[r][p]);
                }
            }
        }
    }
    pair_store(acc, NULL, out, out_stride, R, P);
}

#define PAIR_SHAPES(format)                                                                                  \
    AVX512_TARGET static void format##_tile_avx512(size_t blocks, const uint8_t *row, size_t row_bytes,      \
                                                   token_rows a, float *out, size_t out_stride) {            \
        pair_##format(blocks, row, row_bytes, a, out, out_stride, TILE_ROWS, TILE_TOKENS / 2);               \
    }                                                                                                        \
    AVX512_TARGET static void format##_row_avx512(size_t blocks, const uint8_t *row, size_t row_bytes,       \
                                                  token_rows a, float *out, size_t out_stride) {             \
        pair_##format(blocks, row, row_bytes, a, out, out_stride, 1, TILE_TOKENS / 2);                       \
    }
PAIR_SHAPES(q5_0w)
PAIR_SHAPES(q4_Kw)
PAIR_SHAPES(q6_K)
#undef PAIR_SHAPES
#undef PAIR_BODY

// The matrix × vector kernels (generation) are the same bodies with one token: one row, or
// four rows sharing each activation block (the 32-value formats).
#define VECTOR_SHAPES(format, block_type, activation_type)                                                 \
    AVX2_TARGET static float dot_##format##_avx2(size_t blocks, const block_type *w, const activation_type *a) { \
        float out;                                                                                         \
        token_rows token = { (const uint8_t *)a, 0 };                                                      \
        tile_##format##_avx2(blocks, (const uint8_t *)w, 0, token, &out, 0, 1, 1);                         \
        return out;                                                                                        \
    }
VECTOR_SHAPES(q8_0, block_q8_0, block_q8_0a)
VECTOR_SHAPES(q5_0, block_q5_0, block_q8_0a)
VECTOR_SHAPES(q4_K, block_q4_K, block_q8_32)
VECTOR_SHAPES(q6_K, block_q6_K, block_q8_32)
#undef VECTOR_SHAPES

// Four rows sharing one token's activation blocks (the 32-value formats), for generation; in
// the VNNI form (vpdpbusd, one instruction per block and row where AVX2 takes two) where the
// CPU has it: the same integer sums, so the same bits.
#define FOUR_ROWS(format, isa, target)                                                                          \
    target static void dot4_##format##_##isa(size_t blocks, const uint8_t *row, size_t row_bytes,               \
                                             const block_q8_0a *a, float out[4]) {                              \
        token_rows token = { (const uint8_t *)a, 0 };                                                           \
        tile_##format##_##isa(blocks, row, row_bytes, token, out, 0, 4, 1);                                     \
    }
FOUR_ROWS(q8_0, avx2, AVX2_TARGET)
FOUR_ROWS(q5_0, avx2, AVX2_TARGET)
FOUR_ROWS(q8_0, vnni, VNNI_TARGET)
FOUR_ROWS(q5_0, vnni, VNNI_TARGET)
#undef FOUR_ROWS

// Q5_0 rows widened (block_q5_0w: the levels plus 16 as bytes, the scale in binary32) for a
// prompt block, once per row group and token tile: each block is then unpacked once per 64
// tokens instead of once per four, and its tile takes the levels with no sign fix. The integer
// sums and the scales are the Q5_0 kernels', so are the results.
AVX2_TARGET static void widen_q5_0(size_t blocks, const uint8_t *rows, size_t row_bytes, size_t count, block_q5_0w *out) {
    for (size_t r = 0; r < count; r++) {
        const block_q5_0 *w = (const block_q5_0 *)(rows + r * row_bytes);
        for (size_t b = 0; b < blocks; b++, out++) {
            out->d = _cvtsh_ss(w[b].d);
            _mm256_storeu_si256((__m256i *)out->qs, offset_levels_q5_0(w + b));
        }
    }
}

// Q4_K rows with their scales and minimums widened to binary32 once per row group and token
// tile, instead of once per block and four tokens: the values q4_K_scales gives.
static void widen_q4_K(size_t blocks, const uint8_t *rows, size_t row_bytes, size_t count, block_q4_Kw *out) {
    for (size_t r = 0; r < count; r++) {
        const block_q4_K *w = (const block_q4_K *)(rows + r * row_bytes);
        for (size_t b = 0; b < blocks; b++, out++) {
            q4_K_scales(w + b, half_to_float(w[b].d), half_to_float(w[b].dmin), out->scales, out->mins);
            memcpy(out->qs, w[b].qs, sizeof out->qs);
        }
    }
}

#endif

// MARK: - Dot products with binary32 activations
//
// The weights are widened block by block in registers, exactly as a dequantizer computes them
// in binary32 (d · q for Q8_0 and Q5_0; (d · scale) · q − (dmin · min) for Q4_K; (d · scale) · q
// for Q6_K), and multiplied with the activations as they are. Slower than the integer forms,
// but the only error left is the order of the additions.

static float dot_q8_0_f32_portable(size_t blocks, const block_q8_0 *w, const float *x) {
    float sum = 0;
    for (size_t b = 0; b < blocks; b++, x += QK8_0) {
        float d = half_to_float(w[b].d);
        for (int i = 0; i < QK8_0; i++) sum += (d * (float)w[b].qs[i]) * x[i];
    }
    return sum;
}

static float dot_q5_0_f32_portable(size_t blocks, const block_q5_0 *w, const float *x) {
    float sum = 0;
    int8_t levels[QK8_0];
    for (size_t b = 0; b < blocks; b++, x += QK8_0) {
        unpack_q5_0(w + b, levels);
        float d = half_to_float(w[b].d);
        for (int i = 0; i < QK8_0; i++) sum += (d * (float)levels[i]) * x[i];
    }
    return sum;
}

static float dot_q4_K_f32_portable(size_t blocks, const block_q4_K *w, const float *x) {
    float sum = 0;
    for (size_t b = 0; b < blocks; b++) {
        float d = half_to_float(w[b].d), dmin = half_to_float(w[b].dmin);
        const uint8_t *q4 = w[b].qs;
        for (int j = 0; j < QK_K / 64; j++, q4 += 32, x += 64) {
            uint8_t scale0, min0, scale1, min1;
            scale_and_min_k4(2 * j, w[b].scales, &scale0, &min0);
            scale_and_min_k4(2 * j + 1, w[b].scales, &scale1, &min1);
            float d0 = d * scale0, m0 = dmin * min0, d1 = d * scale1, m1 = dmin * min1;
            for (int i = 0; i < 32; i++) {
                sum += (d0 * (float)(q4[i] & 0x0F) - m0) * x[i];
                sum += (d1 * (float)(q4[i] >> 4) - m1) * x[i + 32];
            }
        }
    }
    return sum;
}

static float dot_q6_K_f32_portable(size_t blocks, const block_q6_K *w, const float *x) {
    float sum = 0;
    int8_t levels[QK_K];
    for (size_t b = 0; b < blocks; b++, x += QK_K) {
        unpack_q6_K(w + b, levels);
        float d = half_to_float(w[b].d);
        for (int s = 0; s < QK_K / 16; s++) {
            float scale = d * (float)w[b].scales[s];
            for (int i = 0; i < 16; i++) sum += (scale * (float)levels[s * 16 + i]) * x[s * 16 + i];
        }
    }
    return sum;
}

#ifdef WEIGHTS_X86
// Eight levels (signed bytes) widened to binary32.
AVX2_TARGET static inline __m256 widen8(const int8_t *levels) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)levels)));
}

// Accumulates Σ (scale · level − offset) · x over 32 levels and 32 activations.
AVX2_TARGET static inline __m256 fma32(const int8_t *levels, const float *x, __m256 scale, __m256 offset, __m256 acc) {
    for (int i = 0; i < 32; i += 8) {
        __m256 weight = _mm256_fmsub_ps(scale, widen8(levels + i), offset);
        acc = _mm256_fmadd_ps(weight, _mm256_loadu_ps(x + i), acc);
    }
    return acc;
}

AVX2_TARGET static float dot_q8_0_f32_avx2(size_t blocks, const block_q8_0 *w, const float *x) {
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++, x += QK8_0) {
        acc = fma32(w[b].qs, x, _mm256_set1_ps(_cvtsh_ss(w[b].d)), _mm256_setzero_ps(), acc);
    }
    return horizontal_sum(acc);
}

AVX2_TARGET static float dot_q5_0_f32_avx2(size_t blocks, const block_q5_0 *w, const float *x) {
    __m256 acc = _mm256_setzero_ps();
    int8_t levels[QK8_0];
    for (size_t b = 0; b < blocks; b++, x += QK8_0) {
        _mm256_storeu_si256((__m256i *)levels, levels_q5_0(w + b));
        acc = fma32(levels, x, _mm256_set1_ps(_cvtsh_ss(w[b].d)), _mm256_setzero_ps(), acc);
    }
    return horizontal_sum(acc);
}

AVX2_TARGET static float dot_q4_K_f32_avx2(size_t blocks, const block_q4_K *w, const float *x) {
    __m256 acc = _mm256_setzero_ps();
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    int8_t levels[64];
    for (size_t b = 0; b < blocks; b++) {
        float d = _cvtsh_ss(w[b].d), dmin = _cvtsh_ss(w[b].dmin);
        const uint8_t *q4 = w[b].qs;
        for (int j = 0; j < QK_K / 64; j++, q4 += 32, x += 64) {
            uint8_t scale0, min0, scale1, min1;
            scale_and_min_k4(2 * j, w[b].scales, &scale0, &min0);
            scale_and_min_k4(2 * j + 1, w[b].scales, &scale1, &min1);
            __m256i packed = _mm256_loadu_si256((const __m256i *)q4);
            _mm256_storeu_si256((__m256i *)levels, _mm256_and_si256(packed, nibble));
            _mm256_storeu_si256((__m256i *)(levels + 32), _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble));
            acc = fma32(levels, x, _mm256_set1_ps(d * scale0), _mm256_set1_ps(dmin * min0), acc);
            acc = fma32(levels + 32, x + 32, _mm256_set1_ps(d * scale1), _mm256_set1_ps(dmin * min1), acc);
        }
    }
    return horizontal_sum(acc);
}

AVX2_TARGET static float dot_q6_K_f32_avx2(size_t blocks, const block_q6_K *w, const float *x) {
    __m256 acc = _mm256_setzero_ps();
    int8_t levels[QK_K];
    for (size_t b = 0; b < blocks; b++, x += QK_K) {
        unpack_q6_K(w + b, levels);
        float d = _cvtsh_ss(w[b].d);
        for (int s = 0; s < QK_K / 16; s++) {
            __m256 scale = _mm256_set1_ps(d * (float)w[b].scales[s]);
            for (int i = 0; i < 16; i += 8) {
                __m256 weight = _mm256_mul_ps(scale, widen8(levels + s * 16 + i));
                acc = _mm256_fmadd_ps(weight, _mm256_loadu_ps(x + s * 16 + i), acc);
            }
        }
    }
    return horizontal_sum(acc);
}
#endif

// MARK: - Entry points

bool weights_quantize_activations(int weight_type, const float *x, size_t k, void *out, int kernel) {
    bool fast = false;
#ifdef WEIGHTS_X86
    fast = kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2_fma();
#endif
    (void)kernel;
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0:
    case WEIGHTS_GGML_Q5_0:
        if (k % QK8_0) return false;
#ifdef WEIGHTS_X86
        if (fast) { quantize_q8_0_avx2(x, k, out); return true; }
#endif
        quantize_q8_0_portable(x, k, out);
        return true;
    case WEIGHTS_GGML_Q4_K:
    case WEIGHTS_GGML_Q6_K:
        if (k % QK_K) return false;
#ifdef WEIGHTS_X86
        if (fast) { quantize_q8_32_avx2(x, k, out); return true; }
#endif
        quantize_q8_32_portable(x, k, out);
        return true;
    default: return false;
    }
}

bool weights_quantized_dot_accelerated(void) {
#ifdef WEIGHTS_X86
    return weights_cpu_has_avx2_fma();
#else
    return false;
#endif
}

const char *weights_quantized_kernel_name(void) {
#ifdef WEIGHTS_X86
    if (weights_cpu_has_avx512_vnni()) return "avx512-vnni (prompt blocks), avx2";
    if (weights_cpu_has_avx2_fma()) return "avx2";
#endif
    return "portable";
}

// A row's dot product: `blocks` weight blocks with the activations (quantized blocks or floats).
// The kernels take typed block pointers; every pointer type has the same representation and
// calling convention on the platforms built here, so they are called through this one type.
typedef float (*row_dot)(size_t blocks, const void *row, const void *activations);

// The dot product for `weight_type`: the AVX2 form when `kernel` allows and the CPU has it,
// else the portable one; with binary32 activations when `exact`. NULL for an unknown type.
static row_dot select_dot(int weight_type, bool exact, int kernel) {
    bool fast = false;
#ifdef WEIGHTS_X86
    fast = kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2_fma();
#define PICK(avx2, portable) return (row_dot)(fast ? (avx2) : (portable))
#else
#define PICK(avx2, portable) return (row_dot)(portable)
#endif
    (void)kernel;
    (void)fast;
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0:
        if (exact) PICK(dot_q8_0_f32_avx2, dot_q8_0_f32_portable);
        PICK(dot_q8_0_avx2, dot_q8_0_portable);
    case WEIGHTS_GGML_Q5_0:
        if (exact) PICK(dot_q5_0_f32_avx2, dot_q5_0_f32_portable);
        PICK(dot_q5_0_avx2, dot_q5_0_portable);
    case WEIGHTS_GGML_Q4_K:
        if (exact) PICK(dot_q4_K_f32_avx2, dot_q4_K_f32_portable);
        PICK(dot_q4_K_avx2, dot_q4_K_portable);
    case WEIGHTS_GGML_Q6_K:
        if (exact) PICK(dot_q6_K_f32_avx2, dot_q6_K_f32_portable);
        PICK(dot_q6_K_avx2, dot_q6_K_portable);
    default:
        return NULL;
    }
#undef PICK
}

// Activations of one row of `k` values for `weight_type`, and the bytes between two rows of them.
static bool check_shapes(int weight_type, size_t row_bytes, size_t k, size_t *blocks) {
    size_t block_elements = weights_quantized_block_elements(weight_type);
    if (block_elements == 0 || k % block_elements) return false;
    *blocks = k / block_elements;
    return row_bytes >= *blocks * weights_quantized_block_bytes(weight_type);
}

// Four rows' dot products with one activation vector, or NULL where a type has no such form.
typedef void (*rows4_dot)(size_t blocks, const uint8_t *row, size_t row_bytes, const void *activations, float out[4]);

static rows4_dot select_dot4(int weight_type, bool exact, int kernel) {
#ifdef WEIGHTS_X86
    if (exact || kernel == WEIGHTS_KERNEL_PORTABLE || !weights_cpu_has_avx2_fma()) return NULL;
    bool vnni = kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx512_vnni();
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0: return (rows4_dot)(vnni ? dot4_q8_0_vnni : dot4_q8_0_avx2);
    case WEIGHTS_GGML_Q5_0: return (rows4_dot)(vnni ? dot4_q5_0_vnni : dot4_q5_0_avx2);
    default: return NULL;
    }
#else
    (void)weight_type; (void)exact; (void)kernel;
    return NULL;
#endif
}

// A prompt block's tiles: TILE_ROWS rows (`tile`) or one row (`row`) × TILE_TOKENS tokens,
// out[t * out_stride + r]. `widen`, where set, rewrites a group of rows in another format
// whose tiles (`wide_tile`, `wide_row`) then take them: `wide_block` bytes a block.
typedef void (*tile_dot)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows activations,
                         float *out, size_t out_stride);
typedef void (*widen_rows)(size_t blocks, const uint8_t *rows, size_t row_bytes, size_t count, void *out);
typedef struct {
    tile_dot tile, row;
    widen_rows widen;
    tile_dot wide_tile, wide_row;
    size_t wide_block;
} tile_dots;

static tile_dots select_tiles(int weight_type, bool exact, int kernel) {
    tile_dots none = { NULL, NULL, NULL, NULL, NULL, 0 };
#ifdef WEIGHTS_X86
    if (exact || kernel == WEIGHTS_KERNEL_PORTABLE || !weights_cpu_has_avx2_fma()) return none;
    bool vnni = kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx512_vnni();
#define TILES(format, isa) (tile_dots){ format##_tile_##isa, format##_row_##isa, NULL, NULL, NULL, 0 }
#define FOR_ISA(format) (vnni ? TILES(format, vnni) : TILES(format, avx2))
    tile_dots tiles = none;
    switch (weight_type) {
    case WEIGHTS_GGML_Q8_0: return FOR_ISA(q8_0);
    case WEIGHTS_GGML_Q5_0:
        tiles = FOR_ISA(q5_0);
        tiles.widen = (widen_rows)widen_q5_0;
        tiles.wide_tile = vnni ? q5_0w_tile_avx512 : q5_0w_tile_avx2;
        tiles.wide_row = vnni ? q5_0w_row_avx512 : q5_0w_row_avx2;
        tiles.wide_block = sizeof(block_q5_0w);
        return tiles;
    case WEIGHTS_GGML_Q4_K:
        tiles = FOR_ISA(q4_K);
        tiles.widen = (widen_rows)widen_q4_K;
        tiles.wide_tile = vnni ? q4_Kw_tile_avx512 : q4_Kw_tile_avx2;
        tiles.wide_row = vnni ? q4_Kw_row_avx512 : q4_Kw_row_avx2;
        tiles.wide_block = sizeof(block_q4_Kw);
        return tiles;
    case WEIGHTS_GGML_Q6_K: return vnni ? TILES(q6_K, avx512) : TILES(q6_K, avx2);
    default: return none;
    }
#undef TILES
#undef FOR_ISA
#else
    (void)weight_type; (void)exact; (void)kernel;
    return (tile_dots){ NULL, NULL, NULL, NULL, NULL, 0 };
#endif
}

// out[r] for rows r: row r · activations, four rows at a time where the type has a four-row
// form.
static void dot_rows(row_dot dot, rows4_dot dot4, size_t blocks, const uint8_t *weights, size_t row_bytes,
                     size_t rows, const void *activations, float *out) {
    size_t r = 0;
    if (dot4) {
        for (; r + 4 <= rows; r += 4) {
#ifdef WEIGHTS_X86
            // The hardware prefetcher follows one stream poorly at four rows' pace: ask for
            // the rows two groups ahead (reads past the matrix's end are harmless hints).
            const uint8_t *ahead = weights + (r + 8) * row_bytes;
            for (size_t line = 0; line < 4 * row_bytes; line += 64) _mm_prefetch((const char *)ahead + line, _MM_HINT_T0);
#endif
            dot4(blocks, weights + r * row_bytes, row_bytes, activations, out + r);
        }
    }
    for (; r < rows; r++) out[r] = dot(blocks, weights + r * row_bytes, activations);
}

static bool matvec(int weight_type, bool exact, const void *weights, size_t row_bytes, size_t rows, size_t k,
                   const void *activations, float *out, int kernel) {
    size_t blocks;
    if (!check_shapes(weight_type, row_bytes, k, &blocks)) return false;
    row_dot dot = select_dot(weight_type, exact, kernel);
    if (!dot) return false;
    dot_rows(dot, select_dot4(weight_type, exact, kernel), blocks, weights, row_bytes, rows, activations, out);
    return true;
}

bool weights_quantized_matvec(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                              const void *activations, float *out, int kernel) {
    return matvec(weight_type, false, weights, row_bytes, rows, k, activations, out, kernel);
}

bool weights_quantized_matvec_f32(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                                  const float *x, float *out, int kernel) {
    return matvec(weight_type, true, weights, row_bytes, rows, k, x, out, kernel);
}

// Matrix times matrix: every weight row meets a tile of activation rows while it is in the L1
// cache, so the weights come from memory (and are widened) once per tile instead of once per
// token. A tile is as many tokens as 256 KB of activations hold, at least 64 (2,048 values:
// 102 tokens), so that it stays in the L2 cache. Within it,
// a group of rows meets the tokens TILE_ROWS × TILE_TOKENS at a time (the rows left over one
// by one, the tokens left over through the matrix × vector kernels: the same bits either way).
enum { TOKEN_TILE_BYTES = 256 * 1024, TOKEN_TILE_MIN = 64 };

static bool matmul(int weight_type, bool exact, const void *weights, size_t row_bytes, size_t rows, size_t k,
                   const void *activations, size_t activation_stride, size_t n, float *out, size_t out_stride,
                   int kernel) {
    size_t blocks;
    if (!check_shapes(weight_type, row_bytes, k, &blocks)) return false;
    row_dot dot = select_dot(weight_type, exact, kernel);
    if (!dot) return false;
    rows4_dot dot4 = select_dot4(weight_type, exact, kernel);
    tile_dots tiles = select_tiles(weight_type, exact, kernel);
    const uint8_t *a = activations;
    // Rows in groups of 16 (a few KB of weights, held in L1 while the tile's tokens pass); a
    // format that is widened first takes as many rows as its buffer holds (an even number, at
    // least two, or it is not widened).
    // The buffer is on the stack: 32 KB, within any thread's stack here.
    enum { ROW_GROUP = 16, WIDE_BYTES = 32768 };
    size_t group_rows = ROW_GROUP;
    _Alignas(32) uint8_t wide[WIDE_BYTES];
    if (tiles.widen) {
        size_t fit = WIDE_BYTES / (blocks * tiles.wide_block) / TILE_ROWS * TILE_ROWS;
        if (fit >= TILE_ROWS) group_rows = fit < ROW_GROUP ? fit : ROW_GROUP;
        else tiles.widen = NULL;
    }
    size_t token_tile = activation_stride ? TOKEN_TILE_BYTES / activation_stride / TILE_TOKENS * TILE_TOKENS : n;
    if (token_tile < TOKEN_TILE_MIN) token_tile = TOKEN_TILE_MIN;
    for (size_t t0 = 0; t0 < n; t0 += token_tile) {
        size_t t1 = n - t0 > token_tile ? t0 + token_tile : n;
        for (size_t r = 0; r < rows; r += group_rows) {
            size_t count = rows - r < group_rows ? rows - r : group_rows;
            const uint8_t *group = (const uint8_t *)weights + r * row_bytes;
            size_t t = t0;
            if (tiles.tile && t + TILE_TOKENS <= t1) {
                const uint8_t *tile_rows = group;
                size_t tile_row_bytes = row_bytes;
                tile_dot tile = tiles.tile, one_row = tiles.row;
                if (tiles.widen) {
                    tiles.widen(blocks, group, row_bytes, count, wide);
                    tile_rows = wide;
                    tile_row_bytes = blocks * tiles.wide_block;
                    tile = tiles.wide_tile;
                    one_row = tiles.wide_row;
                }
                for (; t + TILE_TOKENS <= t1; t += TILE_TOKENS) {
                    token_rows tokens = { a + t * activation_stride, activation_stride };
                    float *target = out + t * out_stride + r;
                    size_t i = 0;
                    for (; i + TILE_ROWS <= count; i += TILE_ROWS) {
                        tile(blocks, tile_rows + i * tile_row_bytes, tile_row_bytes, tokens, target + i, out_stride);
                    }
                    for (; i < count; i++) one_row(blocks, tile_rows + i * tile_row_bytes, tile_row_bytes, tokens, target + i, out_stride);
                }
            }
            for (; t < t1; t++) {
                dot_rows(dot, dot4, blocks, group, row_bytes, count, a + t * activation_stride, out + t * out_stride + r);
            }
        }
    }
    return true;
}

bool weights_quantized_matmul(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                              const void *activations, size_t activation_stride, size_t n,
                              float *out, size_t out_stride, int kernel) {
    return matmul(weight_type, false, weights, row_bytes, rows, k, activations, activation_stride, n,
                  out, out_stride, kernel);
}

bool weights_quantized_matmul_f32(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                                  const float *x, size_t x_stride, size_t n, float *out, size_t out_stride,
                                  int kernel) {
    return matmul(weight_type, true, weights, row_bytes, rows, k, x, x_stride * sizeof(float), n,
                  out, out_stride, kernel);
}
