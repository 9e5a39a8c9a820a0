// A tile of R weight rows × T tokens' activations: each weight block is loaded and unpacked
// (and its scale converted) once for the T tokens, each activation block loaded once for the R
// rows, and the R · T accumulators are independent chains that hide the multiply-adds'
// latency. One body per weight format, instantiated for the tile shapes the products use
// (R ≤ 4, T ≤ 4, both compile-time constants, so the loops unroll and the accumulators are
// registers, a few of them spilled on AVX2's sixteen). Q5_0 and Q4_K rows for a prompt block
// come rewritten (quantized_dot.c: block_q5_0w, block_q4_Kw) and meet the widened bodies.
//
// Included by quantized_dot.c once per instruction set, with
//   TILE_TARGET       the functions' target attribute,
//   TILE_NAME(name)   the name with the instruction set's suffix,
//   TILE_SUM4(u, s)   eight int32 lanes, each the sum of four consecutive products of unsigned
//                     bytes u and signed bytes s (AVX2: two multiply-adds; VNNI: one dot product),
//   TILE_Q6_BIAS(q)   the part of Q6_K's products that depends on the activations q alone (the
//                     levels are stored plus 32): 32 · q, in the form TILE_Q6 takes it,
//   TILE_Q6(v, q, b, s)  Q6_K's levels v (0…63) less 32, times q, each int32 lane times its
//                     16-value group's scale (s holds it twice per lane, as int16); b from
//                     TILE_Q6_BIAS(q).
//   TILE_OFFSET_BIAS(q)  what levels stored plus 16 add to each lane of TILE_SUM4 with the
//                     activations q, in the form TILE_OFFSET_SUM4 takes it,
//   TILE_OFFSET_SUM4(b, u, q)  TILE_SUM4 of levels u stored plus 16 (0…31) and q, less that
//                     part: the sums of the levels themselves; b from TILE_OFFSET_BIAS(q),
// and, where defined, TILE_PAIRED_ELSEWHERE: no shapes for Q6_K and the widened formats, whose
// tiles the includer has in another form.
//
// The invariant every shape keeps: each (row, token) result sums the same integers, lane by
// lane (exact: no product here reaches the AVX2 form's int16 saturation, at most
// 2 · 128 · 127), multiplies them by the same binary32 scale (weight scale · activation scale,
// one rounding), accumulates them in the same order with one fused multiply-add per block or
// sub-block, and ends with the same horizontal sum (and, for Q4_K, the same running sum of the
// minimums). So every shape, on either instruction set, gives the bits one row and one token
// give: a prompt in blocks gives what it gives token by token.

#define TILE_BODY TILE_TARGET static inline __attribute__((always_inline))
#define ROW(r, type) ((const type *)(row + (r) * row_bytes))
#define TOKEN(t, type) ((const type *)(a.base + (t) * a.stride))
#define EACH_ROW _Pragma("unroll") for (int r = 0; r < R; r++)
#define EACH_TOKEN _Pragma("unroll") for (int t = 0; t < T; t++)

// acc + scale · Σ u · v over a block, with v's signs moved to the signs of `sign_of`
// (|x| · sign(y, x) = x · y, so that the unsigned-by-signed multiply-add takes two signed operands).
TILE_BODY __m256 TILE_NAME(signed_products)(__m256i u, __m256i v, __m256i sign_of, __m256 scale, __m256 acc) {
    __m256i sums = TILE_SUM4(u, _mm256_sign_epi8(v, sign_of));
    return _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);
}

// The binary16 scales at byte `offset` of four rows `row_bytes` apart, in binary32 (the first
// two bytes of a Q8_0 or Q5_0 block).
TILE_BODY __m128 TILE_NAME(four_scales)(const uint8_t *row, size_t row_bytes, size_t offset) {
    uint16_t d[4];
    for (int r = 0; r < 4; r++) memcpy(&d[r], row + r * row_bytes + offset, 2);
    return _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, (short)d[3], (short)d[2], (short)d[1], (short)d[0]));
}

// Lane `r` of `v` in all eight lanes of a 256-bit register.
TILE_BODY __m256 TILE_NAME(lane)(__m128 v, const int r) {
    return _mm256_broadcastss_ps(r == 0 ? v : r == 1 ? _mm_movehdup_ps(v) : r == 2 ? _mm_movehl_ps(v, v)
                                                  : _mm_shuffle_ps(v, v, _MM_SHUFFLE(3, 3, 3, 3)));
}

TILE_BODY void TILE_NAME(store)(const __m256 acc[4][4], float *out, size_t out_stride, const int R, const int T) {
    EACH_TOKEN EACH_ROW out[t * out_stride + r] = horizontal_sum(acc[r][t]);
}

// Q8_0 and Q5_0: 32 levels and a binary16 scale per block; activations in Q8_0a blocks.
// The unsigned operand takes one side's magnitudes: the weights' for Q8_0 (whose levels may be
// −128, which only the unsigned operand can hold; activations never are), and for Q5_0 the
// side shared by more products (one abs per block of it).
TILE_BODY void TILE_NAME(tile_q8_0)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                    float *out, size_t out_stride, const int R, const int T) {
    __m256 acc[4][4];
    EACH_ROW EACH_TOKEN acc[r][t] = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i y[4];
        float da[4];
        EACH_TOKEN {
            const block_q8_0a *block = TOKEN(t, block_q8_0a) + b;
            y[t] = _mm256_loadu_si256((const __m256i *)block->qs);
            da[t] = block->d;
        }
        if (R == 4 && T == 1) {
            // One token, four rows (generation): the four rows' scales converted and multiplied
            // in one register, each the binary32 product dw · da the scalar form rounds.
            __m128 scales = _mm_mul_ps(TILE_NAME(four_scales)(row, row_bytes, b * sizeof(block_q8_0)), _mm_set1_ps(da[0]));
            EACH_ROW {
                const block_q8_0 *w = ROW(r, block_q8_0) + b;
                __m256i x = _mm256_loadu_si256((const __m256i *)w->qs);
                __m256i magnitude = _mm256_sign_epi8(x, x);
                acc[r][0] = TILE_NAME(signed_products)(magnitude, y[0], x, TILE_NAME(lane)(scales, r), acc[r][0]);
            }
            continue;
        }
        EACH_ROW {
            const block_q8_0 *w = ROW(r, block_q8_0) + b;
            __m256i x = _mm256_loadu_si256((const __m256i *)w->qs);
            __m256i magnitude = _mm256_sign_epi8(x, x);
            float dw = _cvtsh_ss(w->d);
            EACH_TOKEN acc[r][t] = TILE_NAME(signed_products)(magnitude, y[t], x, _mm256_set1_ps(dw * da[t]), acc[r][t]);
        }
    }
    TILE_NAME(store)(acc, out, out_stride, R, T);
}

TILE_BODY void TILE_NAME(tile_q5_0)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                    float *out, size_t out_stride, const int R, const int T) {
    __m256 acc[4][4];
    EACH_ROW EACH_TOKEN acc[r][t] = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i y[4], y_magnitude[4];
        __m256 da[4];
        EACH_TOKEN {
            const block_q8_0a *block = TOKEN(t, block_q8_0a) + b;
            y[t] = _mm256_loadu_si256((const __m256i *)block->qs);
            if (R > T) y_magnitude[t] = _mm256_sign_epi8(y[t], y[t]);
            da[t] = _mm256_set1_ps(block->d);
        }
        if (R == 4 && T == 1) {
            // One token, four rows (generation): the scales as in tile_q8_0.
            __m128 scales = _mm_mul_ps(TILE_NAME(four_scales)(row, row_bytes, b * sizeof(block_q5_0)), _mm256_castps256_ps128(da[0]));
            EACH_ROW {
                __m256i x = levels_q5_0(ROW(r, block_q5_0) + b);
                acc[r][0] = TILE_NAME(signed_products)(y_magnitude[0], x, y[0], TILE_NAME(lane)(scales, r), acc[r][0]);
            }
            continue;
        }
        EACH_ROW {
            const block_q5_0 *w = ROW(r, block_q5_0) + b;
            __m256i x = levels_q5_0(w);
            __m256 dw = _mm256_set1_ps(_cvtsh_ss(w->d));
            if (R > T) {
                EACH_TOKEN acc[r][t] = TILE_NAME(signed_products)(y_magnitude[t], x, y[t], _mm256_mul_ps(dw, da[t]), acc[r][t]);
            } else {
                __m256i magnitude = _mm256_sign_epi8(x, x);
                EACH_TOKEN acc[r][t] = TILE_NAME(signed_products)(magnitude, y[t], x, _mm256_mul_ps(dw, da[t]), acc[r][t]);
            }
        }
    }
    TILE_NAME(store)(acc, out, out_stride, R, T);
}

// Q5_0 rows widened for a prompt block (block_q5_0w): the levels plus 16 as unsigned bytes,
// which the multiply-add takes as they are (no sign fix per product), and the scale in
// binary32. What the offset adds to a lane, 16 · (its four activations' sum), is taken off in
// the integers (TILE_OFFSET_BIAS, once per token block), so each lane sums the integers the
// Q5_0 body sums, and the scale is the same product: the same bits.
TILE_BODY void TILE_NAME(tile_q5_0w)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                     float *out, size_t out_stride, const int R, const int T) {
    __m256 acc[4][4];
    EACH_ROW EACH_TOKEN acc[r][t] = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i y[4], bias[4];
        __m256 da[4];
        EACH_TOKEN {
            const block_q8_0a *block = TOKEN(t, block_q8_0a) + b;
            y[t] = _mm256_loadu_si256((const __m256i *)block->qs);
            bias[t] = TILE_OFFSET_BIAS(y[t]);
            da[t] = _mm256_set1_ps(block->d);
        }
        EACH_ROW {
            const block_q5_0w *w = ROW(r, block_q5_0w) + b;
            __m256i u = _mm256_loadu_si256((const __m256i *)w->qs);
            __m256 dw = _mm256_set1_ps(w->d);
            EACH_TOKEN {
                __m256i sums = TILE_OFFSET_SUM4(bias[t], u, y[t]);
                acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da[t]), _mm256_cvtepi32_ps(sums), acc[r][t]);
            }
        }
    }
    TILE_NAME(store)(acc, out, out_stride, R, T);
}

// Q4_K: sub-block j (32 levels 0…15, scale d · scale_j, minimum dmin · min_j) meets the
// token's activation block j. Per sub-block acc += (da · scale_j) · Σ q · aq; the minimums'
// part, Σ_j (dmin · min_j) · (da · Σ aq), is a running binary32 sum of its own, subtracted at
// the end. `widened`: the rows are block_q4_Kw, their scales and minimums already in binary32
// (the values q4_K_scales gives here).
TILE_BODY void TILE_NAME(tile_q4_K_rows)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                         float *out, size_t out_stride, const int R, const int T, const bool widened) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    __m256 acc[4][4];
    float minimums[4][4];
    EACH_ROW EACH_TOKEN { acc[r][t] = _mm256_setzero_ps(); minimums[r][t] = 0; }
    for (size_t b = 0; b < blocks; b++) {
        float own_scales[4][8], own_mins[4][8];
        const float *scales[4], *mins[4];
        const uint8_t *qs[4];
        EACH_ROW {
            if (widened) {
                const block_q4_Kw *w = ROW(r, block_q4_Kw) + b;
                scales[r] = w->scales;
                mins[r] = w->mins;
                qs[r] = w->qs;
            } else {
                const block_q4_K *w = ROW(r, block_q4_K) + b;
                q4_K_scales(w, _cvtsh_ss(w->d), _cvtsh_ss(w->dmin), own_scales[r], own_mins[r]);
                scales[r] = own_scales[r];
                mins[r] = own_mins[r];
                qs[r] = w->qs;
            }
        }
        for (int j = 0; j < QK_K / 64; j++) {  // sub-blocks 2j (low nibbles) and 2j + 1 (high)
            __m256i low[4], high[4];
            EACH_ROW {
                __m256i packed = _mm256_loadu_si256((const __m256i *)(qs[r] + 32 * j));
                low[r] = _mm256_and_si256(packed, nibble);
                high[r] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
            }
            EACH_TOKEN {
                const block_q8_32 *y = TOKEN(t, block_q8_32) + 8 * b + 2 * j;
                __m256i y0 = _mm256_loadu_si256((const __m256i *)y[0].qs);
                __m256i y1 = _mm256_loadu_si256((const __m256i *)y[1].qs);
                __m256 d0 = _mm256_set1_ps(y[0].d), d1 = _mm256_set1_ps(y[1].d);
                EACH_ROW {
                    __m256 scale0 = _mm256_mul_ps(d0, _mm256_set1_ps(scales[r][2 * j]));
                    __m256 scale1 = _mm256_mul_ps(d1, _mm256_set1_ps(scales[r][2 * j + 1]));
                    acc[r][t] = _mm256_fmadd_ps(scale0, _mm256_cvtepi32_ps(TILE_SUM4(low[r], y0)), acc[r][t]);
                    acc[r][t] = _mm256_fmadd_ps(scale1, _mm256_cvtepi32_ps(TILE_SUM4(high[r], y1)), acc[r][t]);
                }
            }
        }
        EACH_ROW EACH_TOKEN {
            const block_q8_32 *y = TOKEN(t, block_q8_32) + 8 * b;
            for (int j = 0; j < 8; j++) minimums[r][t] = fmaf(mins[r][j], y[j].sum, minimums[r][t]);
        }
    }
    EACH_TOKEN EACH_ROW out[t * out_stride + r] = horizontal_sum(acc[r][t]) - minimums[r][t];
}

TILE_BODY void TILE_NAME(tile_q4_K)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                    float *out, size_t out_stride, const int R, const int T) {
    TILE_NAME(tile_q4_K_rows)(blocks, row, row_bytes, a, out, out_stride, R, T, false);
}

TILE_BODY void TILE_NAME(tile_q4_Kw)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                     float *out, size_t out_stride, const int R, const int T) {
    TILE_NAME(tile_q4_K_rows)(blocks, row, row_bytes, a, out, out_stride, R, T, true);
}

// Q6_K: run c (32 levels, two 16-value groups with their int8 scales) meets the token's
// activation block c; acc += (da · d) · Σ scale · (v − 32) · aq per run.
TILE_BODY void TILE_NAME(tile_q6_K)(size_t blocks, const uint8_t *row, size_t row_bytes, token_rows a,
                                    float *out, size_t out_stride, const int R, const int T) {
    __m256 acc[4][4];
    EACH_ROW EACH_TOKEN acc[r][t] = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i v[4][8], scale16[4][8];
        __m256 d[4];
        EACH_ROW {
            const block_q6_K *w = ROW(r, block_q6_K) + b;
            q6_K_unpack(w, v[r], scale16[r]);
            d[r] = _mm256_set1_ps(_cvtsh_ss(w->d));
        }
        for (int c = 0; c < 8; c++) {
            EACH_TOKEN {
                const block_q8_32 *y = TOKEN(t, block_q8_32) + 8 * b + c;
                __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
                __m256i bias = TILE_Q6_BIAS(q);
                __m256 dy = _mm256_set1_ps(y->d);
                EACH_ROW {
                    __m256i sums = TILE_Q6(v[r][c], q, bias, scale16[r][c]);
                    acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dy, d[r]), _mm256_cvtepi32_ps(sums), acc[r][t]);
                }
            }
        }
    }
    TILE_NAME(store)(acc, out, out_stride, R, T);
}

// The shapes: R × T tiles for a prompt block, 1 × T for the rows left over.
#define TILE_SHAPES(format, block_type)                                                                        \
    TILE_TARGET static void TILE_NAME(format##_tile)(size_t blocks, const uint8_t *row, size_t row_bytes,       \
                                                      token_rows a, float *out, size_t out_stride) {           \
        TILE_NAME(tile_##format)(blocks, row, row_bytes, a, out, out_stride, TILE_ROWS, TILE_TOKENS);          \
    }                                                                                                          \
    TILE_TARGET static void TILE_NAME(format##_row)(size_t blocks, const uint8_t *row, size_t row_bytes,        \
                                                     token_rows a, float *out, size_t out_stride) {            \
        TILE_NAME(tile_##format)(blocks, row, row_bytes, a, out, out_stride, 1, TILE_TOKENS);                  \
    }
TILE_SHAPES(q8_0, block_q8_0)
TILE_SHAPES(q5_0, block_q5_0)
TILE_SHAPES(q4_K, block_q4_K)
#ifndef TILE_PAIRED_ELSEWHERE  // an includer whose own tiles for these hold two tokens a register
TILE_SHAPES(q6_K, block_q6_K)
TILE_SHAPES(q4_Kw, block_q4_Kw)
TILE_SHAPES(q5_0w, block_q5_0w)
#endif
#undef TILE_SHAPES

#undef TILE_BODY
#undef ROW
#undef TOKEN
#undef EACH_ROW
#undef EACH_TOKEN
