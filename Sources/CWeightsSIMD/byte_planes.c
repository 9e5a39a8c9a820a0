// Interleaving byte planes back into 2- and 4-byte elements: the last step of decompressing a
// byte-grouped chunk (WeightsCompression's ByteGrouping.join); and the exponent windows'
// planes, split and joined (below).
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

// MARK: - Exponent windows
//
// A chunk of `count` elements of `width` bytes (2: BF16; 4: F32), whose top 16 bits are
// `s eeeeeeee mmmmmmm` (sign, 8-bit exponent, the mantissa's top seven bits), is stored as
// planes, in this order (Spec/compressed-container.md, section 2):
//   width 4 only: byte 0 of every element, then byte 1 (count bytes each);
//   fields:   the sign and the five mantissa bits below the window, six bits an element, four
//             elements to three bytes, little-endian bit order ((6 × count + 7) / 8 bytes);
//   top bits: the exponent's top two bits, four elements a byte, lowest bits first
//             ((count + 3) / 4 bytes);
//   window:   the exponent's low six bits and the mantissa's top two (bits 5..12 of the top
//             16), a byte an element (count bytes).
// Unused bits at the end of the packed planes are zero.

static inline size_t window_fields_size(size_t count) { return (6 * count + 7) / 8; }
static inline size_t window_top_size(size_t count) { return (count + 3) / 4; }

// Where each plane of `count` elements of `width` bytes starts in `planes`.
typedef struct { uint8_t *low, *fields, *top, *window; } window_planes;

static inline window_planes window_planes_of(uint8_t *planes, size_t count, size_t width) {
    window_planes p = { planes, planes + (width - 2) * count, NULL, NULL };
    p.top = p.fields + window_fields_size(count);
    p.window = p.top + window_top_size(count);
    return p;
}

static inline uint16_t top16_of(const uint8_t *elements, size_t e, size_t width) {
    uint16_t top;
    memcpy(&top, elements + e * width + (width - 2), 2);
    return top;
}

// Element `e`'s share of the planes, for the elements the vector loop leaves; the packed
// planes' bytes from that point on must be zero.
static inline void split_window_element(uint16_t t, size_t e, uint8_t *fields, uint8_t *top, uint8_t *window) {
    window[e] = (uint8_t)(t >> 5);
    top[e / 4] |= (uint8_t)(((t >> 13) & 3) << (2 * (e % 4)));
    uint32_t field = (uint32_t)((t >> 15) << 5 | (t & 0x1F));
    size_t bit = 6 * e;
    fields[bit / 8] |= (uint8_t)(field << (bit % 8));
    if (bit % 8 > 2) fields[bit / 8 + 1] |= (uint8_t)(field >> (8 - bit % 8));
}

#ifdef WEIGHTS_X86
static size_t split_window_avx2(const uint8_t *in, size_t count, size_t width, window_planes p);
#endif

bool weights_split_exponent_window(const void *elements, size_t count, size_t width, void *planes, int kernel) {
    if (width != 2 && width != 4) return false;
    const uint8_t *in = elements;
    window_planes p = window_planes_of(planes, count, width);
    size_t done = 0;
#ifdef WEIGHTS_X86
    if (kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx2()) done = split_window_avx2(in, count, width, p);
#endif
    // The vector loop stops at a multiple of 32 elements: whole bytes of both packed planes.
    memset(p.fields + 6 * done / 8, 0, window_fields_size(count) - 6 * done / 8);
    memset(p.top + done / 4, 0, window_top_size(count) - done / 4);
    for (size_t e = done; e < count; e++) {
        if (width == 4) {
            p.low[e] = in[4 * e];
            p.low[count + e] = in[4 * e + 1];
        }
        split_window_element(top16_of(in, e, width), e, p.fields, p.top, p.window);
    }
    return true;
}

#ifdef WEIGHTS_X86
// The planes' share of 32 elements' top 16 bits (`t0`: elements 0-15, `t1`: 16-31): 32
// window bytes, 8 bytes of top bits and 24 bytes of fields. The fields' two 16-byte stores
// write 4 zero bytes past the 24, which the caller leaves room for.
PLANES_TARGET static inline void split_window_top16_avx2(__m256i t0, __m256i t1, size_t e, uint8_t *fields, uint8_t *top, uint8_t *window) {
    const __m256i low8 = _mm256_set1_epi16(0xFF);
    // packus interleaves the halves of its operands; the permute puts the 32 bytes in order.
    __m256i w = _mm256_packus_epi16(_mm256_and_si256(_mm256_srli_epi16(t0, 5), low8), _mm256_and_si256(_mm256_srli_epi16(t1, 5), low8));
    _mm256_storeu_si256((__m256i *)(window + e), _mm256_permute4x64_epi64(w, 0xD8));

    const __m256i two = _mm256_set1_epi16(3);
    __m256i t = _mm256_packus_epi16(_mm256_and_si256(_mm256_srli_epi16(t0, 13), two), _mm256_and_si256(_mm256_srli_epi16(t1, 13), two));
    t = _mm256_permute4x64_epi64(t, 0xD8);
    // Four 2-bit values to a byte: pairs to 4 bits (× 1, × 4), then pairs of those (× 1, × 16).
    t = _mm256_madd_epi16(_mm256_maddubs_epi16(t, _mm256_set1_epi16(0x0401)), _mm256_set1_epi32(0x00100001));
    const __m256i first_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    t = _mm256_shuffle_epi8(t, first_bytes);
    uint32_t top_low = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(t));
    uint32_t top_high = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(t, 1));
    memcpy(top + e / 4, &top_low, 4);
    memcpy(top + e / 4 + 4, &top_high, 4);

    const __m256i sign = _mm256_set1_epi16(0x20), below = _mm256_set1_epi16(0x1F);
    __m256i f0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(t0, 10), sign), _mm256_and_si256(t0, below));
    __m256i f1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(t1, 10), sign), _mm256_and_si256(t1, below));
    __m256i f = _mm256_permute4x64_epi64(_mm256_packus_epi16(f0, f1), 0xD8);
    // Four 6-bit values to three bytes: pairs to 12 bits (× 1, × 64), pairs of those (× 1, × 4096).
    f = _mm256_madd_epi16(_mm256_maddubs_epi16(f, _mm256_set1_epi16(0x4001)), _mm256_set1_epi32(0x10000001));
    const __m256i three_bytes = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                                 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    f = _mm256_shuffle_epi8(f, three_bytes);
    _mm_storeu_si128((__m128i *)(fields + 3 * e / 4), _mm256_castsi256_si128(f));
    _mm_storeu_si128((__m128i *)(fields + 3 * e / 4 + 12), _mm256_extracti128_si256(f, 1));
}

// 32 elements a step while 40 remain, so that the fields' extra 4 bytes stay inside their
// plane, where the portable loop's share is zeroed after.
PLANES_TARGET static size_t split_window_avx2(const uint8_t *in, size_t count, size_t width, window_planes p) {
    size_t e = 0;
    if (width == 2) {
        for (; e + 40 <= count; e += 32) {
            __m256i t0 = _mm256_loadu_si256((const __m256i *)(in + 2 * e));
            __m256i t1 = _mm256_loadu_si256((const __m256i *)(in + 2 * e + 32));
            split_window_top16_avx2(t0, t1, e, p.fields, p.top, p.window);
        }
        return e;
    }
    const __m256i low16 = _mm256_set1_epi32(0xFFFF), low8 = _mm256_set1_epi16(0xFF);
    for (; e + 40 <= count; e += 32) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(in + 4 * e));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(in + 4 * e + 32));
        __m256i a2 = _mm256_loadu_si256((const __m256i *)(in + 4 * e + 64));
        __m256i a3 = _mm256_loadu_si256((const __m256i *)(in + 4 * e + 96));
        // 16-bit halves of elements 0-15 and 16-31, in order.
        __m256i l0 = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_and_si256(a0, low16), _mm256_and_si256(a1, low16)), 0xD8);
        __m256i l1 = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_and_si256(a2, low16), _mm256_and_si256(a3, low16)), 0xD8);
        __m256i h0 = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_srli_epi32(a0, 16), _mm256_srli_epi32(a1, 16)), 0xD8);
        __m256i h1 = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_srli_epi32(a2, 16), _mm256_srli_epi32(a3, 16)), 0xD8);
        __m256i b0 = _mm256_packus_epi16(_mm256_and_si256(l0, low8), _mm256_and_si256(l1, low8));
        __m256i b1 = _mm256_packus_epi16(_mm256_srli_epi16(l0, 8), _mm256_srli_epi16(l1, 8));
        _mm256_storeu_si256((__m256i *)(p.low + e), _mm256_permute4x64_epi64(b0, 0xD8));
        _mm256_storeu_si256((__m256i *)(p.low + count + e), _mm256_permute4x64_epi64(b1, 0xD8));
        split_window_top16_avx2(h0, h1, e, p.fields, p.top, p.window);
    }
    return e;
}
#endif

static void join_window_portable(window_planes p, size_t count, size_t width, uint8_t *out, size_t from) {
    const uint8_t *low = p.low, *fields = p.fields, *top = p.top, *window = p.window;
    for (size_t e = from; e < count; e++) {
        size_t bit = 6 * e;
        uint32_t pair = fields[bit / 8];
        if (bit % 8 > 2) pair |= (uint32_t)fields[bit / 8 + 1] << 8;
        uint32_t field = (pair >> (bit % 8)) & 63;
        uint32_t exponent_top = (top[e / 4] >> (2 * (e % 4))) & 3;
        uint16_t t = (uint16_t)((field >> 5) << 15 | exponent_top << 13 | (uint32_t)window[e] << 5 | (field & 0x1F));
        if (width == 4) {
            out[4 * e] = low[e];
            out[4 * e + 1] = low[count + e];
        }
        memcpy(out + e * width + (width - 2), &t, 2);
    }
}

#ifdef WEIGHTS_X86
// The top 16 bits of 16 elements from `e` on; the caller has checked that the 16-byte load of
// the fields plane at byte 3e/4 stays inside it (e + 24 <= count).
PLANES_TARGET static inline __m256i window_top16_avx2(const uint8_t *fields, const uint8_t *top, const uint8_t *window, size_t e) {
    // Element j of the 16 takes fields bytes (6j / 8, + 1), shifted up so that its sign lands
    // on bit 15; the multipliers are 2^(10 - 6j mod 8).
    const __m256i field_bytes = _mm256_setr_epi8(0, 1, 0, 1, 1, 2, 2, 3, 3, 4, 3, 4, 4, 5, 5, 6,
                                                 6, 7, 6, 7, 7, 8, 8, 9, 9, 10, 9, 10, 10, 11, 11, 12);
    const __m256i field_shift = _mm256_setr_epi16(1024, 16, 64, 256, 1024, 16, 64, 256, 1024, 16, 64, 256, 1024, 16, 64, 256);
    // Element j takes top-bits byte j / 4, shifted so that its two bits land on bits 13-14.
    const __m256i top_bytes = _mm256_setr_epi8(0, -128, 0, -128, 0, -128, 0, -128, 1, -128, 1, -128, 1, -128, 1, -128,
                                               2, -128, 2, -128, 2, -128, 2, -128, 3, -128, 3, -128, 3, -128, 3, -128);
    const __m256i top_shift = _mm256_setr_epi16(8192, 2048, 512, 128, 8192, 2048, 512, 128, 8192, 2048, 512, 128, 8192, 2048, 512, 128);
    __m256i f = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(fields + 3 * e / 4)));
    __m256i y = _mm256_mullo_epi16(_mm256_shuffle_epi8(f, field_bytes), field_shift);
    int32_t top_word;
    memcpy(&top_word, top + e / 4, 4);
    __m256i t = _mm256_broadcastsi128_si256(_mm_cvtsi32_si128(top_word));
    __m256i exponent_top = _mm256_and_si256(_mm256_mullo_epi16(_mm256_shuffle_epi8(t, top_bytes), top_shift), _mm256_set1_epi16(0x6000));
    __m256i w = _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(window + e))), 5);
    __m256i sign = _mm256_and_si256(y, _mm256_set1_epi16((short)0x8000));
    __m256i below = _mm256_and_si256(_mm256_srli_epi16(y, 10), _mm256_set1_epi16(0x1F));
    return _mm256_or_si256(_mm256_or_si256(sign, exponent_top), _mm256_or_si256(w, below));
}

PLANES_TARGET static size_t join_window_avx2(window_planes p, size_t count, size_t width, uint8_t *out) {
    const uint8_t *low = p.low, *fields = p.fields, *top = p.top, *window = p.window;
    size_t e = 0;
    if (width == 2) {
        for (; e + 24 <= count; e += 16) {
            _mm256_storeu_si256((__m256i *)(out + 2 * e), window_top16_avx2(fields, top, window, e));
        }
        return e;
    }
    for (; e + 24 <= count; e += 16) {
        __m256i high = window_top16_avx2(fields, top, window, e);
        __m128i b0 = _mm_loadu_si128((const __m128i *)(low + e));
        __m128i b1 = _mm_loadu_si128((const __m128i *)(low + count + e));
        __m128i low_a = _mm_unpacklo_epi8(b0, b1), low_b = _mm_unpackhi_epi8(b0, b1);
        __m128i high_a = _mm256_castsi256_si128(high), high_b = _mm256_extracti128_si256(high, 1);
        _mm_storeu_si128((__m128i *)(out + 4 * e), _mm_unpacklo_epi16(low_a, high_a));
        _mm_storeu_si128((__m128i *)(out + 4 * e + 16), _mm_unpackhi_epi16(low_a, high_a));
        _mm_storeu_si128((__m128i *)(out + 4 * e + 32), _mm_unpacklo_epi16(low_b, high_b));
        _mm_storeu_si128((__m128i *)(out + 4 * e + 48), _mm_unpackhi_epi16(low_b, high_b));
    }
    return e;
}
#endif

bool weights_join_exponent_window(const void *planes, size_t count, size_t width, void *out, int kernel) {
    if (width != 2 && width != 4) return false;
    // The joins only read the planes.
    window_planes p = window_planes_of((uint8_t *)planes, count, width);
    size_t done = 0;
#ifdef WEIGHTS_X86
    if (kernel == WEIGHTS_KERNEL_BEST && weights_cpu_has_avx2()) done = join_window_avx2(p, count, width, out);
#endif
    join_window_portable(p, count, width, out, done);
    return true;
}
