// The encoder's exp-heavy element-wise kernels: GELU (exact erf form) and softmax.
//
// Swift's optimizer vectorizes these loops for the x86-64 baseline only (SSE2, 4 lanes, no
// FMA), where they cost a quarter of an all-MiniLM-L6-v2 forward pass. Here each has an
// AVX-512F and an AVX2 + FMA form, chosen once at run time, and a portable form for other
// CPUs. All evaluate the same formulas:
//
//   exp(x): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then the degree-7 Taylor
//           polynomial of e^r (truncation below 2^-26 relative), times 2^n; x is clamped to
//           [-87.33654, 88], so exp(-inf) is 2^-126, not 0 (irrelevant next to a sum >= 1).
//   erf(x): Abramowitz & Stegun, Handbook of Mathematical Functions (1964), 7.1.26:
//           1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-x^2), t = 1 / (1 + p x), x >= 0,
//           odd; absolute error below 1.5e-7.
//   GELU(x) = x/2 (1 + erf(x / sqrt 2)).
//
// Results agree between the forms to a few ulp (FMA rounds once where the portable form
// rounds twice), never bit for bit.

#include "CWeightsSIMD.h"
#include <math.h>
#include "simd_exp.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

#define ERF_P 0.3275911f
#define ERF_A1 0.254829592f
#define ERF_A2 -0.284496736f
#define ERF_A3 1.421413741f
#define ERF_A4 -1.453152027f
#define ERF_A5 1.061405429f
#define SQRT_HALF 0.70710678118654752f

// --- Portable ---------------------------------------------------------------------------

static inline float exp_portable(float x) {
    x = x < EXP_LOW ? EXP_LOW : (x > EXP_HIGH ? EXP_HIGH : x);
    // Adding 1.5 * 2^23 rounds to an integer (ties to even) in the low mantissa bits.
    const float shifter = 12582912.0f;
    float shifted = x * LOG2E + shifter;
    float n = shifted - shifter;
    float r = (x - n * LN2_HIGH) - n * LN2_LOW;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { float f; int32_t i; } scale = { .i = ((int32_t)n + 127) << 23 };
    return p * scale.f;
}

static inline float gelu_portable(float x) {
    float z = x * SQRT_HALF;
    float a = fabsf(z);
    float t = 1.0f / (1.0f + ERF_P * a);
    float p = ERF_A5;
    p = p * t + ERF_A4;
    p = p * t + ERF_A3;
    p = p * t + ERF_A2;
    p = p * t + ERF_A1;
    float erf = 1.0f - p * t * exp_portable(-a * a);
    return 0.5f * x * (1.0f + (z < 0 ? -erf : erf));
}

static void gelu_rows_portable(float *values, const float *bias, size_t rows, size_t width) {
    for (size_t row = 0; row < rows; row++) {
        float *v = values + row * width;
        for (size_t j = 0; j < width; j++) v[j] = gelu_portable(v[j] + (bias ? bias[j] : 0.0f));
    }
}

static void softmax_portable(float *row, size_t count) {
    if (count == 0) return;
    float largest = row[0];
    for (size_t i = 1; i < count; i++) largest = row[i] > largest ? row[i] : largest;
    float sum = 0;
    for (size_t i = 0; i < count; i++) {
        row[i] = exp_portable(row[i] - largest);
        sum += row[i];
    }
    float scale = 1.0f / sum;
    for (size_t i = 0; i < count; i++) row[i] *= scale;
}

#ifdef WEIGHTS_X86

// --- AVX2 + FMA -------------------------------------------------------------------------

#define AVX2_TARGET __attribute__((target("avx2,fma")))

AVX2_TARGET static inline __m256 gelu_avx2(__m256 x) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(SQRT_HALF));
    __m256 a = _mm256_andnot_ps(sign_mask, z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(ERF_P), a, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(ERF_A5);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_A1));
    __m256 e = exp_avx2(_mm256_mul_ps(_mm256_xor_ps(a, sign_mask), a));
    __m256 erf = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, _mm256_set1_ps(1.0f));
    erf = _mm256_or_ps(erf, _mm256_and_ps(z, sign_mask));  // erf >= 0 here: copy z's sign
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

AVX2_TARGET static void gelu_rows_avx2(float *values, const float *bias, size_t rows, size_t width) {
    for (size_t row = 0; row < rows; row++) {
        float *v = values + row * width;
        size_t j = 0;
        for (; j + 8 <= width; j += 8) {
            __m256 x = _mm256_loadu_ps(v + j);
            if (bias) x = _mm256_add_ps(x, _mm256_loadu_ps(bias + j));
            _mm256_storeu_ps(v + j, gelu_avx2(x));
        }
        for (; j < width; j++) v[j] = gelu_portable(v[j] + (bias ? bias[j] : 0.0f));
    }
}

AVX2_TARGET static void softmax_avx2(float *row, size_t count) {
    if (count < 8) {
        softmax_portable(row, count);
        return;
    }
    size_t i = 0;
    __m256 largest = _mm256_loadu_ps(row);
    for (i = 8; i + 8 <= count; i += 8) largest = _mm256_max_ps(largest, _mm256_loadu_ps(row + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, largest);
    float top = lanes[0];
    for (int k = 1; k < 8; k++) top = lanes[k] > top ? lanes[k] : top;
    for (; i < count; i++) top = row[i] > top ? row[i] : top;
    __m256 shift = _mm256_set1_ps(top), sums = _mm256_setzero_ps();
    for (i = 0; i + 8 <= count; i += 8) {
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + i), shift));
        _mm256_storeu_ps(row + i, e);
        sums = _mm256_add_ps(sums, e);
    }
    _mm256_storeu_ps(lanes, sums);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < count; i++) {
        row[i] = exp_portable(row[i] - top);
        sum += row[i];
    }
    __m256 scale = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= count; i += 8) _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), scale));
    for (; i < count; i++) row[i] *= 1.0f / sum;
}

// --- AVX-512F ---------------------------------------------------------------------------

#define AVX512_TARGET __attribute__((target("avx512f")))

AVX512_TARGET static inline __m512 exp_avx512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LOW)), _mm512_set1_ps(EXP_HIGH));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HIGH), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LOW), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

AVX512_TARGET static inline __m512 gelu_avx512(__m512 x) {
    const __m512i sign_mask = _mm512_set1_epi32((int)0x80000000);
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(SQRT_HALF));
    __m512 a = _mm512_castsi512_ps(_mm512_andnot_epi32(sign_mask, _mm512_castps_si512(z)));
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_set1_ps(ERF_P), a, _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(ERF_A5);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A4));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A3));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A2));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(ERF_A1));
    __m512 e = exp_avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
    __m512 erf = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, _mm512_set1_ps(1.0f));
    erf = _mm512_castsi512_ps(_mm512_or_epi32(_mm512_castps_si512(erf),
                                              _mm512_and_epi32(_mm512_castps_si512(z), sign_mask)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

AVX512_TARGET static void gelu_rows_avx512(float *values, const float *bias, size_t rows, size_t width) {
    for (size_t row = 0; row < rows; row++) {
        float *v = values + row * width;
        for (size_t j = 0; j < width; j += 16) {
            __mmask16 mask = width - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (width - j)) - 1);
            __m512 x = _mm512_maskz_loadu_ps(mask, v + j);
            if (bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, bias + j));
            _mm512_mask_storeu_ps(v + j, mask, gelu_avx512(x));
        }
    }
}

AVX512_TARGET static void softmax_avx512(float *row, size_t count) {
    if (count == 0) return;
    __m512 largest = _mm512_set1_ps(-__builtin_inff());
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 mask = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        largest = _mm512_mask_max_ps(largest, mask, largest, _mm512_maskz_loadu_ps(mask, row + i));
    }
    __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(largest)), sums = _mm512_setzero_ps();
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 mask = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, row + i), shift));
        _mm512_mask_storeu_ps(row + i, mask, e);
        sums = _mm512_mask_add_ps(sums, mask, sums, e);
    }
    __m512 scale = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sums));
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 mask = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        _mm512_mask_storeu_ps(row + i, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + i), scale));
    }
}

#endif  // WEIGHTS_X86

// --- Dispatch ---------------------------------------------------------------------------

typedef void (*gelu_rows_fn)(float *, const float *, size_t, size_t);
typedef void (*softmax_fn)(float *, size_t);

// 2: AVX-512F, 1: AVX2 + FMA, 0: portable; the best the CPU has, capped by the choice.
static int engine_kernel_level(int kernel) {
    if (kernel == WEIGHTS_KERNEL_PORTABLE) return 0;
    int level = weights_cpu_has_avx512() ? 2 : weights_cpu_has_avx2_fma() ? 1 : 0;
    return kernel == WEIGHTS_ENGINE_KERNEL_AVX2 && level > 1 ? 1 : level;
}

int weights_engine_kernel_level(void) { return engine_kernel_level(WEIGHTS_KERNEL_BEST); }

void weights_gelu_rows(float *values, const float *bias, size_t rows, size_t width, int kernel) {
    switch (engine_kernel_level(kernel)) {
#ifdef WEIGHTS_X86
    case 2: gelu_rows_avx512(values, bias, rows, width); return;
    case 1: gelu_rows_avx2(values, bias, rows, width); return;
#endif
    default: gelu_rows_portable(values, bias, rows, width);
    }
}

void weights_softmax(float *row, size_t count, int kernel) {
    switch (engine_kernel_level(kernel)) {
#ifdef WEIGHTS_X86
    case 2: softmax_avx512(row, count); return;
    case 1: softmax_avx2(row, count); return;
#endif
    default: softmax_portable(row, count);
    }
}
