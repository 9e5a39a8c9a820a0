// Element-wise conversions between binary32 and the 16-bit formats (IEEE binary16, bfloat16).
//
// Each public function picks, at run time, an AVX2 + F16C kernel or a portable one. The two
// give identical bits for every input, NaNs included (the tests walk all 2^32 patterns), so
// results never depend on the machine. Rounding is to nearest, ties to even; subnormals are
// produced; NaN stays NaN with its sign, is made quiet, and keeps the top bits of its payload,
// which is what the F16C instructions do.

#include "CWeightsSIMD.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

// --- Portable kernels -----------------------------------------------------------------------

static inline uint32_t load_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t load_u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline void store_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void store_u16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }

// Binary16 bits nearest to the binary32 with bits `x`; `*overflow` += 1 when a finite value
// became infinite.
static inline uint16_t f32_to_f16_bits(uint32_t x, size_t *overflow) {
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t magnitude = x & 0x7FFFFFFF;
    if (magnitude > 0x7F800000) {  // NaN
        return sign | 0x7E00 | (uint16_t)((magnitude >> 13) & 0x3FF);
    }
    if (magnitude >= 0x477FF000) {  // 65520, halfway between 65504 and 65536, or above
        *overflow += magnitude != 0x7F800000;
        return sign | 0x7C00;
    }
    if (magnitude >= 0x38800000) {  // 2^-14: the result is normal
        uint32_t rebased = magnitude - ((uint32_t)(127 - 15) << 23);
        rebased += 0x0FFF + ((rebased >> 13) & 1);  // a carry into the exponent is correct
        return sign | (uint16_t)(rebased >> 13);
    }
    if (magnitude <= 0x33000000) {  // at most 2^-25, half the smallest subnormal: ties to 0
        return sign;
    }
    // Subnormal: count units of 2^-24. The significand with its implicit bit is
    // m * 2^(e - 150), so the units are m >> (126 - e), with 14 <= 126 - e <= 24.
    uint32_t exponent = magnitude >> 23;
    uint32_t significand = (magnitude & 0x007FFFFF) | 0x00800000;
    uint32_t shift = 126 - exponent;
    uint32_t units = significand >> shift;
    uint32_t rest = significand & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    units += (rest > half) | ((rest == half) & units);
    return sign | (uint16_t)units;
}

static inline uint32_t f16_to_f32_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    if (exponent == 0x1F) {
        return sign | 0x7F800000 | (mantissa ? 0x00400000 : 0) | (mantissa << 13);
    }
    if (exponent != 0) {
        return sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    if (mantissa == 0) return sign;
    // Subnormal: mantissa * 2^-24, exact in binary32.
    float value = (float)mantissa * 0x1p-24f;
    uint32_t bits;
    memcpy(&bits, &value, 4);
    return sign | bits;
}

static inline uint16_t f32_to_bf16_bits(uint32_t x, size_t *overflow) {
    uint32_t magnitude = x & 0x7FFFFFFF;
    if (magnitude > 0x7F800000) return (uint16_t)((x >> 16) | 0x0040);
    *overflow += (magnitude >= 0x7F7F8000) & (magnitude < 0x7F800000);
    return (uint16_t)((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

static size_t f32_to_f16_portable(const unsigned char *src, unsigned char *dst, size_t count) {
    size_t overflow = 0;
    for (size_t i = 0; i < count; i++) store_u16(dst + 2 * i, f32_to_f16_bits(load_u32(src + 4 * i), &overflow));
    return overflow;
}

static void f16_to_f32_portable(const unsigned char *src, unsigned char *dst, size_t count) {
    for (size_t i = 0; i < count; i++) store_u32(dst + 4 * i, f16_to_f32_bits(load_u16(src + 2 * i)));
}

static size_t f32_to_bf16_portable(const unsigned char *src, unsigned char *dst, size_t count) {
    size_t overflow = 0;
    for (size_t i = 0; i < count; i++) store_u16(dst + 2 * i, f32_to_bf16_bits(load_u32(src + 4 * i), &overflow));
    return overflow;
}

static void bf16_to_f32_portable(const unsigned char *src, unsigned char *dst, size_t count) {
    for (size_t i = 0; i < count; i++) store_u32(dst + 4 * i, (uint32_t)load_u16(src + 2 * i) << 16);
}

// --- AVX2 + F16C kernels --------------------------------------------------------------------

#ifdef WEIGHTS_X86
#define SIMD_TARGET __attribute__((target("avx2,f16c")))

// Lanes of `magnitude` that are finite but at least `threshold`: the values that overflow.
SIMD_TARGET static inline unsigned overflow_lanes_f16(__m256 magnitude) {
    __m256 large = _mm256_cmp_ps(magnitude, _mm256_set1_ps(65520.0f), _CMP_GE_OQ);
    __m256 finite = _mm256_cmp_ps(magnitude, _mm256_set1_ps(__builtin_inff()), _CMP_LT_OQ);
    return (unsigned)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_and_ps(large, finite)));
}

SIMD_TARGET static size_t f32_to_f16_f16c(const unsigned char *src, unsigned char *dst, size_t count) {
    const __m256 magnitude_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    size_t overflow = 0;
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256 a = _mm256_loadu_ps((const float *)(src + 4 * i));
        __m256 b = _mm256_loadu_ps((const float *)(src + 4 * i + 32));
        // The rounding mode is in the instruction, so MXCSR's mode does not matter.
        _mm_storeu_si128((__m128i *)(dst + 2 * i), _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        _mm_storeu_si128((__m128i *)(dst + 2 * i + 16), _mm256_cvtps_ph(b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        overflow += overflow_lanes_f16(_mm256_and_ps(a, magnitude_mask));
        overflow += overflow_lanes_f16(_mm256_and_ps(b, magnitude_mask));
    }
    return overflow + f32_to_f16_portable(src + 4 * i, dst + 2 * i, count - i);
}

SIMD_TARGET static void f16_to_f32_f16c(const unsigned char *src, unsigned char *dst, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * i)));
        __m256 b = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * i + 16)));
        _mm256_storeu_ps((float *)(dst + 4 * i), a);
        _mm256_storeu_ps((float *)(dst + 4 * i + 32), b);
    }
    f16_to_f32_portable(src + 2 * i, dst + 4 * i, count - i);
}

// Eight binary32 lanes rounded to bfloat16, in the low half of each 32-bit lane.
SIMD_TARGET static inline __m256i round_to_bf16(__m256i x, __m256i *overflow) {
    const __m256i magnitude = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i is_nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F800000));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
    const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x0040));
    const __m256i overflows = _mm256_and_si256(
        _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F7F7FFF)),
        _mm256_cmpgt_epi32(_mm256_set1_epi32(0x7F800000), magnitude));
    *overflow = _mm256_sub_epi32(*overflow, overflows);  // each overflowing lane is -1
    return _mm256_blendv_epi8(rounded, quiet_nan, is_nan);
}

SIMD_TARGET static size_t f32_to_bf16_avx2(const unsigned char *src, unsigned char *dst, size_t count) {
    size_t total = 0;
    size_t i = 0;
    while (i + 16 <= count) {
        // 32-bit lane counters are summed every 2^24 elements, long before they could wrap.
        size_t block_end = count - i > ((size_t)1 << 24) ? i + ((size_t)1 << 24) : count;
        __m256i overflow = _mm256_setzero_si256();
        for (; i + 16 <= block_end; i += 16) {
            __m256i a = round_to_bf16(_mm256_loadu_si256((const __m256i *)(src + 4 * i)), &overflow);
            __m256i b = round_to_bf16(_mm256_loadu_si256((const __m256i *)(src + 4 * i + 32)), &overflow);
            // packus interleaves 128-bit lanes (a0 b0 a1 b1); the permute restores a0 a1 b0 b1.
            __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
            _mm256_storeu_si256((__m256i *)(dst + 2 * i), packed);
        }
        uint32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, overflow);
        for (int lane = 0; lane < 8; lane++) total += lanes[lane];
    }
    return total + f32_to_bf16_portable(src + 4 * i, dst + 2 * i, count - i);
}

SIMD_TARGET static void bf16_to_f32_avx2(const unsigned char *src, unsigned char *dst, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + 2 * i)));
        __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + 2 * i + 16)));
        _mm256_storeu_si256((__m256i *)(dst + 4 * i), _mm256_slli_epi32(a, 16));
        _mm256_storeu_si256((__m256i *)(dst + 4 * i + 32), _mm256_slli_epi32(b, 16));
    }
    bf16_to_f32_portable(src + 2 * i, dst + 4 * i, count - i);
}
#endif

// --- Dispatch -------------------------------------------------------------------------------

static bool use_simd(int kernel) { return kernel != WEIGHTS_KERNEL_PORTABLE && weights_cpu_has_f16c(); }

bool weights_simd_conversion_available(void) { return use_simd(WEIGHTS_KERNEL_BEST); }

size_t weights_f32_to_f16(const void *src, void *dst, size_t count, int kernel) {
#ifdef WEIGHTS_X86
    if (use_simd(kernel)) return f32_to_f16_f16c(src, dst, count);
#endif
    (void)kernel;
    return f32_to_f16_portable(src, dst, count);
}

void weights_f16_to_f32(const void *src, void *dst, size_t count, int kernel) {
#ifdef WEIGHTS_X86
    if (use_simd(kernel)) { f16_to_f32_f16c(src, dst, count); return; }
#endif
    (void)kernel;
    f16_to_f32_portable(src, dst, count);
}

size_t weights_f32_to_bf16(const void *src, void *dst, size_t count, int kernel) {
#ifdef WEIGHTS_X86
    if (use_simd(kernel)) return f32_to_bf16_avx2(src, dst, count);
#endif
    (void)kernel;
    return f32_to_bf16_portable(src, dst, count);
}

void weights_bf16_to_f32(const void *src, void *dst, size_t count, int kernel) {
#ifdef WEIGHTS_X86
    if (use_simd(kernel)) { bf16_to_f32_avx2(src, dst, count); return; }
#endif
    (void)kernel;
    bf16_to_f32_portable(src, dst, count);
}
