#include "CWeightsSIMD.h"

bool weights_cpu_has_f16c(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}
