// The decoder's binary32 vector kernels: the dot products and weighted sums of attention over
// the KV cache. Swift does not reassociate float additions, so its loops stay scalar; here
// each has an AVX2 + FMA form (8 lanes, four accumulators) chosen at run time and a portable
// form. The forms differ only in the order of the additions.

#include "CWeightsSIMD.h"
#include <math.h>
#include "simd_exp.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

static float dot_portable(const float *a, const float *b, size_t n) {
    float sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

static void axpy_portable(float alpha, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

#ifdef WEIGHTS_X86
#define AVX2_TARGET __attribute__((target("avx2,fma")))

static bool has_avx2_fma(void) {
    static int cached = -1;  // -1: not yet checked; threads that race only store the same value
    int state = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (state < 0) {
        __builtin_cpu_init();
        state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        __atomic_store_n(&cached, state, __ATOMIC_RELAXED);
    }
    return state;
}

AVX2_TARGET static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float sum = _mm_cvtss_f32(h);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

AVX2_TARGET static void axpy_avx2(float alpha, const float *x, float *y, size_t n) {
    __m256 a = _mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}
#endif

float weights_dot_f32(const float *a, const float *b, size_t n, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && has_avx2_fma()) return dot_avx2(a, b, n);
#endif
    (void)kernel;
    return dot_portable(a, b, n);
}

void weights_axpy_f32(float alpha, const float *x, float *y, size_t n, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && has_avx2_fma()) { axpy_avx2(alpha, x, y, n); return; }
#endif
    (void)kernel;
    axpy_portable(alpha, x, y, n);
}

void weights_spin_pause(void) {
#ifdef WEIGHTS_X86
    _mm_pause();
#endif
}

// MARK: - GELU (tanh form) times up
//
// gate[i] = ½g(1 + tanh(√(2/π)(g + 0.044715g³))) · up[i]. The AVX2 form computes tanh(u) as
// sign(u)(1 − 2 / (e^(2|u|) + 1)), e^y by Cody-Waite reduction and a degree-7 polynomial
// (relative error below 2^-23); its absolute error in tanh is below 2e-7, so the product
// differs from the portable one (libm's tanhf) by at most about 1e-7 · |g · up|.

static void gelu_tanh_product_portable(float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g))) * up[i];
    }
}

#ifdef WEIGHTS_X86
AVX2_TARGET static void gelu_tanh_product_avx2(float *gate, const float *up, size_t n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 g3 = _mm256_mul_ps(_mm256_mul_ps(g, g), g);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), g3, g));
        __m256 magnitude = _mm256_andnot_ps(sign_mask, u);
        __m256 e = exp_avx2(_mm256_add_ps(magnitude, magnitude));
        __m256 t = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
        t = _mm256_or_ps(t, _mm256_and_ps(u, sign_mask));
        __m256 half_g = _mm256_mul_ps(_mm256_set1_ps(0.5f), g);
        __m256 gelu = _mm256_fmadd_ps(half_g, t, half_g);
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(gelu, _mm256_loadu_ps(up + i)));
    }
    gelu_tanh_product_portable(gate + i, up + i, n - i);
}
#endif

void weights_gelu_tanh_product(float *gate, const float *up, size_t n, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && has_avx2_fma()) { gelu_tanh_product_avx2(gate, up, n); return; }
#endif
    (void)kernel;
    gelu_tanh_product_portable(gate, up, n);
}

// MARK: - One attention head over the cache

static void attend_portable(const float *q, const float *keys, const float *values, size_t stride, size_t count,
                            size_t size, float scale, float *scores, float *out) {
    for (size_t p = 0; p < count; p++) scores[p] = dot_portable(q, keys + p * stride, size) * scale;
    weights_softmax(scores, count, WEIGHTS_KERNEL_PORTABLE);
    for (size_t i = 0; i < size; i++) out[i] = 0;
    for (size_t p = 0; p < count; p++) axpy_portable(scores[p], values + p * stride, out, size);
}

#ifdef WEIGHTS_X86
// The weighted sum 64 outputs at a time, so that the eight accumulators stay in registers
// while every position's values pass.
AVX2_TARGET static void attend_avx2(const float *q, const float *keys, const float *values, size_t stride, size_t count,
                                    size_t size, float scale, float *scores, float *out) {
    for (size_t p = 0; p < count; p++) scores[p] = dot_avx2(q, keys + p * stride, size) * scale;
    weights_softmax(scores, count, WEIGHTS_KERNEL_BEST);
    size_t i = 0;
    for (; i + 64 <= size; i += 64) {
        __m256 acc[8];
        for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
        for (size_t p = 0; p < count; p++) {
            __m256 w = _mm256_set1_ps(scores[p]);
            const float *v = values + p * stride + i;
            for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8 * j), acc[j]);
        }
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(out + i + 8 * j, acc[j]);
    }
    if (i < size) {
        for (size_t j = i; j < size; j++) out[j] = 0;
        for (size_t p = 0; p < count; p++) axpy_avx2(scores[p], values + p * stride + i, out + i, size - i);
    }
}
#endif

void weights_attend_head(const float *q, const float *keys, const float *values, size_t stride, size_t count,
                         size_t size, float scale, float *scores, float *out, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && has_avx2_fma()) {
        attend_avx2(q, keys, values, stride, count, size, scale, scores, out);
        return;
    }
#endif
    (void)kernel;
    attend_portable(q, keys, values, stride, count, size, scale, scores, out);
}
