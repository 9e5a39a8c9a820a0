// Kernels for symmetric INT8 quantization (Spec/conversion.md §3): the largest magnitude of a
// run of floats, and levels = clamp(roundHalfEven(x / scale), -127, 127). The AVX2 and the
// portable versions give identical results: IEEE division and ties-to-even rounding are the
// same operations in both.

#include "CWeightsSIMD.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

static bool largest_magnitude_portable(const float *values, size_t count, float *largest) {
    float result = 0;
    bool finite = true;
    for (size_t i = 0; i < count; i++) {
        float magnitude = fabsf(values[i]);
        finite &= magnitude <= 3.40282347e+38f;  // false for infinity and NaN
        result = magnitude > result ? magnitude : result;
    }
    *largest = result;
    return finite;
}

static inline int8_t level_portable(float value, float scale) {
    float level = nearbyintf(value / scale);  // the default rounding mode: to nearest, ties to even
    level = level < -127.0f ? -127.0f : (level > 127.0f ? 127.0f : level);
    return (int8_t)level;
}

static void quantize_portable(const float *values, size_t count, float scale, int8_t *levels) {
    for (size_t i = 0; i < count; i++) levels[i] = level_portable(values[i], scale);
}

#ifdef WEIGHTS_X86
#define SIMD_TARGET __attribute__((target("avx2")))

SIMD_TARGET static bool largest_magnitude_avx2(const float *values, size_t count, float *largest) {
    const __m256 magnitude_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256 finite_limit = _mm256_set1_ps(3.40282347e+38f);
    __m256 result = _mm256_setzero_ps();
    __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 magnitude = _mm256_and_ps(_mm256_loadu_ps(values + i), magnitude_mask);
        finite = _mm256_and_ps(finite, _mm256_cmp_ps(magnitude, finite_limit, _CMP_LE_OQ));
        result = _mm256_max_ps(result, magnitude);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, result);
    bool all_finite = _mm256_movemask_ps(finite) == 0xFF;
    float tail;
    all_finite &= largest_magnitude_portable(values + i, count - i, &tail);
    for (int lane = 0; lane < 8; lane++) tail = lanes[lane] > tail ? lanes[lane] : tail;
    *largest = tail;
    return all_finite;
}

SIMD_TARGET static void quantize_avx2(const float *values, size_t count, float scale, int8_t *levels) {
    const __m256 divisor = _mm256_set1_ps(scale);
    const __m256 low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m256i parts[4];
        for (int part = 0; part < 4; part++) {
            __m256 level = _mm256_div_ps(_mm256_loadu_ps(values + i + 8 * part), divisor);
            level = _mm256_round_ps(level, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            level = _mm256_min_ps(_mm256_max_ps(level, low), high);
            parts[part] = _mm256_cvtps_epi32(level);
        }
        // Pack 32 int32 lanes to int8; the packs interleave 128-bit halves, undone by a permute.
        __m256i words = _mm256_packs_epi32(parts[0], parts[1]);
        __m256i words2 = _mm256_packs_epi32(parts[2], parts[3]);
        __m256i bytes = _mm256_packs_epi16(words, words2);
        bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(levels + i), bytes);
    }
    quantize_portable(values + i, count - i, scale, levels + i);
}
#endif

bool weights_largest_magnitude(const float *values, size_t count, float *largest, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2()) return largest_magnitude_avx2(values, count, largest);
#endif
    (void)kernel;
    return largest_magnitude_portable(values, count, largest);
}

void weights_quantize_int8(const float *values, size_t count, float scale, int8_t *levels, int kernel) {
#ifdef WEIGHTS_X86
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_avx2()) { quantize_avx2(values, count, scale, levels); return; }
#endif
    (void)kernel;
    quantize_portable(values, count, scale, levels);
}
