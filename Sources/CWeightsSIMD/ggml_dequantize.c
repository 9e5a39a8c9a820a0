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
    default: return NULL;
    }
}

static bool dq_cpu_avx2(void) {
    static int cached = -1;  // -1: not yet checked; races only ever store the same value
    int state = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (state < 0) {
        state = weights_cpu_has_f16c() ? 1 : 0;  // AVX2 and F16C
        __atomic_store_n(&cached, state, __ATOMIC_RELAXED);
    }
    return state;
}

bool weights_ggml_dequantize_accelerated(int type) {
    return dq_cpu_avx2() && dq_select(type, DQ_STORE) != NULL;
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

#else

bool weights_ggml_dequantize_accelerated(int type) { (void)type; return false; }

bool weights_ggml_dequantize(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel) {
    (void)type; (void)src; (void)blocks; (void)out; (void)streaming; (void)kernel;
    return false;
}

#endif
