#include "CWeightsSIMD.h"

bool weights_cpu_has_f16c(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

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

static bool probe_avx2(void) { return __builtin_cpu_supports("avx2"); }

static bool probe_avx512vl(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("fma");
}
#endif

bool weights_cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    static int state = -1;
    return remembered(&state, probe_avx2);
#else
    return false;
#endif
}

bool weights_cpu_has_avx512vl(void) {
#if defined(__x86_64__) || defined(__i386__)
    static int state = -1;
    return remembered(&state, probe_avx512vl);
#else
    return false;
#endif
}
