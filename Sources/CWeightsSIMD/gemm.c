// C = A · Bᵀ in single precision, for the encoder's linear layers.
//
// Why our own: OpenBLAS picks its kernels once, when it loads, and an environment that sets
// OPENBLAS_CORETYPE=Haswell keeps it on AVX2 even on an AVX-512 CPU, half the speed. This one
// checks the CPU itself. It also reads the weights (B) in their stored precision (F16, INT8,
// or the hub's INT4, INT8 and FP8 layouts with their scales) and converts them while packing,
// so no widened copy of the whole matrix is ever made.
//
// The structure is the usual one for a cache-blocked GEMM:
//
//   for each block of NC columns of C (rows of B)
//     for each block of KC of the depth k
//       for each block of MC rows of A
//         pack A's block into MR-tall micro-panels, k-major, zero-padded past m    (L2)
//         for each NR-wide panel of B
//           (first A block only) pack it, k-major, zero-padded past n; later blocks
//           reuse it                                                               (L2/L3)
//           for each MR-tall panel of A
//             microkernel: an MR × NR tile of C in 28 zmm registers, one rank-1 update
//             (2 loads of B, MR broadcasts of A, 2·MR FMAs) per step of k
//
// The first KC block writes C, later ones add to it: C is never read before it is written,
// so its old contents (NaN included) never leak into the result.
//
// Packing transposes 16 × 16 blocks in registers: both operands arrive row-major with k
// contiguous, and the microkernel wants k outermost.

#include "CWeightsSIMD.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define WEIGHTS_X86 1
#endif

// --- Quantized formats ------------------------------------------------------------------

static inline int is_scaled_format(int format) {
    return format == WEIGHTS_GEMM_PACKED4 || format == WEIGHTS_GEMM_PACKED8 || format == WEIGHTS_GEMM_F8E4M3;
}

// float8_e4m3fn to binary32, exactly: the 7 bits below the sign, moved to the top of a
// binary32 exponent and fraction, give the value times 2^-120 for normal and subnormal inputs
// alike (a subnormal FP8 becomes a subnormal binary32), and the multiplication by 2^120 is
// exact. 0x7F and 0xFF are NaN; the format has no infinity.
static inline float e4m3_to_f32(uint8_t byte) {
    uint32_t magnitude = byte & 0x7F, bits = ((uint32_t)(byte & 0x80) << 24) | (magnitude << 20);
    if (magnitude == 0x7F) bits = ((uint32_t)(byte & 0x80) << 24) | 0x7FC00000u;
    float value;
    memcpy(&value, &bits, sizeof value);
    return magnitude == 0x7F ? value : value * 0x1p120f;
}

// Entries [from, from + count) of row `row` of a B in a scaled format, as floats: q × scale,
// rounded to the scale's product format.
static void b_row_scaled(const void *b, size_t ldb, int format, const weights_gemm_scales *q,
                         size_t row, size_t from, size_t count, float *out) {
    const float *scales = q->scales + ((q->first_row + row) / q->group_rows) * q->scales_per_row;
    const uint8_t *bytes = b;
    for (size_t p = 0; p < count; p++) {
        size_t column = from + p;
        int level;
        float value;
        switch (format) {
        case WEIGHTS_GEMM_PACKED4:
            // Two entries to a byte, the first in the low nibble (ldb is even).
            level = (int)((bytes[(row * ldb + column) / 2] >> (4 * (column & 1))) & 0xF) - 8;
            value = (float)level;
            break;
        case WEIGHTS_GEMM_PACKED8:
            level = (int)bytes[row * ldb + column] - 128;
            value = (float)level;
            break;
        default:
            value = e4m3_to_f32(bytes[row * ldb + column]);
        }
        out[p] = value * scales[column / q->group_columns];
    }
    // One rounding of the product to the scale's format (it is exact in binary32: q has at most
    // 4 significant bits, a binary16 or bfloat16 scale at most 11).
    if (q->product == WEIGHTS_GEMM_F16 || q->product == WEIGHTS_GEMM_BF16) {
        uint16_t halves[256];
        for (size_t p = 0; p < count; p += 256) {
            size_t chunk = count - p < 256 ? count - p : 256;
            if (q->product == WEIGHTS_GEMM_F16) {
                weights_f32_to_f16(out + p, halves, chunk, WEIGHTS_KERNEL_PORTABLE);
                weights_f16_to_f32(halves, out + p, chunk, WEIGHTS_KERNEL_PORTABLE);
            } else {
                weights_f32_to_bf16(out + p, halves, chunk, WEIGHTS_KERNEL_PORTABLE);
                weights_bf16_to_f32(halves, out + p, chunk, WEIGHTS_KERNEL_PORTABLE);
            }
        }
    }
}

// --- Portable ---------------------------------------------------------------------------

// B's row `row`, elements [from, from + count), as floats.
static void b_row_floats(const void *b, size_t ldb, int format, const float *scales, const weights_gemm_scales *q,
                         size_t row, size_t from, size_t count, float *out) {
    if (is_scaled_format(format)) {
        b_row_scaled(b, ldb, format, q, row, from, count, out);
        return;
    }
    switch (format) {
    case WEIGHTS_GEMM_F16:
        weights_f16_to_f32((const uint16_t *)b + row * ldb + from, out, count, WEIGHTS_KERNEL_BEST);
        break;
    case WEIGHTS_GEMM_INT8: {
        const int8_t *q = (const int8_t *)b + row * ldb + from;
        for (size_t p = 0; p < count; p++) out[p] = (float)q[p] * scales[row];
        break;
    }
    default:
        memcpy(out, (const float *)b + row * ldb + from, count * sizeof(float));
    }
}

// One dot product per element, B converted a chunk at a time: slow, small, and needs no
// allocation, so it is also the answer when a packing buffer cannot be had.
static void sgemm_portable(size_t m, size_t n, size_t k, const float *a, size_t lda,
                           const void *b, size_t ldb, int format, const float *scales,
                           const weights_gemm_scales *q, float *c, size_t ldc) {
    enum { CHUNK = 256 };
    float row[CHUNK];
    for (size_t j = 0; j < n; j++) {
        if (k == 0) {
            for (size_t i = 0; i < m; i++) c[i * ldc + j] = 0;
        }
        for (size_t from = 0; from < k; from += CHUNK) {
            size_t count = k - from < CHUNK ? k - from : CHUNK;
            b_row_floats(b, ldb, format, scales, q, j, from, count, row);
            for (size_t i = 0; i < m; i++) {
                const float *x = a + i * lda + from;
                float sum = from == 0 ? 0 : c[i * ldc + j];
                for (size_t p = 0; p < count; p++) sum += x[p] * row[p];
                c[i * ldc + j] = sum;
            }
        }
    }
}

#ifdef WEIGHTS_X86

// --- AVX-512 ----------------------------------------------------------------------------

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,fma")))

// Tile and block sizes, measured on a Zen 5 core (48 KB L1D, 1 MB L2). MR × NR accumulators
// (28 zmm) plus two of B and a broadcast fill the 32 registers. A deep KC keeps C out of the
// inner loops (k = 384 is one block, 1536 two) and beat 256 by 10-20 %, though the KC × NR
// panel of B (96 KB) then streams from L2 rather than staying in L1; L2 keeps up. MC × KC
// floats of A (300 KB) stay in L2 while the panels of B pass. NC × KC bounds the packed B
// block; with it each thread's buffer is (NC + MC) × KC floats, 2.7 MB.
#define MR 14
#define NR 32
#define KC 768
#define MC (7 * MR)
#define NC 768

static inline size_t min_size(size_t x, size_t y) { return x < y ? x : y; }
static inline __mmask16 lanes(size_t count) { return count >= 16 ? 0xFFFF : (__mmask16)((1u << count) - 1); }

// Transposes the 16 × 16 block rows[0..15] in place: rows[c] becomes column c.
AVX512_TARGET static inline void transpose16(__m512 rows[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(rows[i], rows[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(rows[i], rows[i + 1]);
    }
    // u[4g + c], 128-bit lane L: column 4L + c of rows 4g … 4g + 3.
    for (int g = 0; g < 4; g++) {
        u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
    // Column 4L + c gathers lane L of u[c], u[4 + c], u[8 + c], u[12 + c].
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
        __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        rows[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        rows[4 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        rows[8 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        rows[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

// The 16 consecutive elements of B's row `row` from `from`, as floats, zero outside `mask`
// (`mask` covers the first elements: those inside the row).
AVX512_TARGET static inline __m512 load_b(const void *b, size_t ldb, int format, const float *scales,
                                          const weights_gemm_scales *q, size_t row, size_t from, __mmask16 mask) {
    if (is_scaled_format(format)) {
        // Widened one entry at a time, by the same function as every other path, so that
        // all give the same values; packing costs O(n × k), the product O(m × n × k).
        float values[16];
        size_t count = (size_t)__builtin_popcount(mask);
        b_row_scaled(b, ldb, format, q, row, from, count, values);
        return _mm512_maskz_loadu_ps(mask, values);
    }
    switch (format) {
    case WEIGHTS_GEMM_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)b + row * ldb + from));
    case WEIGHTS_GEMM_INT8: {
        __m512i q = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, (const int8_t *)b + row * ldb + from));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(scales[row]));
    }
    default:
        return _mm512_maskz_loadu_ps(mask, (const float *)b + row * ldb + from);
    }
}

// The byte offset of element (row, p) of B.
static inline size_t b_offset(int format, size_t ldb, size_t row, size_t p) {
    size_t index = row * ldb + p;
    switch (format) {
    case WEIGHTS_GEMM_F16: return index * 2;
    case WEIGHTS_GEMM_PACKED4: return index / 2;
    case WEIGHTS_GEMM_INT8: case WEIGHTS_GEMM_PACKED8: case WEIGHTS_GEMM_F8E4M3: return index;
    default: return index * 4;
    }
}

// How far ahead in each row of B packing asks for data. The weights come from memory on every
// product (they outgrow L3), and 16 or 32 short row streams at once are more than the hardware
// prefetcher follows well.
#define B_AHEAD 256

// Asks for the first B_AHEAD bytes of rows [from, to) of B from depth p0: the start of the next
// panel, fetched while the current one computes.
AVX512_TARGET static void prefetch_b(const void *b, size_t ldb, int format, size_t from, size_t to, size_t p0) {
    for (size_t row = from; row < to; row++) {
        const char *start = (const char *)b + b_offset(format, ldb, row, p0);
        for (size_t offset = 0; offset < B_AHEAD; offset += 64) _mm_prefetch(start + offset, _MM_HINT_T0);
    }
}

// Packs rows [j0, j0 + rows) × depth [p0, p0 + kc) of B, rows <= NR, as a panel of kc × NR
// floats: panel[p][jj] = B[j0 + jj][p0 + p], zero for jj >= rows.
AVX512_TARGET static void pack_b(const void *b, size_t ldb, int format, const float *scales,
                                 const weights_gemm_scales *q, size_t j0, size_t rows, size_t p0, size_t kc,
                                 float *packed) {
    for (size_t half = 0; half < NR; half += 16) {
        size_t count = half < rows ? min_size(16, rows - half) : 0;
        for (size_t p = 0; p < kc; p += 16) {
            size_t depth = min_size(16, kc - p);
            __m512 block[16];
            for (size_t r = 0; r < 16; r++) {
                if (r < count) {
                    size_t row = j0 + half + r;
                    _mm_prefetch((const char *)b + b_offset(format, ldb, row, p0 + p) + B_AHEAD, _MM_HINT_T0);
                    block[r] = load_b(b, ldb, format, scales, q, row, p0 + p, lanes(depth));
                } else {
                    block[r] = _mm512_setzero_ps();
                }
            }
            transpose16(block);
            for (size_t d = 0; d < depth; d++) _mm512_store_ps(packed + (p + d) * NR + half, block[d]);
        }
    }
}

// Packs rows [i0, i0 + mc) × depth [p0, p0 + kc) of A as ceil(mc / MR) panels of kc × MR
// floats: panel[p][ii] = A[i0 + ii][p0 + p], zero for rows past mc.
AVX512_TARGET static void pack_a(const float *a, size_t lda, size_t i0, size_t mc, size_t p0, size_t kc,
                                 float *packed) {
    for (size_t ir = 0; ir < mc; ir += MR, packed += kc * MR) {
        size_t rows = min_size(MR, mc - ir);
        for (size_t p = 0; p < kc; p += 16) {
            size_t depth = min_size(16, kc - p);
            __m512 block[16];
            for (size_t r = 0; r < 16; r++) {
                block[r] = r < rows ? _mm512_maskz_loadu_ps(lanes(depth), a + (i0 + ir + r) * lda + p0 + p)
                                    : _mm512_setzero_ps();
            }
            transpose16(block);
            for (size_t d = 0; d < depth; d++) _mm512_mask_storeu_ps(packed + (p + d) * MR, lanes(MR), block[d]);
        }
    }
}

// The MR × NR tile at `c` = (or += when `accumulate`) the product of a kc-deep panel of A and
// one of B. Only `rows` rows and the columns in `mask0`/`mask1` are written.
AVX512_TARGET static void microkernel(size_t kc, const float *restrict a, const float *restrict b,
                                      float *c, size_t ldc, size_t rows, __mmask16 mask0, __mmask16 mask1,
                                      int accumulate) {
    __m512 c0[MR], c1[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    // On a large batch the tile of C is far from L1: start fetching it while the loop runs.
    for (size_t i = 0; i < rows; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    for (size_t p = 0; p < kc; p++, a += MR, b += NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < MR; i++) {
            __m512 x = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(x, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(x, b1, c1[i]);
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < MR; i++) {
        if ((size_t)i >= rows) break;
        float *row = c + i * ldc;
        if (accumulate) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(mask0, row));
            c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(mask1, row + 16));
        }
        _mm512_mask_storeu_ps(row, mask0, c0[i]);
        _mm512_mask_storeu_ps(row + 16, mask1, c1[i]);
    }
}

// Each thread keeps one packing buffer for its lifetime, freed when the thread exits: sizing
// it per call would cost page faults on every product of a small batch.
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static _Thread_local float *thread_buffer;

static void make_buffer_key(void) { pthread_key_create(&buffer_key, free); }

static float *packing_buffer(void) {
    if (!thread_buffer) {
        size_t bytes = (size_t)(NC + MC) * KC * sizeof(float);  // a multiple of 64
        pthread_once(&buffer_once, make_buffer_key);
        thread_buffer = aligned_alloc(64, bytes);
        if (thread_buffer) pthread_setspecific(buffer_key, thread_buffer);
    }
    return thread_buffer;
}

AVX512_TARGET static void sgemm_avx512(size_t m, size_t n, size_t k, const float *a, size_t lda,
                                       const void *b, size_t ldb, int format, const float *scales,
                                       const weights_gemm_scales *q, float *c, size_t ldc, float *buffer) {
    float *packed_b = buffer, *packed_a = buffer + (size_t)NC * KC;
    // Equal KC blocks, so that k = KC + 1 does not run a 1-deep block.
    size_t k_blocks = (k + KC - 1) / KC;
    size_t depth = (k + k_blocks - 1) / k_blocks;
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nc = min_size(NC, n - jc);
        for (size_t pc = 0; pc < k; pc += depth) {
            size_t kc = min_size(depth, k - pc);
            for (size_t ic = 0; ic < m; ic += MC) {
                size_t mc = min_size(MC, m - ic);
                if (ic == 0) prefetch_b(b, ldb, format, jc, jc + min_size(NR, nc), pc);
                pack_a(a, lda, ic, mc, pc, kc, packed_a);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t columns = nc - jr;
                    // Each panel of B is packed just before its first use, while it is still
                    // in L1 and L2: the weights come from memory, and a whole packed block
                    // would be out of L2 again by the time the first tiles read it.
                    if (ic == 0) pack_b(b, ldb, format, scales, q, jc + jr, min_size(NR, columns), pc, kc, packed_b + jr * kc);
                    __mmask16 mask0 = lanes(columns), mask1 = columns > 16 ? lanes(columns - 16) : 0;
                    if (ic == 0 && jr + NR < nc) prefetch_b(b, ldb, format, jc + jr + NR, jc + min_size(jr + 2 * NR, nc), pc);
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        microkernel(kc, packed_a + ir * kc, packed_b + jr * kc,
                                    c + (ic + ir) * ldc + jc + jr, ldc, min_size(MR, mc - ir), mask0, mask1, pc > 0);
                    }
                }
            }
        }
    }
}

#endif  // WEIGHTS_X86

// --- Dispatch ---------------------------------------------------------------------------

bool weights_sgemm_accelerated(void) { return weights_cpu_has_avx512(); }

static void sgemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda,
                     const void *b, size_t ldb, int b_format, const float *b_scales,
                     const weights_gemm_scales *q, float *c, size_t ldc, int kernel) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(float));
        return;
    }
#ifdef WEIGHTS_X86
    float *buffer;
    if (kernel != WEIGHTS_KERNEL_PORTABLE && weights_sgemm_accelerated() && (buffer = packing_buffer())) {
        sgemm_avx512(m, n, k, a, lda, b, ldb, b_format, b_scales, q, c, ldc, buffer);
        return;
    }
#endif
    sgemm_portable(m, n, k, a, lda, b, ldb, b_format, b_scales, q, c, ldc);
}

void weights_sgemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda,
                      const void *b, size_t ldb, int b_format, const float *b_scales,
                      float *c, size_t ldc, int kernel) {
    sgemm_nt(m, n, k, a, lda, b, ldb, b_format, b_scales, NULL, c, ldc, kernel);
}

void weights_sgemm_nt_scaled(size_t m, size_t n, size_t k, const float *a, size_t lda,
                             const void *b, size_t ldb, int b_format, const weights_gemm_scales *scales,
                             float *c, size_t ldc, int kernel) {
    sgemm_nt(m, n, k, a, lda, b, ldb, b_format, NULL, scales, c, ldc, kernel);
}

void weights_gemm_widen(const void *b, size_t ldb, int b_format, const weights_gemm_scales *scales,
                        size_t rows, size_t k, float *out) {
    for (size_t row = 0; row < rows; row++) b_row_floats(b, ldb, b_format, NULL, scales, row, 0, k, out + row * k);
}
