// e^x for the kernels' activations (GELU, tanh, softmax): one definition for the encoder's and
// the decoder's kernels. Private to this target.
//
// The argument is clamped to [EXP_LOW, EXP_HIGH], split as n·ln2 + r with n = round(x·log2 e)
// and ln 2 in two parts (Cody–Waite), e^r by its degree-7 Taylor polynomial, and 2^n put into
// the exponent bits.
#ifndef WEIGHTS_SIMD_EXP_H
#define WEIGHTS_SIMD_EXP_H

#define EXP_LOW -87.33654f
#define EXP_HIGH 88.0f
#define LOG2E 1.44269504088896341f
#define LN2_HIGH 0.693145751953125f
#define LN2_LOW 1.428606765330187e-6f

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static inline __m256 exp_avx2(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LOW)), _mm256_set1_ps(EXP_HIGH));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HIGH), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LOW), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
}
#endif

#endif
