#include "CWeightsSIMD.h"

bool weights_cpu_has_f16c(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

bool weights_cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;  // -1: not yet checked; threads that race only store the same value
    int state = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (state < 0) {
        __builtin_cpu_init();
        state = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&cached, state, __ATOMIC_RELAXED);
    }
    return state == 1;
#else
    return false;
#endif
}
