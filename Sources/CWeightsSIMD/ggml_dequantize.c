// Decoding ggml blocks to binary32 with AVX2 + F16C, bit for bit as WeightsCore's
// GGMLDequantizer (and so gguf-py's `gguf.quants.dequantize`) computes them.
//
// Every value is the same sequence of binary32 operations as the portable Swift loop: the
// scale products (d × sub-scale, dmin × minimum) are scalar, once per sub-block, and each
// element is one multiply and at most one add or subtract, in that order. The operations stay
// separate: contraction is off for the whole file and the kernels' target has no FMA. (In
// these formats every product is exact, Spec/gguf.md says why, so a fused multiply-add would
// round the same; keeping them apart makes the bits the same without that argument.)
// Quantized levels are small integers, exactly representable, so the integer work (nibbles,
// high bits, the − 8 / − 16 / − 32 offsets) is done on bytes before the one conversion.
//
// A half scale widens exactly with F16C except for a signaling NaN, which the instruction
// quiets; the Swift loop (and NumPy) keep its payload as it is, so NaN scales take the
// bit-level path.

#include "CWeightsSIMD.h"
#include <string.h>

#pragma clang fp contract(off)

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define DQ_TARGET __attribute__((target("avx2,f16c")))
// The kernels are written once and compiled for each way of storing (DQ_MODES below).
#define DQ_INLINE DQ_TARGET static inline __attribute__((always_inline))

// How a kernel writes its output: ordinary stores, or non-temporal ones that bypass the
// caches (for an output larger than they are, which ordinary stores would first read in),
// 32 bytes at a time where the output is 32-byte aligned, 16 where it is 16-byte aligned.
enum { DQ_STORE, DQ_STREAM32, DQ_STREAM16 };

DQ_INLINE void dq_put(float *p, __m256 v, int mode) {
    if (mode == DQ_STREAM32) {
        _mm256_stream_ps(p, v);
    } else if (mode == DQ_STREAM16) {
        _mm_stream_ps(p, _mm256_castps256_ps128(v));
        _mm_stream_ps(p + 4, _mm256_extractf128_ps(v, 1));
    } else {
        _mm256_storeu_ps(p, v);
    }
}

static inline uint16_t dq_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t dq_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

// The half with bits `h`, widened exactly; a NaN keeps its payload unquieted.
DQ_TARGET static inline float dq_half(uint16_t h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0) {
        uint32_t bits = (uint32_t)(h & 0x8000) << 16 | 0x7F800000u | (uint32_t)(h & 0x03FF) << 13;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    return _cvtsh_ss(h);
}

// Elements 8g … 8g + 7 of the 32 signed bytes `v`, as binary32 (exact).
DQ_TARGET static inline __m256 dq_widen(__m256i v, int g) {
    __m128i half = g < 2 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1);
    if (g & 1) half = _mm_srli_si128(half, 8);
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(half));
}

// out[0..32) = levels × d, for 32 signed byte levels.
DQ_INLINE void dq_scaled(__m256i levels, __m256 d, float *out, int mode) {
    for (int g = 0; g < 4; g++) dq_put(out + 8 * g, _mm256_mul_ps(dq_widen(levels, g), d), mode);
}

// out[0..32) = d × levels + m. (When both terms are NaNs, which one the sum keeps is open:
// IEEE 754 leaves it so, compilers swap the operands of an add, and NumPy's loops give either.)
DQ_INLINE void dq_scaled_offset(__m256i levels, float d, float m, float *out, int mode) {
    __m256 dv = _mm256_set1_ps(d), mv = _mm256_set1_ps(m);
    for (int g = 0; g < 4; g++) {
        dq_put(out + 8 * g, _mm256_add_ps(_mm256_mul_ps(dv, dq_widen(levels, g)), mv), mode);
    }
}

// out[0..32) = d × levels − m, with d and m per 16 elements (index 0 for the first 16).
DQ_INLINE void dq_scaled_minus(__m256i levels, __m256 d0, __m256 m0, __m256 d1, __m256 m1, float *out, int mode) {
    for (int g = 0; g < 4; g++) {
        __m256 d = g < 2 ? d0 : d1, m = g < 2 ? m0 : m1;
        dq_put(out + 8 * g, _mm256_sub_ps(_mm256_mul_ps(d, dq_widen(levels, g)), m), mode);
    }
}

// The 32 nibbles of 16 bytes: low nibbles in bytes 0–15, high nibbles in 16–31.
DQ_TARGET static inline __m256i dq_nibbles16(const uint8_t *p) {
    __m128i bytes = _mm_loadu_si128((const __m128i *)p), mask = _mm_set1_epi8(0x0F);
    __m128i low = _mm_and_si128(bytes, mask), high = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    return _mm256_set_m128i(high, low);
}

// 0x10 in byte j where bit j of `bits` is set, 0 elsewhere.
DQ_TARGET static inline __m256i dq_fifth_bits(uint32_t bits) {
    __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// x = d × (q − 8).
DQ_INLINE void dq_q4_0(const uint8_t *src, size_t blocks, float *out, int mode) {
    for (size_t b = 0; b < blocks; b++, src += 18, out += 32) {
        __m256 d = _mm256_set1_ps(dq_half(dq_u16(src)));
        __m256i q = _mm256_sub_epi8(dq_nibbles16(src + 2), _mm256_set1_epi8(8));
        for (int g = 0; g < 4; g++) dq_put(out + 8 * g, _mm256_mul_ps(d, dq_widen(q, g)), mode);
    }
}

// x = d × q + m.
DQ_INLINE void dq_q4_1(const uint8_t *src, size_t blocks, float *out, int mode) {
    for (size_t b = 0; b < blocks; b++, src += 20, out += 32) {
        dq_scaled_offset(dq_nibbles16(src + 4), dq_half(dq_u16(src)), dq_half(dq_u16(src + 2)), out, mode);
    }
}

// x = d × (q − 16).
DQ_INLINE void dq_q5_0(const uint8_t *src, size_t blocks, float *out, int mode) {
    for (size_t b = 0; b < blocks; b++, src += 22, out += 32) {
        __m256 d = _mm256_set1_ps(dq_half(dq_u16(src)));
        __m256i q = _mm256_or_si256(dq_nibbles16(src + 6), dq_fifth_bits(dq_u32(src + 2)));
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
        for (int g = 0; g < 4; g++) dq_put(out + 8 * g, _mm256_mul_ps(d, dq_widen(q, g)), mode);
    }
}

// x = d × q + m.
DQ_INLINE void dq_q5_1(const uint8_t *src, size_t blocks, float *out, int mode) {
    for (size_t b = 0; b < blocks; b++, src += 24, out += 32) {
        __m256i q = _mm256_or_si256(dq_nibbles16(src + 8), dq_fifth_bits(dq_u32(src + 4)));
        dq_scaled_offset(q, dq_half(dq_u16(src)), dq_half(dq_u16(src + 2)), out, mode);
    }
}

// x = q × d.
DQ_INLINE void dq_q8_0(const uint8_t *src, size_t blocks, float *out, int mode) {
    for (size_t b = 0; b < blocks; b++, src += 34, out += 32) {
        __m256 d = _mm256_set1_ps(dq_half(dq_u16(src)));
        dq_scaled(_mm256_loadu_si256((const __m256i *)(src + 2)), d, out, mode);
    }
}

// x = (d × scale) × q − (dmin × min), per 16 elements.
DQ_INLINE void dq_q2_K(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i three = _mm256_set1_epi8(3);
    for (size_t b = 0; b < blocks; b++, src += 84, out += 256) {
        float d = dq_half(dq_u16(src + 80)), dmin = dq_half(dq_u16(src + 82));
        for (int half = 0; half < 2; half++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(src + 16 + 32 * half));
            for (int shift = 0; shift < 4; shift++) {
                const uint8_t *scales = src + half * 8 + shift * 2;
                __m256 d0 = _mm256_set1_ps(d * (float)(scales[0] & 0x0F)), m0 = _mm256_set1_ps(dmin * (float)(scales[0] >> 4));
                __m256 d1 = _mm256_set1_ps(d * (float)(scales[1] & 0x0F)), m1 = _mm256_set1_ps(dmin * (float)(scales[1] >> 4));
                __m256i q = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * shift), three);
                dq_scaled_minus(q, d0, m0, d1, m1, out + half * 128 + shift * 32, mode);
            }
        }
    }
}

// x = (d × (scale − 32)) × (q − 4 × (mask bit clear)), per 16 elements.
DQ_INLINE void dq_q3_K(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4), zero = _mm256_setzero_si256();
    for (size_t b = 0; b < blocks; b++, src += 110, out += 256) {
        float d = dq_half(dq_u16(src + 108));
        const uint8_t *s = src + 96;
        float dl[16];
        for (int group = 0; group < 16; group++) {
            int low = group < 8 ? s[group] & 0x0F : s[group - 8] >> 4;
            int high = (s[8 + group % 4] >> (2 * (group / 4))) & 3;
            dl[group] = d * (float)((low | high << 4) - 32);
        }
        __m256i mask = _mm256_loadu_si256((const __m256i *)src);
        for (int j = 0; j < 8; j++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(src + 32 + 32 * (j >> 2)));
            __m256i q = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * (j & 3)), three);
            __m256i clear = _mm256_cmpeq_epi8(_mm256_and_si256(mask, _mm256_set1_epi8((char)(1 << j))), zero);
            q = _mm256_sub_epi8(q, _mm256_and_si256(clear, four));
            __m256 d0 = _mm256_set1_ps(dl[2 * j]), d1 = _mm256_set1_ps(dl[2 * j + 1]);
            for (int g = 0; g < 4; g++) {
                dq_put(out + 32 * j + 8 * g, _mm256_mul_ps(g < 2 ? d0 : d1, dq_widen(q, g)), mode);
            }
        }
    }
}

// The 6-bit scale and minimum of sub-block j of Q4_K's and Q5_K's 12 scale bytes.
static inline void dq_scale_min(const uint8_t *p, int j, int *scale, int *minimum) {
    if (j < 4) {
        *scale = p[j] & 0x3F;
        *minimum = p[4 + j] & 0x3F;
    } else {
        *scale = (p[j + 4] & 0x0F) | ((p[j - 4] >> 2) & 0x30);
        *minimum = (p[j + 4] >> 4) | ((p[j] >> 2) & 0x30);
    }
}

// x = (d × scale) × q − (dmin × min), per 32 elements.
DQ_INLINE void dq_q4_K(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    for (size_t b = 0; b < blocks; b++, src += 144, out += 256) {
        float d = dq_half(dq_u16(src)), dmin = dq_half(dq_u16(src + 2));
        for (int pair = 0; pair < 4; pair++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(src + 16 + 32 * pair));
            for (int h = 0; h < 2; h++) {
                int scale, minimum;
                dq_scale_min(src + 4, 2 * pair + h, &scale, &minimum);
                __m256 dl = _mm256_set1_ps(d * (float)scale), ml = _mm256_set1_ps(dmin * (float)minimum);
                __m256i q = _mm256_and_si256(h ? _mm256_srli_epi16(bytes, 4) : bytes, mask);
                dq_scaled_minus(q, dl, ml, dl, ml, out + 64 * pair + 32 * h, mode);
            }
        }
    }
}

// x = (d × scale) × q − (dmin × min), per 32 elements, q with its fifth bit.
DQ_INLINE void dq_q5_K(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i mask = _mm256_set1_epi8(0x0F), zero = _mm256_setzero_si256(), sixteen = _mm256_set1_epi8(16);
    for (size_t b = 0; b < blocks; b++, src += 176, out += 256) {
        float d = dq_half(dq_u16(src)), dmin = dq_half(dq_u16(src + 2));
        __m256i high = _mm256_loadu_si256((const __m256i *)(src + 16));
        for (int pair = 0; pair < 4; pair++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(src + 48 + 32 * pair));
            for (int h = 0; h < 2; h++) {
                int sub = 2 * pair + h, scale, minimum;
                dq_scale_min(src + 4, sub, &scale, &minimum);
                __m256 dl = _mm256_set1_ps(d * (float)scale), ml = _mm256_set1_ps(dmin * (float)minimum);
                __m256i q = _mm256_and_si256(h ? _mm256_srli_epi16(bytes, 4) : bytes, mask);
                __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(high, _mm256_set1_epi8((char)(1 << sub))), zero);
                q = _mm256_or_si256(q, _mm256_andnot_si256(set, sixteen));
                dq_scaled_minus(q, dl, ml, dl, ml, out + 32 * sub, mode);
            }
        }
    }
}

// x = (d × scale) × (q − 32), per 16 elements.
DQ_INLINE void dq_q6_K(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
    for (size_t b = 0; b < blocks; b++, src += 210, out += 256) {
        float d = dq_half(dq_u16(src + 208));
        const int8_t *scales = (const int8_t *)(src + 192);
        for (int half = 0; half < 2; half++) {
            __m256i low0 = _mm256_loadu_si256((const __m256i *)(src + 64 * half));
            __m256i low1 = _mm256_loadu_si256((const __m256i *)(src + 64 * half + 32));
            __m256i high = _mm256_loadu_si256((const __m256i *)(src + 128 + 32 * half));
            for (int s = 0; s < 4; s++) {
                __m256i low = s & 1 ? low1 : low0;
                if (s >> 1) low = _mm256_srli_epi16(low, 4);
                __m256i top = _mm256_and_si256(_mm256_srli_epi16(high, 2 * s), three);
                __m256i q = _mm256_or_si256(_mm256_and_si256(low, mask), _mm256_slli_epi16(top, 4));
                q = _mm256_sub_epi8(q, bias);
                __m256 d0 = _mm256_set1_ps(d * (float)scales[half * 8 + s * 2]);
                __m256 d1 = _mm256_set1_ps(d * (float)scales[half * 8 + s * 2 + 1]);
                float *o = out + 128 * half + 32 * s;
                for (int g = 0; g < 4; g++) dq_put(o + 8 * g, _mm256_mul_ps(g < 2 ? d0 : d1, dq_widen(q, g)), mode);
            }
        }
    }
}


// F16: each half widened. F16C's conversion is exact but quiets a signaling NaN; NumPy (and
// the portable loop) keep a NaN's payload as it is, so NaN lanes are rebuilt from their bits:
// the sign, an all-ones exponent and the 10 payload bits at the top of the mantissa. Weights
// rarely hold a NaN, so 16 halves are widened at a time and the rebuild runs only for a group
// that has one (a NaN stays NaN through the conversion: one unordered compare finds it).
DQ_INLINE __m256 dq_f16_nan_fix(__m128i h, __m256 f) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFF), infinity = _mm256_set1_epi32(0x7C00);
    const __m256i sign = _mm256_set1_epi32(0x8000), payload = _mm256_set1_epi32(0x03FF);
    const __m256i exponent = _mm256_set1_epi32(0x7F800000);
    __m256i w = _mm256_cvtepu16_epi32(h);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(w, magnitude), infinity);
    __m256i bits = _mm256_or_si256(_mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(w, sign), 16), exponent),
                                   _mm256_slli_epi32(_mm256_and_si256(w, payload), 13));
    return _mm256_blendv_ps(f, _mm256_castsi256_ps(bits), _mm256_castsi256_ps(nan));
}

DQ_INLINE void dq_f16(const uint8_t *src, size_t count, float *out, int mode) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m128i h0 = _mm_loadu_si128((const __m128i *)(src + 2 * i));
        __m128i h1 = _mm_loadu_si128((const __m128i *)(src + 2 * i + 16));
        __m256 f0 = _mm256_cvtph_ps(h0), f1 = _mm256_cvtph_ps(h1);
        __m256 unordered = _mm256_or_ps(_mm256_cmp_ps(f0, f0, _CMP_UNORD_Q), _mm256_cmp_ps(f1, f1, _CMP_UNORD_Q));
        if (__builtin_expect(!_mm256_testz_ps(unordered, unordered), 0)) {
            f0 = dq_f16_nan_fix(h0, f0);
            f1 = dq_f16_nan_fix(h1, f1);
        }
        dq_put(out + i, f0, mode);
        dq_put(out + i + 8, f1, mode);
    }
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * i));
        dq_put(out + i, dq_f16_nan_fix(h, _mm256_cvtph_ps(h)), mode);
    }
    for (; i < count; i++) out[i] = dq_half(dq_u16(src + 2 * i));
}

// BF16: the 16 bits as the high half of a binary32.
DQ_INLINE void dq_bf16(const uint8_t *src, size_t count, float *out, int mode) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + 2 * i)));
        dq_put(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)), mode);
    }
    for (; i < count; i++) {
        uint32_t bits = (uint32_t)dq_u16(src + 2 * i) << 16;
        memcpy(out + i, &bits, 4);
    }
}

// IQ4_NL: x = d × grid[q], the 16 levels as signed bytes, looked up 32 at a time.
DQ_INLINE void dq_iq4_nl(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i levels = _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                            -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    for (size_t b = 0; b < blocks; b++, src += 18, out += 32) {
        __m256 d = _mm256_set1_ps(dq_half(dq_u16(src)));
        dq_scaled(_mm256_shuffle_epi8(levels, dq_nibbles16(src + 2)), d, out, mode);
    }
}

// TQ2_0: x = d × (q − 1), the 2-bit quants laid out as Q2_K's.
DQ_INLINE void dq_tq2_0(const uint8_t *src, size_t blocks, float *out, int mode) {
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (size_t b = 0; b < blocks; b++, src += 66, out += 256) {
        __m256 d = _mm256_set1_ps(dq_half(dq_u16(src + 64)));
        for (int half = 0; half < 2; half++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(src + 32 * half));
            for (int shift = 0; shift < 4; shift++) {
                __m256i q = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(bytes, 2 * shift), three), one);
                dq_scaled(q, d, out + 128 * half + 32 * shift, mode);
            }
        }
    }
}

// Digit n − 1 of each of 32 bytes v (digit n of v is ⌊3 × (v × 3ⁿ mod 256) / 256⌋), with
// `power` = 3ⁿ: the products in 16-bit lanes, even and odd bytes apart.
DQ_TARGET static inline __m256i dq_ternary(__m256i v, int power) {
    const __m256i low = _mm256_set1_epi16(0x00FF), p = _mm256_set1_epi16((short)power), three = _mm256_set1_epi16(3);
    __m256i even = _mm256_and_si256(_mm256_mullo_epi16(v, p), low);
    __m256i odd = _mm256_and_si256(_mm256_mullo_epi16(_mm256_srli_epi16(v, 8), p), low);
    even = _mm256_srli_epi16(_mm256_mullo_epi16(even, three), 8);
    odd = _mm256_srli_epi16(_mm256_mullo_epi16(odd, three), 8);
    return _mm256_sub_epi8(_mm256_or_si256(even, _mm256_slli_epi16(odd, 8)), _mm256_set1_epi8(1));
}

// TQ1_0: x = d × (digit − 1); elements 32n + l from bytes l < 32, 160 + 16n + l from bytes
// 32 + l (l < 16), 240 + 4n + l from bytes 48 + l (l < 4, n < 4).
DQ_INLINE void dq_tq1_0(const uint8_t *src, size_t blocks, float *out, int mode) {
    static const int powers[5] = {1, 3, 9, 27, 81};
    for (size_t b = 0; b < blocks; b++, src += 54, out += 256) {
        float dv = dq_half(dq_u16(src + 52));
        __m256 d = _mm256_set1_ps(dv);
        __m256i first = _mm256_loadu_si256((const __m256i *)src);
        // Bytes 32–47, then 48–51 (the rest of the register is not used).
        __m256i second = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(src + 32)));
        for (int n = 0; n < 5; n++) {
            dq_scaled(dq_ternary(first, powers[n]), d, out + 32 * n, mode);
            __m256i q = dq_ternary(second, powers[n]);
            dq_put(out + 160 + 16 * n, _mm256_mul_ps(dq_widen(q, 0), d), mode);
            dq_put(out + 168 + 16 * n, _mm256_mul_ps(dq_widen(q, 1), d), mode);
        }
        // The last 16 values go out as two vectors too: an ordinary store into a line that
        // non-temporal stores are filling stalls until the line is written out.
        float tail[16];
        for (int n = 0; n < 4; n++) {
            for (int l = 0; l < 4; l++) {
                int digit = (((src[48 + l] * powers[n]) & 0xFF) * 3 >> 8) - 1;
                tail[4 * n + l] = dv * (float)digit;
            }
        }
        dq_put(out + 240, _mm256_loadu_ps(tail), mode);
        dq_put(out + 248, _mm256_loadu_ps(tail + 8), mode);
    }
}

// The IQ2 and IQ3 formats: 8 (or twice 4) grid values times a scale, and a sign per value.
// A set sign negates the product, except a NaN, which keeps its sign: what NumPy's × −1
// gives (the instruction returns the NaN operand), and what the portable loop computes.
DQ_TARGET static inline __m256 dq_signed(__m256 v, unsigned signs) {
    const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i set = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)signs), bits), bits);
    __m256 flip = _mm256_and_ps(_mm256_castsi256_ps(set), _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    return _mm256_xor_ps(v, _mm256_and_ps(flip, _mm256_set1_ps(-0.0f)));
}

// out[0..8) = ±(scale × grid entry `entry` of 8).
DQ_INLINE void dq_grid8(const float *grid, int entry, float scale, unsigned signs, float *out, int mode) {
    __m256 v = _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_loadu_ps(grid + 8 * entry));
    dq_put(out, dq_signed(v, signs), mode);
}

// out[0..8) = ±(scale × grid entries `first` and `second` of 4).
DQ_INLINE void dq_grid4(const float *grid, int first, int second, float scale, unsigned signs, float *out, int mode) {
    __m256 g = _mm256_set_m128(_mm_loadu_ps(grid + 4 * second), _mm_loadu_ps(grid + 4 * first));
    dq_put(out, dq_signed(_mm256_mul_ps(_mm256_set1_ps(scale), g), signs), mode);
}

// IQ2_XXS: per 32, two u32: four grid bytes, then four 7-bit sign indices and a scale s on
// top; x = ±((d × (0.5 + s)) × 0.25) × grid.
DQ_INLINE void dq_iq2_xxs(const uint8_t *src, size_t blocks, float *out, int mode, const float *grid, const uint8_t *signs) {
    for (size_t b = 0; b < blocks; b++, src += 66, out += 256) {
        float d = dq_half(dq_u16(src));
        for (int group = 0; group < 8; group++) {
            uint32_t indices = dq_u32(src + 2 + 8 * group), aux = dq_u32(src + 6 + 8 * group);
            float db = d * (0.5f + (float)(aux >> 28)) * 0.25f;
            for (int k = 0; k < 4; k++) {
                dq_grid8(grid, (indices >> (8 * k)) & 0xFF, db, signs[(aux >> (7 * k)) & 0x7F], out + 32 * group + 8 * k, mode);
            }
        }
    }
}

// IQ2_XS: 32 u16 of a 9-bit grid index and a 7-bit sign index; 4-bit scales per 16.
DQ_INLINE void dq_iq2_xs(const uint8_t *src, size_t blocks, float *out, int mode, const float *grid, const uint8_t *signs) {
    for (size_t b = 0; b < blocks; b++, src += 74, out += 256) {
        float d = dq_half(dq_u16(src));
        for (int k = 0; k < 32; k++) {
            int scale = (src[66 + k / 4] >> (4 * ((k / 2) & 1))) & 0x0F;
            float db = d * (0.5f + (float)scale) * 0.25f;
            uint16_t q = dq_u16(src + 2 + 2 * k);
            dq_grid8(grid, q & 511, db, signs[q >> 9], out + 8 * k, mode);
        }
    }
}

// IQ2_S: 10-bit grid indices (a byte and 2 high bits), sign bytes, 4-bit scales per 16.
DQ_INLINE void dq_iq2_s(const uint8_t *src, size_t blocks, float *out, int mode, const float *grid) {
    for (size_t b = 0; b < blocks; b++, src += 82, out += 256) {
        float d = dq_half(dq_u16(src));
        for (int k = 0; k < 32; k++) {
            int scale = (src[74 + k / 4] >> (4 * ((k / 2) & 1))) & 0x0F;
            float db = d * (0.5f + (float)scale) * 0.25f;
            int entry = src[2 + k] | ((src[66 + k / 4] >> (2 * (k & 3))) & 3) << 8;
            dq_grid8(grid, entry, db, src[34 + k], out + 8 * k, mode);
        }
    }
}

// IQ3_XXS: grid bytes (entries of 4); per 32 a u32 of four sign indices and a scale s;
// x = ±((d × (0.5 + s)) × 0.5) × grid.
DQ_INLINE void dq_iq3_xxs(const uint8_t *src, size_t blocks, float *out, int mode, const float *grid, const uint8_t *signs) {
    for (size_t b = 0; b < blocks; b++, src += 98, out += 256) {
        float d = dq_half(dq_u16(src));
        for (int group = 0; group < 8; group++) {
            uint32_t aux = dq_u32(src + 66 + 4 * group);
            float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            for (int k = 0; k < 4; k++) {
                const uint8_t *first = src + 2 + 8 * group + 2 * k;
                dq_grid4(grid, first[0], first[1], db, signs[(aux >> (7 * k)) & 0x7F], out + 32 * group + 8 * k, mode);
            }
        }
    }
}

// IQ3_S: 9-bit grid indices (a byte and a high bit), sign bits, 4-bit scales per 32;
// x = ±(d × (1 + 2s)) × grid.
DQ_INLINE void dq_iq3_s(const uint8_t *src, size_t blocks, float *out, int mode, const float *grid) {
    for (size_t b = 0; b < blocks; b++, src += 110, out += 256) {
        float d = dq_half(dq_u16(src));
        for (int pair = 0; pair < 32; pair++) {
            int k = 2 * pair, group = k / 8;
            int scale = (src[106 + group / 2] >> (4 * (group & 1))) & 0x0F;
            float db = d * (float)(1 + 2 * scale);
            int high = src[66 + k / 8];
            int first = src[2 + k] | ((high >> (k & 7)) & 1) << 8, second = src[3 + k] | ((high >> ((k + 1) & 7)) & 1) << 8;
            dq_grid4(grid, first, second, db, src[74 + pair], out + 4 * k, mode);
        }
    }
}

typedef void (*dq_kernel)(const uint8_t *, size_t, float *);

#define DQ_MODES(name) \
    DQ_TARGET static void name##_store(const uint8_t *s, size_t b, float *o) { name(s, b, o, DQ_STORE); } \
    DQ_TARGET static void name##_stream32(const uint8_t *s, size_t b, float *o) { name(s, b, o, DQ_STREAM32); } \
    DQ_TARGET static void name##_stream16(const uint8_t *s, size_t b, float *o) { name(s, b, o, DQ_STREAM16); }
DQ_MODES(dq_q4_0)
DQ_MODES(dq_q4_1)
DQ_MODES(dq_q5_0)
DQ_MODES(dq_q5_1)
DQ_MODES(dq_q8_0)
DQ_MODES(dq_q2_K)
DQ_MODES(dq_q3_K)
DQ_MODES(dq_q4_K)
DQ_MODES(dq_q5_K)
DQ_MODES(dq_q6_K)
DQ_MODES(dq_f16)
DQ_MODES(dq_bf16)
DQ_MODES(dq_iq4_nl)
DQ_MODES(dq_tq2_0)
DQ_MODES(dq_tq1_0)

// The grid formats take their tables too (WeightsCore's expanded grids, and the 128 sign
// patterns).
typedef void (*dq_grid_kernel)(const uint8_t *, size_t, float *, const float *, const uint8_t *);
#define DQ_GRID_MODES(name, call) \
    DQ_TARGET static void name##_store(const uint8_t *s, size_t b, float *o, const float *g, const uint8_t *k) { (void)k; call(DQ_STORE); } \
    DQ_TARGET static void name##_stream32(const uint8_t *s, size_t b, float *o, const float *g, const uint8_t *k) { (void)k; call(DQ_STREAM32); } \
    DQ_TARGET static void name##_stream16(const uint8_t *s, size_t b, float *o, const float *g, const uint8_t *k) { (void)k; call(DQ_STREAM16); }
#define DQ_IQ2_XXS(mode) dq_iq2_xxs(s, b, o, mode, g, k)
#define DQ_IQ2_XS(mode) dq_iq2_xs(s, b, o, mode, g, k)
#define DQ_IQ2_S(mode) dq_iq2_s(s, b, o, mode, g)
#define DQ_IQ3_XXS(mode) dq_iq3_xxs(s, b, o, mode, g, k)
#define DQ_IQ3_S(mode) dq_iq3_s(s, b, o, mode, g)
DQ_GRID_MODES(dq_iq2_xxs, DQ_IQ2_XXS)
DQ_GRID_MODES(dq_iq2_xs, DQ_IQ2_XS)
DQ_GRID_MODES(dq_iq2_s, DQ_IQ2_S)
DQ_GRID_MODES(dq_iq3_xxs, DQ_IQ3_XXS)
DQ_GRID_MODES(dq_iq3_s, DQ_IQ3_S)

#define DQ_PICK(name, mode) ((mode) == DQ_STREAM32 ? name##_stream32 : (mode) == DQ_STREAM16 ? name##_stream16 : name##_store)

static dq_kernel dq_select(int type, int mode) {
    switch (type) {
    case WEIGHTS_GGML_Q4_0: return DQ_PICK(dq_q4_0, mode);
    case WEIGHTS_GGML_Q4_1: return DQ_PICK(dq_q4_1, mode);
    case WEIGHTS_GGML_Q5_0: return DQ_PICK(dq_q5_0, mode);
    case WEIGHTS_GGML_Q5_1: return DQ_PICK(dq_q5_1, mode);
    case WEIGHTS_GGML_Q8_0: return DQ_PICK(dq_q8_0, mode);
    case WEIGHTS_GGML_Q2_K: return DQ_PICK(dq_q2_K, mode);
    case WEIGHTS_GGML_Q3_K: return DQ_PICK(dq_q3_K, mode);
    case WEIGHTS_GGML_Q4_K: return DQ_PICK(dq_q4_K, mode);
    case WEIGHTS_GGML_Q5_K: return DQ_PICK(dq_q5_K, mode);
    case WEIGHTS_GGML_Q6_K: return DQ_PICK(dq_q6_K, mode);
    case WEIGHTS_GGML_F16: return DQ_PICK(dq_f16, mode);
    case WEIGHTS_GGML_BF16: return DQ_PICK(dq_bf16, mode);
    case WEIGHTS_GGML_IQ4_NL: return DQ_PICK(dq_iq4_nl, mode);
    case WEIGHTS_GGML_TQ2_0: return DQ_PICK(dq_tq2_0, mode);
    case WEIGHTS_GGML_TQ1_0: return DQ_PICK(dq_tq1_0, mode);
    default: return NULL;
    }
}

static dq_grid_kernel dq_select_grid(int type, int mode) {
    switch (type) {
    case WEIGHTS_GGML_IQ2_XXS: return DQ_PICK(dq_iq2_xxs, mode);
    case WEIGHTS_GGML_IQ2_XS: return DQ_PICK(dq_iq2_xs, mode);
    case WEIGHTS_GGML_IQ2_S: return DQ_PICK(dq_iq2_s, mode);
    case WEIGHTS_GGML_IQ3_XXS: return DQ_PICK(dq_iq3_xxs, mode);
    case WEIGHTS_GGML_IQ3_S: return DQ_PICK(dq_iq3_s, mode);
    default: return NULL;
    }
}

static bool dq_cpu_avx2(void) { return weights_cpu_has_f16c(); }  // AVX2 and F16C

bool weights_ggml_dequantize_accelerated(int type) {
    return dq_cpu_avx2() && (dq_select(type, DQ_STORE) != NULL || dq_select_grid(type, DQ_STORE) != NULL);
}

bool weights_ggml_dequantize(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel) {
    if (kernel == WEIGHTS_KERNEL_PORTABLE || !dq_cpu_avx2()) return false;
    int mode = DQ_STORE;
    if (streaming) mode = (uintptr_t)out % 32 == 0 ? DQ_STREAM32 : (uintptr_t)out % 16 == 0 ? DQ_STREAM16 : DQ_STORE;
    dq_kernel decode = dq_select(type, mode);
    if (decode == NULL) return false;
    decode((const uint8_t *)src, blocks, out);
    // Non-temporal stores are weakly ordered: fence them, so that whoever this thread
    // hands the output to (the caller's join) sees every value.
    if (mode != DQ_STORE) _mm_sfence();
    return true;
}

bool weights_ggml_dequantize_grid(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel,
                                  const float *grid, const uint8_t *signs) {
    if (kernel == WEIGHTS_KERNEL_PORTABLE || !dq_cpu_avx2() || grid == NULL) return false;
    int mode = DQ_STORE;
    if (streaming) mode = (uintptr_t)out % 32 == 0 ? DQ_STREAM32 : (uintptr_t)out % 16 == 0 ? DQ_STREAM16 : DQ_STORE;
    dq_grid_kernel decode = dq_select_grid(type, mode);
    if (decode == NULL) return false;
    decode((const uint8_t *)src, blocks, out, grid, signs);
    // Non-temporal stores are weakly ordered: fence them, so that whoever this thread
    // hands the output to (the caller's join) sees every value.
    if (mode != DQ_STORE) _mm_sfence();
    return true;
}

#else

bool weights_ggml_dequantize_accelerated(int type) { (void)type; return false; }

bool weights_ggml_dequantize(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel) {
    (void)type; (void)src; (void)blocks; (void)out; (void)streaming; (void)kernel;
    return false;
}

bool weights_ggml_dequantize_grid(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel,
                                  const float *grid, const uint8_t *signs) {
    (void)type; (void)src; (void)blocks; (void)out; (void)streaming; (void)kernel; (void)grid; (void)signs;
    return false;
}

#endif
