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

// sums[h] = q[h] · key for H ≤ 4 vectors q[h] of n floats, `n` apart, each key value loaded
// once for the H of them: per vector four chains over 32 values at a time, the rest of the
// eights into the first, one reduction and a scalar tail. Every caller, whatever H (and the
// AVX-512VL build of it, the same instructions with more registers), gets these bits.
AVX2_TARGET static inline __attribute__((always_inline)) void
dots_avx2(const float *q, size_t n, const float *key, float *sums, const int H) {
    __m256 s[4][4];
    for (int h = 0; h < H; h++) for (int j = 0; j < 4; j++) s[h][j] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 k0 = _mm256_loadu_ps(key + i), k1 = _mm256_loadu_ps(key + i + 8);
        __m256 k2 = _mm256_loadu_ps(key + i + 16), k3 = _mm256_loadu_ps(key + i + 24);
        for (int h = 0; h < H; h++) {
            const float *a = q + h * n + i;
            s[h][0] = _mm256_fmadd_ps(_mm256_loadu_ps(a), k0, s[h][0]);
            s[h][1] = _mm256_fmadd_ps(_mm256_loadu_ps(a + 8), k1, s[h][1]);
            s[h][2] = _mm256_fmadd_ps(_mm256_loadu_ps(a + 16), k2, s[h][2]);
            s[h][3] = _mm256_fmadd_ps(_mm256_loadu_ps(a + 24), k3, s[h][3]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 k = _mm256_loadu_ps(key + i);
        for (int h = 0; h < H; h++) s[h][0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + h * n + i), k, s[h][0]);
    }
    for (int h = 0; h < H; h++) {
        __m256 sum8 = _mm256_add_ps(_mm256_add_ps(s[h][0], s[h][1]), _mm256_add_ps(s[h][2], s[h][3]));
        __m128 x = _mm_add_ps(_mm256_castps256_ps128(sum8), _mm256_extractf128_ps(sum8, 1));
        x = _mm_add_ps(x, _mm_movehl_ps(x, x));
        x = _mm_add_ss(x, _mm_movehdup_ps(x));
        float sum = _mm_cvtss_f32(x);
        for (size_t j = i; j < n; j++) sum += q[h * n + j] * key[j];
        sums[h] = sum;
    }
}

AVX2_TARGET static float dot_avx2(const float *a, const float *b, size_t n) {
    float sum;
    dots_avx2(a, n, b, &sum, 1);
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
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2_fma()) return dot_avx2(a, b, n);
#endif
    (void)kernel;
    return dot_portable(a, b, n);
}

void weights_axpy_f32(float alpha, const float *x, float *y, size_t n, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2_fma()) { axpy_avx2(alpha, x, y, n); return; }
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
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2_fma()) { gelu_tanh_product_avx2(gate, up, n); return; }
#endif
    (void)kernel;
    gelu_tanh_product_portable(gate, up, n);
}

// MARK: - Attention heads over the cache
//
// The query heads that share a key/value head (grouped-query attention) attend together: each
// cached key and value row is loaded once for all of them instead of once per head. Each
// head's arithmetic is what it is alone (its dot products, its softmax, and for each output
// value one chain of fused multiply-adds over the positions in order), so the bits do not
// depend on how many heads share the pass, on the chunk width, or on the instruction set.

static void attend_portable(const float *q, size_t heads, const float *keys, const float *values, size_t stride,
                            size_t count, size_t size, float scale, float *scores, float *out) {
    for (size_t h = 0; h < heads; h++) {
        float *row = scores + h * count;
        for (size_t p = 0; p < count; p++) row[p] = dot_portable(q + h * size, keys + p * stride, size) * scale;
        weights_softmax(row, count, WEIGHTS_KERNEL_PORTABLE);
        float *o = out + h * size;
        for (size_t i = 0; i < size; i++) o[i] = 0;
        for (size_t p = 0; p < count; p++) axpy_portable(row[p], values + p * stride, o, size);
    }
}

#ifdef WEIGHTS_X86
#define AVX512_TARGET __attribute__((target("avx2,fma,avx512f,avx512vl")))

// out[h] = Σ_p scores[h][p] · values[p] for outputs from `i` on, H ≤ 4 heads, 16 outputs at a
// time (the 4 · 2 accumulators and the two value registers within AVX2's sixteen), the rest
// through axpy_avx2.
AVX2_TARGET static inline __attribute__((always_inline)) void
weighted_values_avx2(const float *scores, size_t count, const float *values, size_t stride, size_t size, size_t i,
                     float *out, const int H) {
    for (; i + 16 <= size; i += 16) {
        __m256 acc[4][2];
        for (int h = 0; h < H; h++) acc[h][0] = acc[h][1] = _mm256_setzero_ps();
        for (size_t p = 0; p < count; p++) {
            const float *v = values + p * stride + i;
            __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
            for (int h = 0; h < H; h++) {
                __m256 w = _mm256_set1_ps(scores[h * count + p]);
                acc[h][0] = _mm256_fmadd_ps(w, v0, acc[h][0]);
                acc[h][1] = _mm256_fmadd_ps(w, v1, acc[h][1]);
            }
        }
        for (int h = 0; h < H; h++) {
            _mm256_storeu_ps(out + h * size + i, acc[h][0]);
            _mm256_storeu_ps(out + h * size + i + 8, acc[h][1]);
        }
    }
    if (i < size) {
        for (int h = 0; h < H; h++) {
            for (size_t j = i; j < size; j++) out[h * size + j] = 0;
            for (size_t p = 0; p < count; p++) axpy_avx2(scores[h * count + p], values + p * stride + i, out + h * size + i, size - i);
        }
    }
}

// The same sums 64 outputs at a time in 512-bit registers (4 · 4 accumulators), the rest
// through the AVX2 form.
AVX512_TARGET static inline __attribute__((always_inline)) void
weighted_values_avx512(const float *scores, size_t count, const float *values, size_t stride, size_t size, size_t i,
                       float *out, const int H) {
    for (; i + 64 <= size; i += 64) {
        __m512 acc[4][4];
        for (int h = 0; h < H; h++) for (int j = 0; j < 4; j++) acc[h][j] = _mm512_setzero_ps();
        for (size_t p = 0; p < count; p++) {
            const float *v = values + p * stride + i;
            __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16), v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);
            for (int h = 0; h < H; h++) {
                __m512 w = _mm512_set1_ps(scores[h * count + p]);
                acc[h][0] = _mm512_fmadd_ps(w, v0, acc[h][0]);
                acc[h][1] = _mm512_fmadd_ps(w, v1, acc[h][1]);
                acc[h][2] = _mm512_fmadd_ps(w, v2, acc[h][2]);
                acc[h][3] = _mm512_fmadd_ps(w, v3, acc[h][3]);
            }
        }
        for (int h = 0; h < H; h++) for (int j = 0; j < 4; j++) _mm512_storeu_ps(out + h * size + i + 16 * j, acc[h][j]);
    }
    weighted_values_avx2(scores, count, values, stride, size, i, out, H);
}

#define WEIGHTED_TARGET_avx2 AVX2_TARGET
#define WEIGHTED_TARGET_avx512 AVX512_TARGET
#define WEIGHTED_VALUES(isa, H) \
    WEIGHTED_TARGET_##isa static void weighted_values_##isa##_##H(const float *scores, size_t count, const float *values, \
                                                          size_t stride, size_t size, float *out) {            \
        weighted_values_##isa(scores, count, values, stride, size, 0, out, H);                                \
    }
WEIGHTED_VALUES(avx2, 1) WEIGHTED_VALUES(avx2, 2) WEIGHTED_VALUES(avx2, 3) WEIGHTED_VALUES(avx2, 4)
WEIGHTED_VALUES(avx512, 1) WEIGHTED_VALUES(avx512, 2) WEIGHTED_VALUES(avx512, 3) WEIGHTED_VALUES(avx512, 4)
#undef WEIGHTED_VALUES
#undef WEIGHTED_TARGET_avx2
#undef WEIGHTED_TARGET_avx512

typedef void (*weighted_values)(const float *scores, size_t count, const float *values, size_t stride, size_t size, float *out);

// scores[h · count + p] = (q[h] · keys[p]) · scale for H heads and every position, each key
// row loaded once for the H heads (dots_avx2: each head's sum is dot_avx2's).
AVX2_TARGET static inline __attribute__((always_inline)) void
head_scores(const float *q, size_t size, const float *keys, size_t stride, size_t count, float scale, float *scores,
            const int H) {
    for (size_t p = 0; p < count; p++) {
        float sums[4];
        dots_avx2(q, size, keys + p * stride, sums, H);
        for (int h = 0; h < H; h++) scores[h * count + p] = sums[h] * scale;
    }
}

typedef void (*scores_of_heads)(const float *q, size_t size, const float *keys, size_t stride, size_t count, float scale,
                                float *scores);
// AVX2's sixteen registers hold two heads' chains; with AVX-512VL's thirty-two, four (the same
// instructions on 256-bit registers).
#define HEAD_SCORES(name, target, H)                                                                             \
    target static void name(const float *q, size_t size, const float *keys, size_t stride, size_t count,         \
                            float scale, float *scores) {                                                        \
        head_scores(q, size, keys, stride, count, scale, scores, H);                                             \
    }
HEAD_SCORES(head_scores_avx2_1, AVX2_TARGET, 1)
HEAD_SCORES(head_scores_avx2_2, AVX2_TARGET, 2)
HEAD_SCORES(head_scores_avx512_1, AVX512_TARGET, 1)
HEAD_SCORES(head_scores_avx512_2, AVX512_TARGET, 2)
HEAD_SCORES(head_scores_avx512_3, AVX512_TARGET, 3)
HEAD_SCORES(head_scores_avx512_4, AVX512_TARGET, 4)
#undef HEAD_SCORES

AVX2_TARGET static void attend_avx2(const float *q, size_t heads, const float *keys, const float *values, size_t stride,
                                    size_t count, size_t size, float scale, float *scores, float *out, bool avx512) {
    static const weighted_values narrow[4] = { weighted_values_avx2_1, weighted_values_avx2_2, weighted_values_avx2_3, weighted_values_avx2_4 };
    static const weighted_values wide[4] = { weighted_values_avx512_1, weighted_values_avx512_2, weighted_values_avx512_3, weighted_values_avx512_4 };
    for (size_t h0 = 0; h0 < heads; h0 += 4) {
        size_t group = heads - h0 < 4 ? heads - h0 : 4;
        const float *gq = q + h0 * size;
        float *gs = scores + h0 * count;
        if (avx512) {
            static const scores_of_heads wide_scores[4] = { head_scores_avx512_1, head_scores_avx512_2,
                                                            head_scores_avx512_3, head_scores_avx512_4 };
            wide_scores[group - 1](gq, size, keys, stride, count, scale, gs);
        } else {
            for (size_t h = 0; h < group; h += 2) {
                scores_of_heads pair = group - h >= 2 ? head_scores_avx2_2 : head_scores_avx2_1;
                pair(gq + h * size, size, keys, stride, count, scale, gs + h * count);
            }
        }
        for (size_t h = 0; h < group; h++) weights_softmax(gs + h * count, count, WEIGHTS_KERNEL_BEST);
        (avx512 ? wide : narrow)[group - 1](gs, count, values, stride, size, out + h0 * size);
    }
}
#endif

void weights_attend_heads(const float *q, size_t heads, const float *keys, const float *values, size_t stride,
                          size_t count, size_t size, float scale, float *scores, float *out, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2_fma()) {
        attend_avx2(q, heads, keys, values, stride, count, size, scale, scores, out,
                    kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx512());
        return;
    }
#endif
    (void)kernel;
    attend_portable(q, heads, keys, values, stride, count, size, scale, scores, out);
}

void weights_attend_head(const float *q, const float *keys, const float *values, size_t stride, size_t count,
                         size_t size, float scale, float *scores, float *out, int kernel) {
    weights_attend_heads(q, 1, keys, values, stride, count, size, scale, scores, out, kernel);
}
