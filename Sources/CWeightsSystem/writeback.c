// Output files: early writeback, block reservation, and pre-faulting of writable mappings.
#define _GNU_SOURCE
#include "CWeightsSystem.h"

#include <errno.h>
#include <sys/mman.h>

#if defined(__linux__)
#include <fcntl.h>

int weights_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int weights_reserve_blocks(int fd, int64_t length) {
    // fallocate(2), not posix_fallocate(3): where the filesystem can't allocate, glibc's
    // posix_fallocate falls back to writing a byte into every block, which reserves nothing
    // on copy-on-write filesystems and costs a pass over the file; the caller then keeps to
    // plain writes instead.
    int result;
    do {
        result = fallocate(fd, 0, 0, length);
    } while (result != 0 && errno == EINTR);
    if (result != 0 && (errno == ENOSYS || errno == EINVAL)) errno = EOPNOTSUPP;
    return result;
}
#else
int weights_start_writeback(int fd, int64_t offset, int64_t length) {
    (void)fd; (void)offset; (void)length;
    return 0;
}

int weights_reserve_blocks(int fd, int64_t length) {
    (void)fd; (void)length;
    errno = EOPNOTSUPP;
    return -1;
}
#endif

// MADV_POPULATE_WRITE: Linux 5.14 and later; the headers of older systems may lack it.
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif

int weights_populate_write(void *address, size_t length) {
#if defined(MADV_POPULATE_WRITE)
    return madvise(address, length, MADV_POPULATE_WRITE);
#else
    (void)address; (void)length;
    errno = EINVAL;
    return -1;
#endif
}
