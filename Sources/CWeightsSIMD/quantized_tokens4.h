// One weight row with four tokens' activations, for a prompt: each weight block is unpacked
// once for four tokens. Included by quantized_dot.c once per instruction set, with
//   T4_TARGET       the functions' target attribute,
//   T4_NAME(name)   the name with the instruction set's suffix,
//   T4_SUM4(u, s)   eight int32 lanes, each the sum of four consecutive products of unsigned
//                   bytes u and signed bytes s (AVX2: two multiply-adds; VNNI: one dot product),
//   T4_Q6(v, q, s)  the same for Q6_K's levels v (0…63, less 32) times q, each lane times its
//                   16-value group's scale (s holds it twice per lane, as int16).
// Each (row, token) result is summed in the same integers, lane by lane, and the same binary32
// order as the one-token AVX2 kernels, so a prompt in blocks gives the bits token by token
// gives, on either instruction set. No product here reaches the AVX2 form's int16 saturation
// (at most 2 · 128 · 127).

#define TOKEN(t, type) ((const type *)(a.base + (t) * a.stride))

// Σ w · a over a block, scaled and accumulated; |x| · sign(y, x) = x · y.
T4_TARGET static inline __m256 T4_NAME(products)(__m256i x_magnitude, __m256i x, __m256i y, float scale, __m256 acc) {
    __m256i sums = T4_SUM4(x_magnitude, _mm256_sign_epi8(y, x));
    return _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(sums), acc);
}

T4_TARGET static inline __m256 T4_NAME(q4_K_sub)(__m256i levels, const block_q8_32 *y, float scale, __m256 acc) {
    __m256i sums = T4_SUM4(levels, _mm256_loadu_si256((const __m256i *)y->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(y->d * scale), _mm256_cvtepi32_ps(sums), acc);
}

// Σ scale · (v − 32) · y over a run of 32; scale16 holds each int32 lane's scale twice.
T4_TARGET static inline __m256 T4_NAME(q6_K_run)(__m256i v, __m256i scale16, const block_q8_32 *y, float d, __m256 acc) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    __m256i scaled = T4_Q6(v, q, scale16);
    return _mm256_fmadd_ps(_mm256_set1_ps(y->d * d), _mm256_cvtepi32_ps(scaled), acc);
}

T4_TARGET static void T4_NAME(dot_q8_0_tokens4)(size_t blocks, const block_q8_0 *w, token_rows a, float out[4]) {
    const block_q8_0 *a0 = TOKEN(0, block_q8_0), *a1 = TOKEN(1, block_q8_0), *a2 = TOKEN(2, block_q8_0), *a3 = TOKEN(3, block_q8_0);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)w[b].qs);
        __m256i magnitude = _mm256_sign_epi8(x, x);
        float dw = _cvtsh_ss(w[b].d);
        acc0 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a0[b].qs), _cvtsh_ss(a0[b].d) * dw, acc0);
        acc1 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a1[b].qs), _cvtsh_ss(a1[b].d) * dw, acc1);
        acc2 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a2[b].qs), _cvtsh_ss(a2[b].d) * dw, acc2);
        acc3 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a3[b].qs), _cvtsh_ss(a3[b].d) * dw, acc3);
    }
    out[0] = horizontal_sum(acc0);
    out[1] = horizontal_sum(acc1);
    out[2] = horizontal_sum(acc2);
    out[3] = horizontal_sum(acc3);
}

T4_TARGET static void T4_NAME(dot_q5_0_tokens4)(size_t blocks, const block_q5_0 *w, token_rows a, float out[4]) {
    const block_q8_0 *a0 = TOKEN(0, block_q8_0), *a1 = TOKEN(1, block_q8_0), *a2 = TOKEN(2, block_q8_0), *a3 = TOKEN(3, block_q8_0);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    for (size_t b = 0; b < blocks; b++) {
        __m256i x = levels_q5_0(w + b);
        __m256i magnitude = _mm256_sign_epi8(x, x);
        float dw = _cvtsh_ss(w[b].d);
        acc0 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a0[b].qs), _cvtsh_ss(a0[b].d) * dw, acc0);
        acc1 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a1[b].qs), _cvtsh_ss(a1[b].d) * dw, acc1);
        acc2 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a2[b].qs), _cvtsh_ss(a2[b].d) * dw, acc2);
        acc3 = T4_NAME(products)(magnitude, x, _mm256_loadu_si256((const __m256i *)a3[b].qs), _cvtsh_ss(a3[b].d) * dw, acc3);
    }
    out[0] = horizontal_sum(acc0);
    out[1] = horizontal_sum(acc1);
    out[2] = horizontal_sum(acc2);
    out[3] = horizontal_sum(acc3);
}

T4_TARGET static void T4_NAME(dot_q4_K_tokens4)(size_t blocks, const block_q4_K *w, token_rows a, float out[4]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const block_q8_32 *y[4] = { TOKEN(0, block_q8_32), TOKEN(1, block_q8_32), TOKEN(2, block_q8_32), TOKEN(3, block_q8_32) };
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    float minimums[4] = {0, 0, 0, 0};
    for (size_t b = 0; b < blocks; b++) {
        float scales[8], mins[8];
        q4_K_scales(w + b, _cvtsh_ss(w[b].d), _cvtsh_ss(w[b].dmin), scales, mins);
        __m256i levels[8];
        for (int j = 0; j < QK_K / 64; j++) {
            __m256i packed = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
            levels[2 * j] = _mm256_and_si256(packed, nibble);
            levels[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
        }
        for (int t = 0; t < 4; t++) {
            const block_q8_32 *chunk = y[t] + 8 * b;
            for (int j = 0; j < 8; j++) acc[t] = T4_NAME(q4_K_sub)(levels[j], chunk + j, scales[j], acc[t]);
            for (int j = 0; j < 8; j++) minimums[t] += mins[j] * chunk[j].sum;
        }
    }
    for (int t = 0; t < 4; t++) out[t] = horizontal_sum(acc[t]) - minimums[t];
}

T4_TARGET static void T4_NAME(dot_q6_K_tokens4)(size_t blocks, const block_q6_K *w, token_rows a, float out[4]) {
    const block_q8_32 *y[4] = { TOKEN(0, block_q8_32), TOKEN(1, block_q8_32), TOKEN(2, block_q8_32), TOKEN(3, block_q8_32) };
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    for (size_t b = 0; b < blocks; b++) {
        __m256i v[8], scale16[8];
        q6_K_unpack(w + b, v, scale16);
        float d = _cvtsh_ss(w[b].d);
        for (int t = 0; t < 4; t++) {
            const block_q8_32 *chunk = y[t] + 8 * b;
            for (int r = 0; r < 8; r++) acc[t] = T4_NAME(q6_K_run)(v[r], scale16[r], chunk + r, d, acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = horizontal_sum(acc[t]);
}

#undef TOKEN
