#ifndef CWEIGHTS_SYSTEM_H
#define CWEIGHTS_SYSTEM_H

#include <stdint.h>

/// Asks the kernel to start writing `length` bytes of `fd` from `offset` to disk, without
/// waiting. Returns 0, or -1 with errno set; where the system has no such call, does nothing
/// and returns 0.
///
/// Linux's sync_file_range(2): Swift's Glibc module leaves it out, as it is declared only
/// under _GNU_SOURCE.
int weights_start_writeback(int fd, int64_t offset, int64_t length);

#endif
