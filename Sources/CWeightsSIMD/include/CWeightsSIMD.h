#ifndef CWEIGHTS_SIMD_H
#define CWEIGHTS_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// Run-time CPU checks (cpu.c): each is asked once and remembered. WEIGHTS_MAX_ISA=avx2 in the
// environment caps them below AVX-512, =portable below AVX2 (every check false).

/// True when the CPU has AVX2 and F16C.
bool weights_cpu_has_f16c(void);

/// True when the CPU has AVX2.
bool weights_cpu_has_avx2(void);

/// True when the CPU has AVX2, FMA and F16C.
bool weights_cpu_has_avx2_fma(void);

/// True when the CPU has AVX-512 F, VL and BW besides AVX2, FMA and F16C.
bool weights_cpu_has_avx512(void);

/// True when the CPU has AVX-512 VNNI besides everything `weights_cpu_has_avx512` checks.
bool weights_cpu_has_avx512_vnni(void);

/// Kernel choice for the conversions below: the fastest the CPU runs, or the portable C
/// loop (same bits, for testing and comparison).
#define WEIGHTS_KERNEL_BEST 0
#define WEIGHTS_KERNEL_PORTABLE 1

/// True when the conversions below use AVX2 + F16C on this CPU.
bool weights_simd_conversion_available(void);

/// Rounds `count` binary32 values to binary16 (ties to even; subnormals kept; NaN quieted,
/// sign and top payload bits kept). Buffers need no alignment and must not overlap.
/// Returns how many finite values overflowed to infinity.
size_t weights_f32_to_f16(const void *src, void *dst, size_t count, int kernel);

/// Widens `count` binary16 values to binary32, exactly (NaN quieted, payload kept).
void weights_f16_to_f32(const void *src, void *dst, size_t count, int kernel);

/// Rounds `count` binary32 values to bfloat16 (ties to even; NaN quieted, sign and top payload
/// bits kept). Returns how many finite values overflowed to infinity.
size_t weights_f32_to_bf16(const void *src, void *dst, size_t count, int kernel);

/// Widens `count` bfloat16 values to binary32, exactly (every bit kept).
void weights_bf16_to_f32(const void *src, void *dst, size_t count, int kernel);

/// The largest |x| of `count` floats into `*largest`; false when one is NaN or infinite.
bool weights_largest_magnitude(const float *values, size_t count, float *largest, int kernel);

/// levels[i] = clamp(roundHalfEven(values[i] / scale), -127, 127) for a finite, positive
/// `scale` and finite values.
void weights_quantize_int8(const float *values, size_t count, float scale, int8_t *levels, int kernel);

/// The encoder's kernels (engine_kernels.c): 2 when they use AVX-512F on this CPU, 1 for
/// AVX2 + FMA, 0 for the portable C loops.
int weights_engine_kernel_level(void);

/// A kernel choice for the encoder's kernels beside WEIGHTS_KERNEL_*: AVX2 + FMA even on a
/// CPU with AVX-512 (portable on one without AVX2), so tests can run that form too.
#define WEIGHTS_ENGINE_KERNEL_AVX2 2

/// values[r][j] = GELU(values[r][j] + bias[j]) for `rows` rows of `width` floats, with the
/// exact erf form (erf within 1.5e-7). `bias` may be NULL. `kernel`: WEIGHTS_KERNEL_*.
void weights_gelu_rows(float *values, const float *bias, size_t rows, size_t width, int kernel);

/// Replaces `row` with its softmax, e^(x - max) / sum e^(x - max). `kernel`: WEIGHTS_KERNEL_*.
void weights_softmax(float *row, size_t count, int kernel);

/// Formats of the B operand of weights_sgemm_nt: binary32, binary16, or int8 with one
/// binary32 scale per row of B (a value is q × scale).
#define WEIGHTS_GEMM_F32 0
#define WEIGHTS_GEMM_F16 1
#define WEIGHTS_GEMM_INT8 2

/// True when weights_sgemm_nt runs its AVX-512 kernel on this CPU (checked once, at run time);
/// false means it runs a slow portable loop, and a BLAS is the better choice.
bool weights_sgemm_accelerated(void);

/// C = A · Bᵀ: A is m × k (row stride `lda`), B is n × k (row stride `ldb`, in elements of
/// `b_format`; a `[out, in]` weight matrix as stored), C is m × n (row stride `ldc`) and is
/// overwritten (k == 0 writes zeros). `b_scales` holds n scales for WEIGHTS_GEMM_INT8 and is
/// ignored otherwise. Elements of B are converted to binary32 exactly as weights_f16_to_f32 and
/// q × scale do. Safe to call from several threads at once on disjoint C. `kernel`:
/// WEIGHTS_KERNEL_BEST, or WEIGHTS_KERNEL_PORTABLE for the portable loop.
void weights_sgemm_nt(size_t m, size_t n, size_t k, const float *a, size_t lda,
                      const void *b, size_t ldb, int b_format, const float *b_scales,
                      float *c, size_t ldc, int kernel);

/// Formats of B that hold their scales in a weights_gemm_scales (weights_sgemm_nt_scaled),
/// the layouts of the hub's quantized checkpoints: compressed-tensors pack-quantized integers
/// of 4 or 8 bits, eight or four to a little-endian 32-bit word with the first entry in the
/// low bits, each stored as q + 8 (q + 128), symmetric; and float8_e4m3fn bytes. A row of B
/// is `ldb` entries long (for the packed forms a multiple of 8 or 4: the words of a row).
#define WEIGHTS_GEMM_PACKED4 3
#define WEIGHTS_GEMM_PACKED8 4
#define WEIGHTS_GEMM_F8E4M3 5
/// A format for weights_gemm_scales.product beside WEIGHTS_GEMM_F32 and WEIGHTS_GEMM_F16.
#define WEIGHTS_GEMM_BF16 6

/// The scales of a quantized B, one per `group_rows` × `group_columns` block of the whole
/// matrix, row-major with `scales_per_row` to a row of blocks: entry (r, c) of the whole matrix
/// is q × scales[(r / group_rows) × scales_per_row + c / group_columns], rounded once to
/// `product` (WEIGHTS_GEMM_F32: not rounded; WEIGHTS_GEMM_F16 or WEIGHTS_GEMM_BF16, to
/// nearest even), as compressed-tensors dequantizes in the scale's dtype. Per channel:
/// group_rows 1 and group_columns the row's length; per group of g: group_rows 1,
/// group_columns g; per tensor: both the whole matrix's. B's row 0 is row `first_row` of the
/// whole matrix, so that a product may take a slice of rows.
typedef struct weights_gemm_scales {
    const float *scales;
    size_t first_row;
    size_t group_rows;
    size_t group_columns;
    size_t scales_per_row;
    int product;
} weights_gemm_scales;

/// C = A · Bᵀ as weights_sgemm_nt, for B in WEIGHTS_GEMM_PACKED4, WEIGHTS_GEMM_PACKED8 or
/// WEIGHTS_GEMM_F8E4M3 with `scales` (or any weights_sgemm_nt format, `scales` then ignored).
/// B's entries are widened to binary32 exactly as weights_gemm_widen widens them, while they
/// are packed: no widened copy of B is made.
void weights_sgemm_nt_scaled(size_t m, size_t n, size_t k, const float *a, size_t lda,
                             const void *b, size_t ldb, int b_format, const weights_gemm_scales *scales,
                             float *c, size_t ldc, int kernel);

/// Writes `rows` rows of `k` entries of a quantized B (formats and scales as for
/// weights_sgemm_nt_scaled) as binary32 into `out`, row stride `k`: the values the product
/// multiplies by.
void weights_gemm_widen(const void *b, size_t ldb, int b_format, const weights_gemm_scales *scales,
                        size_t rows, size_t k, float *out);


/// GGUF block formats, by their ggml type ids: the decoder's quantized kernels take Q5_0,
/// Q8_0, Q4_K and Q6_K; weights_ggml_dequantize takes these and F16, BF16, IQ4_NL, TQ1_0 and
/// TQ2_0, weights_ggml_dequantize_grid the IQ2 and IQ3 formats.
#define WEIGHTS_GGML_Q4_0 2
#define WEIGHTS_GGML_Q4_1 3
#define WEIGHTS_GGML_Q5_0 6
#define WEIGHTS_GGML_Q5_1 7
#define WEIGHTS_GGML_Q8_0 8
#define WEIGHTS_GGML_Q2_K 10
#define WEIGHTS_GGML_Q3_K 11
#define WEIGHTS_GGML_Q4_K 12
#define WEIGHTS_GGML_Q5_K 13
#define WEIGHTS_GGML_Q6_K 14
#define WEIGHTS_GGML_F16 1
#define WEIGHTS_GGML_IQ2_XXS 16
#define WEIGHTS_GGML_IQ2_XS 17
#define WEIGHTS_GGML_IQ3_XXS 18
#define WEIGHTS_GGML_IQ4_NL 20
#define WEIGHTS_GGML_IQ3_S 21
#define WEIGHTS_GGML_IQ2_S 22
#define WEIGHTS_GGML_BF16 30
#define WEIGHTS_GGML_TQ1_0 34
#define WEIGHTS_GGML_TQ2_0 35

/// True when weights_ggml_dequantize decodes `type` (a ggml type id) with AVX2 + F16C on
/// this CPU.
bool weights_ggml_dequantize_accelerated(int type);
/// Decodes `blocks` whole blocks of ggml type `type` at `src` (any alignment) into `out`
/// (blocks × the type's block elements floats), with the binary32 arithmetic of gguf-py's
/// `gguf.quants.dequantize` in its order, so the same bits as WeightsCore's portable loops.
/// `streaming` writes with non-temporal stores (where `out` is 16-byte aligned), for an
/// output larger than the caches: ordinary stores would read every line in first.
/// Returns false, writing nothing, when `kernel` is WEIGHTS_KERNEL_PORTABLE, when the CPU
/// lacks AVX2 or F16C, or when the type has no SIMD form: the caller decodes it then.
/// Safe to call from several threads at once on disjoint outputs.
bool weights_ggml_dequantize(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel);
/// weights_ggml_dequantize for IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S, which look their
/// values up in `grid` (the format's grid expanded to binary32, entry i at i × its width, as
/// WeightsCore's GGMLGrid holds it) and, but for IQ2_S and IQ3_S, `signs` (the 128 sign
/// patterns). False, writing nothing, as weights_ggml_dequantize, and for any other type.
bool weights_ggml_dequantize_grid(int type, const void *src, size_t blocks, float *out, bool streaming, int kernel,
                                  const float *grid, const uint8_t *signs);

/// Values per block of `weight_type` (32 or 256), or 0 for a type these kernels don't take.
size_t weights_quantized_block_elements(int weight_type);
/// Bytes per block of `weight_type`, or 0.
size_t weights_quantized_block_bytes(int weight_type);
/// Bytes of the activations quantized for `weight_type` from `k` floats: 36 per 32 values for
/// the 32-value formats (Q8_0 levels, the binary16-rounded scale as binary32), 40 per 32 for
/// the K formats (levels, binary32 scale and the block's scaled sum). 0 for an unknown type.
size_t weights_quantized_activation_size(int weight_type, size_t k);
/// Quantizes `k` floats to the activation blocks `weight_type` pairs with, into `out`
/// (weights_quantized_activation_size bytes). False when `k` is not a whole number of blocks
/// or the type is unknown. `kernel`: WEIGHTS_KERNEL_BEST (AVX2 where the CPU has it) or
/// WEIGHTS_KERNEL_PORTABLE; both give the same bytes.
bool weights_quantize_activations(int weight_type, const float *x, size_t k, void *out, int kernel);
/// A kernel choice for the quantized products beside WEIGHTS_KERNEL_*: the AVX2 forms even
/// on a CPU with AVX-512 (portable on one without AVX2), so tests can run every path.
#define WEIGHTS_QUANTIZED_KERNEL_AVX2 2
/// The instruction sets the quantized products use on this CPU, for reports: "avx512-vnni
/// (prompt blocks), avx2", "avx2" or "portable". A static string.
const char *weights_quantized_kernel_name(void);
/// True when the quantized dot products run their AVX2 form on this CPU.
bool weights_quantized_dot_accelerated(void);
/// out[r] = row r of the weights · the activations, for `rows` rows of `k` values stored
/// `row_bytes` apart, in `weight_type` blocks as they lie in a GGUF file. `kernel`:
/// WEIGHTS_KERNEL_BEST or WEIGHTS_KERNEL_PORTABLE. False when `k` is not a whole number of
/// blocks, a row is shorter than its blocks, or the type is unknown; nothing is written then.
bool weights_quantized_matvec(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                              const void *activations, float *out, int kernel);
/// out[r] = row r of the weights · x, with the weights widened to binary32 block by block as a
/// dequantizer computes them and `x` used as it is (no quantization of the activations).
/// Arguments and failures as for weights_quantized_matvec.
bool weights_quantized_matvec_f32(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                                  const float *x, float *out, int kernel);

/// As weights_quantized_matvec for `n` activation vectors at once (a prompt's tokens):
/// out[t * out_stride + r] = row r · activations t, the activations of token t starting
/// `activation_stride` bytes after those of token t - 1. Each weight row is read once per
/// tile of tokens, not once per token. Same results as n calls of weights_quantized_matvec.
bool weights_quantized_matmul(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                              const void *activations, size_t activation_stride, size_t n,
                              float *out, size_t out_stride, int kernel);
/// As weights_quantized_matmul with binary32 activations, `x_stride` floats apart.
bool weights_quantized_matmul_f32(int weight_type, const void *weights, size_t row_bytes, size_t rows, size_t k,
                                  const float *x, size_t x_stride, size_t n, float *out, size_t out_stride,
                                  int kernel);

/// Σ a[i] · b[i] over `n` floats (AVX2 + FMA where the CPU has it). `kernel`: WEIGHTS_KERNEL_*.
float weights_dot_f32(const float *a, const float *b, size_t n, int kernel);
/// y[i] += alpha · x[i] over `n` floats. `kernel`: WEIGHTS_KERNEL_*.
void weights_axpy_f32(float alpha, const float *x, float *y, size_t n, int kernel);

/// A spin-wait hint to the CPU (PAUSE on x86; nothing elsewhere).
void weights_spin_pause(void);

/// gate[i] = GELU(gate[i]) · up[i] over `n` floats, GELU in its tanh form (the AVX2 form's
/// tanh is within 2e-7 of libm's). `kernel`: WEIGHTS_KERNEL_*.
void weights_gelu_tanh_product(float *gate, const float *up, size_t n, int kernel);

/// One attention head: scores[p] = (q · keys[p]) · scale for the `count` positions (rows
/// `stride` floats apart, `size` floats each), their softmax, and out = Σ scores[p] · values[p].
/// `scores` holds `count` floats. `kernel`: WEIGHTS_KERNEL_*.
void weights_attend_head(const float *q, const float *keys, const float *values, size_t stride, size_t count,
                         size_t size, float scale, float *scores, float *out, int kernel);

/// `heads` query heads that share one key/value head, each as weights_attend_head computes it
/// alone (the same bits): q and out hold `heads` rows of `size` floats, scores `heads` rows of
/// `count`. Each key and value row is read once for all the heads. `kernel`: WEIGHTS_KERNEL_*
/// or WEIGHTS_ENGINE_KERNEL_AVX2 (AVX2 even where the CPU has AVX-512).
void weights_attend_heads(const float *q, size_t heads, const float *keys, const float *values, size_t stride,
                          size_t count, size_t size, float scale, float *scores, float *out, int kernel);

/// INT8 × INT8 → INT32 products for the encoder's INT8-compute mode (int8_gemm.c,
/// Spec/int8-compute.md): per-row INT8 weights B (n × k), activations quantized per row.
/// Levels: the form a product runs, each giving the same int32 sums and the same floats.
#define WEIGHTS_I8GEMM_PORTABLE 0
#define WEIGHTS_I8GEMM_AVX2 1
#define WEIGHTS_I8GEMM_VNNI 2

/// The level `kernel` (WEIGHTS_KERNEL_BEST, WEIGHTS_KERNEL_PORTABLE or
/// WEIGHTS_ENGINE_KERNEL_AVX2) runs on this CPU: VNNI needs AVX-512F/BW/VL + VNNI, AVX2 needs
/// AVX2. A level passed below that this CPU cannot run falls back to the best it can.
int weights_i8gemm_level(int kernel);
/// Bytes of B packed for `level` (columns padded to 16, k to 4).
size_t weights_i8gemm_packed_bytes(size_t n, size_t k, int level);
/// Packs the n × k INT8 matrix `b` (row stride `ldb`) for `level` into `packed`
/// (weights_i8gemm_packed_bytes bytes).
void weights_i8gemm_pack(const int8_t *b, size_t ldb, size_t n, size_t k, void *packed, int level);
/// Bytes of `m` rows of `k` activations quantized for `level`.
size_t weights_i8gemm_activation_bytes(size_t m, size_t k, int level);
/// Quantizes each of the `m` rows of `k` floats of `x` (row stride `ldx`): scales[r] =
/// max|row| / 127, levels clamp(roundHalfEven(x / scale), -127, 127) (all 0 for a zero row),
/// stored in `level`'s layout in `activations` (weights_i8gemm_activation_bytes bytes).
void weights_i8gemm_quantize(const float *x, size_t ldx, size_t m, size_t k, void *activations, float *scales,
                             int level);
/// sums[i][j] = Σ_p a[i][p] · b[j][p] exactly, for the m rows of the quantized activations and
/// columns j in [column_from, column_from + column_count) ∩ [0, n); `column_from` must be a
/// multiple of 16 (nothing is written otherwise). `sums` has row stride `ldc`; k ≤ 65536.
/// Safe from several threads at once on disjoint columns.
void weights_i8gemm_sums(size_t m, size_t column_from, size_t column_count, size_t n, size_t k,
                         const void *activations, const void *packed, int32_t *sums, size_t ldc, int level);
/// As weights_i8gemm_sums, writing c[i][j] = (float)sum × a_scales[i] × b_scales[j] (+ bias[j]
/// when `bias` is not NULL), rounded after each operation, no FMA.
void weights_i8gemm(size_t m, size_t column_from, size_t column_count, size_t n, size_t k, const void *activations,
                    const float *a_scales, const void *packed, const float *b_scales, const float *bias, float *c,
                    size_t ldc, int level);

/// Interleaves `width` byte planes of `count` elements each (`planes`: plane b, byte b of
/// every element, little-endian, `count` bytes a plane) into `count` elements at `out`; with
/// `swap`, exchanges each element's top bit and the bit 8 below it afterwards (byte_planes.c).
/// Width 2 or 4; returns false, writing nothing, for another width. AVX2 where the CPU has it
/// (`kernel` WEIGHTS_KERNEL_BEST), else a portable loop: the same bytes. Buffers must not overlap.
bool weights_join_byte_planes(const void *planes, size_t count, size_t width, void *out, bool swap, int kernel);

/// Splits `count` elements of `width` bytes (2 or 4) into exponent-window planes at `planes`,
/// which holds `count` + (6 × `count` + 7) / 8 + (`count` + 3) / 4 bytes, and for width 4
/// 2 × `count` more (ByteGrouping.planeSizes): for width 4 the low two
/// bytes as two byte planes; then the sign and the five mantissa bits below the window, packed
/// six bits an element; the exponent's top two bits, packed four elements a byte; and the
/// window, a byte an element: the exponent's low six bits above the mantissa's top two.
/// AVX2 where the CPU has it (`kernel` WEIGHTS_KERNEL_BEST), else a portable loop: the same
/// bytes. Returns false, writing nothing, for another width. Buffers must not overlap.
bool weights_split_exponent_window(const void *elements, size_t count, size_t width, void *planes, int kernel);
/// Reverses weights_split_exponent_window: `count` elements of `width` bytes (2 or 4) at `out`
/// from the planes. AVX2 where the CPU has it (`kernel` WEIGHTS_KERNEL_BEST), else a portable
/// loop: the same bytes. Returns false, writing nothing, for another width.
bool weights_join_exponent_window(const void *planes, size_t count, size_t width, void *out, int kernel);

#endif
