#include "CWeightsSIMD.h"

#include <stdlib.h>
#include <strings.h>

// Every run-time CPU check of the kernels is here: each feature set a kernel family needs is
// probed once and remembered, under the cap that WEIGHTS_MAX_ISA sets.

#if defined(__x86_64__) || defined(__i386__)
// `probe`'s answer, asked once and kept in `state` (-1 until then; threads that race only
// store the same value).
static bool remembered(int *state, bool (*probe)(void)) {
    int known = __atomic_load_n(state, __ATOMIC_RELAXED);
    if (known < 0) {
        __builtin_cpu_init();
        known = probe() ? 1 : 0;
        __atomic_store_n(state, known, __ATOMIC_RELAXED);
    }
    return known == 1;
}

// WEIGHTS_MAX_ISA=avx2 keeps the kernels off AVX-512 and =portable off every SIMD kernel (to
// measure a narrower CPU's path on a wider one, or to rule a kernel out); unset or any other
// value, the CPU's best. Read once.
static int isa_cap = -1;  // 0: portable, 1: up to AVX2, 2: no cap

static int max_isa(void) {
    int cap = __atomic_load_n(&isa_cap, __ATOMIC_RELAXED);
    if (cap < 0) {
        const char *name = getenv("WEIGHTS_MAX_ISA");
        cap = name == NULL ? 2 : strcasecmp(name, "portable") == 0 ? 0 : strcasecmp(name, "avx2") == 0 ? 1 : 2;
        __atomic_store_n(&isa_cap, cap, __ATOMIC_RELAXED);
    }
    return cap;
}

static bool allows_avx2(void) { return max_isa() >= 1; }
static bool allows_avx512(void) { return max_isa() >= 2; }

static bool probe_f16c(void) {
    return allows_avx2() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

static bool probe_avx2(void) { return allows_avx2() && __builtin_cpu_supports("avx2"); }

static bool probe_avx2_fma(void) {
    return probe_f16c() && __builtin_cpu_supports("fma");
}

static bool probe_avx512(void) {
    return allows_avx512() && probe_avx2_fma() && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

static bool probe_avx512_vnni(void) { return probe_avx512() && __builtin_cpu_supports("avx512vnni"); }

#define REMEMBERED(probe) \
    static int state = -1; \
    return remembered(&state, probe)
#else
#define REMEMBERED(probe) return false
#endif

bool weights_cpu_has_f16c(void) { REMEMBERED(probe_f16c); }

bool weights_cpu_has_avx2(void) { REMEMBERED(probe_avx2); }

bool weights_cpu_has_avx2_fma(void) { REMEMBERED(probe_avx2_fma); }

bool weights_cpu_has_avx512(void) { REMEMBERED(probe_avx512); }

bool weights_cpu_has_avx512_vnni(void) { REMEMBERED(probe_avx512_vnni); }
