// Interleaving byte planes back into 2- and 4-byte elements: the last step of decompressing a
// byte-grouped chunk (WeightsCompression's ByteGrouping.join).
//
// Plane b holds byte b of every element, little-endian (plane 0 the lowest byte). With
// `swap`, each element's top bit and the bit 8 below it are exchanged after the bytes are
// joined: the container stores floats with the sign moved below the exponent, so that the top
// plane holds the exponent alone. The AVX2 kernel and the portable loop give the same bytes.

#include "CWeightsSIMD.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

static inline uint32_t swap_bits_u32(uint32_t w) {
    uint32_t differ = ((w >> 31) ^ (w >> 23)) & 1;
    return w ^ (differ << 31 | differ << 23);
}

static inline uint16_t swap_bits_u16(uint16_t w) {
    uint16_t differ = (uint16_t)(((w >> 15) ^ (w >> 7)) & 1);
    return (uint16_t)(w ^ (differ << 15 | differ << 7));
}

static void join4_portable(const uint8_t *planes, size_t count, uint8_t *out, bool swap, size_t from) {
    for (size_t e = from; e < count; e++) {
        uint32_t w = (uint32_t)planes[e] | (uint32_t)planes[count + e] << 8
                   | (uint32_t)planes[2 * count + e] << 16 | (uint32_t)planes[3 * count + e] << 24;
        if (swap) w = swap_bits_u32(w);
        memcpy(out + 4 * e, &w, 4);
    }
}

static void join2_portable(const uint8_t *planes, size_t count, uint8_t *out, bool swap, size_t from) {
    for (size_t e = from; e < count; e++) {
        uint16_t w = (uint16_t)(planes[e] | planes[count + e] << 8);
        if (swap) w = swap_bits_u16(w);
        memcpy(out + 2 * e, &w, 2);
    }
}

#ifdef WEIGHTS_X86
#define PLANES_TARGET __attribute__((target("avx2")))

// The exchange of bit `top` and bit `top - 8` in each lane of `w` (32- or 16-bit lanes).
PLANES_TARGET static inline __m256i swap_bits_epi32(__m256i w) {
    __m256i differ = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi32(w, 31), _mm256_srli_epi32(w, 23)),
                                      _mm256_set1_epi32(1));
    return _mm256_xor_si256(w, _mm256_or_si256(_mm256_slli_epi32(differ, 31), _mm256_slli_epi32(differ, 23)));
}

PLANES_TARGET static inline __m256i swap_bits_epi16(__m256i w) {
    __m256i differ = _mm256_and_si256(_mm256_xor_si256(_mm256_srli_epi16(w, 15), _mm256_srli_epi16(w, 7)),
                                      _mm256_set1_epi16(1));
    return _mm256_xor_si256(w, _mm256_or_si256(_mm256_slli_epi16(differ, 15), _mm256_slli_epi16(differ, 7)));
}

// 32 elements a step: the byte and then the 16-bit unpacks interleave within each 128-bit
// half, and the final cross-half permutes put the elements back in order.
PLANES_TARGET static size_t join4_avx2(const uint8_t *planes, size_t count, uint8_t *out, bool swap) {
    size_t e = 0;
    for (; e + 32 <= count; e += 32) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(planes + e));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(planes + count + e));
        __m256i b2 = _mm256_loadu_si256((const __m256i *)(planes + 2 * count + e));
        __m256i b3 = _mm256_loadu_si256((const __m256i *)(planes + 3 * count + e));
        __m256i low_lo = _mm256_unpacklo_epi8(b0, b1), low_hi = _mm256_unpackhi_epi8(b0, b1);
        __m256i high_lo = _mm256_unpacklo_epi8(b2, b3), high_hi = _mm256_unpackhi_epi8(b2, b3);
        __m256i w0 = _mm256_unpacklo_epi16(low_lo, high_lo);  // elements 0-3 | 16-19
        __m256i w1 = _mm256_unpackhi_epi16(low_lo, high_lo);  // 4-7 | 20-23
        __m256i w2 = _mm256_unpacklo_epi16(low_hi, high_hi);  // 8-11 | 24-27
        __m256i w3 = _mm256_unpackhi_epi16(low_hi, high_hi);  // 12-15 | 28-31
        __m256i o0 = _mm256_permute2x128_si256(w0, w1, 0x20);
        __m256i o1 = _mm256_permute2x128_si256(w2, w3, 0x20);
        __m256i o2 = _mm256_permute2x128_si256(w0, w1, 0x31);
        __m256i o3 = _mm256_permute2x128_si256(w2, w3, 0x31);
        if (swap) {
            o0 = swap_bits_epi32(o0); o1 = swap_bits_epi32(o1);
            o2 = swap_bits_epi32(o2); o3 = swap_bits_epi32(o3);
        }
        _mm256_storeu_si256((__m256i *)(out + 4 * e), o0);
        _mm256_storeu_si256((__m256i *)(out + 4 * e + 32), o1);
        _mm256_storeu_si256((__m256i *)(out + 4 * e + 64), o2);
        _mm256_storeu_si256((__m256i *)(out + 4 * e + 96), o3);
    }
    return e;
}

PLANES_TARGET static size_t join2_avx2(const uint8_t *planes, size_t count, uint8_t *out, bool swap) {
    size_t e = 0;
    for (; e + 32 <= count; e += 32) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(planes + e));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(planes + count + e));
        __m256i lo = _mm256_unpacklo_epi8(b0, b1);  // elements 0-7 | 16-23
        __m256i hi = _mm256_unpackhi_epi8(b0, b1);  // 8-15 | 24-31
        __m256i o0 = _mm256_permute2x128_si256(lo, hi, 0x20);
        __m256i o1 = _mm256_permute2x128_si256(lo, hi, 0x31);
        if (swap) { o0 = swap_bits_epi16(o0); o1 = swap_bits_epi16(o1); }
        _mm256_storeu_si256((__m256i *)(out + 2 * e), o0);
        _mm256_storeu_si256((__m256i *)(out + 2 * e + 32), o1);
    }
    return e;
}
#endif

bool weights_join_byte_planes(const void *planes, size_t count, size_t width, void *out, bool swap, int kernel) {
    const uint8_t *from = planes;
    uint8_t *to = out;
    size_t done = 0;
    switch (width) {
    case 4:
#ifdef WEIGHTS_X86
        if (kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx2()) done = join4_avx2(from, count, to, swap);
#endif
        join4_portable(from, count, to, swap, done);
        return true;
    case 2:
#ifdef WEIGHTS_X86
        if (kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx2()) done = join2_avx2(from, count, to, swap);
#endif
        join2_portable(from, count, to, swap, done);
        return true;
    default:
        return false;
    }
}
