// Large owned buffers in anonymous memory that the kernel may back with transparent huge
// pages: one fault per 2 MiB instead of one per 4 KiB.
#define _GNU_SOURCE
#include "CWeightsSystem.h"

#include <stdint.h>
#include <sys/mman.h>

#define LARGE_PAGE ((size_t)2 << 20)

void *weights_allocate_large(size_t length, size_t *mapped) {
#if defined(__linux__)
    if (length == 0 || length > SIZE_MAX - 2 * LARGE_PAGE) return NULL;
    size_t rounded = (length + LARGE_PAGE - 1) & ~(LARGE_PAGE - 1);
    // Map one large page more than needed, then give back what lies outside the aligned run,
    // so the buffer starts on a 2 MiB boundary (a huge page can only back an aligned run).
    size_t padded = rounded + LARGE_PAGE;
    uint8_t *start = mmap(NULL, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (start == MAP_FAILED) return NULL;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)start + LARGE_PAGE - 1) & ~(uintptr_t)(LARGE_PAGE - 1));
    if (aligned > start) munmap(start, (size_t)(aligned - start));
    uint8_t *end = start + padded, *used = aligned + rounded;
    if (end > used) munmap(used, (size_t)(end - used));
    // Advice only: where transparent huge pages are off the buffer is plain pages.
    (void)madvise(aligned, rounded, MADV_HUGEPAGE);
    *mapped = rounded;
    return aligned;
#else
    (void)length; (void)mapped;
    return NULL;
#endif
}

void weights_release_large(void *base, size_t mapped) {
#if defined(__linux__)
    munmap(base, mapped);
#else
    (void)base; (void)mapped;
#endif
}
