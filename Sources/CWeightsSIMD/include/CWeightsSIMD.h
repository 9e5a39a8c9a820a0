#ifndef CWEIGHTS_SIMD_H
#define CWEIGHTS_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/// True when the running CPU has F16C and AVX2 (checked once, at run time).
bool weights_cpu_has_f16c(void);

#endif
