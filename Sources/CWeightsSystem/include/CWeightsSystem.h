#ifndef CWEIGHTS_SYSTEM_H
#define CWEIGHTS_SYSTEM_H

#include <stddef.h>
#include <stdint.h>

/// Asks the kernel to start writing `length` bytes of `fd` from `offset` to disk, without
/// waiting. Returns 0, or -1 with errno set; where the system has no such call, does nothing
/// and returns 0.
///
/// Linux's sync_file_range(2): Swift's Glibc module leaves it out, as it is declared only
/// under _GNU_SOURCE.
int weights_start_writeback(int fd, int64_t offset, int64_t length);

/// Allocates the blocks of the first `length` bytes of `fd` and extends the file to cover them
/// (Linux's fallocate(2), mode 0), so that writes there, through a mapping too, cannot run out
/// of space. Returns 0, or -1 with errno set: EOPNOTSUPP where the filesystem or system can't
/// allocate ahead (the caller writes without reserving), ENOSPC or EDQUOT when the space is
/// not there.
int weights_reserve_blocks(int fd, int64_t length);

/// Faults in the pages of a writable mapping for writing, in one call instead of one fault per
/// page (madvise MADV_POPULATE_WRITE, Linux 5.14 and later). Returns 0, or -1 with errno set:
/// EINVAL where the system has no such advice (nothing was done, and the pages fault in as
/// they are written), EFAULT or ENOMEM when a page can't be provided.
int weights_populate_write(void *address, size_t length);

/// Zeroed anonymous memory of at least `length` bytes, aligned to 2 MiB and advised for
/// transparent huge pages (madvise MADV_HUGEPAGE), so that a large buffer faults in 2 MiB at a
/// time where the kernel allows it (Linux's "madvise" setting). Returns the buffer and sets
/// `*mapped` to the length to release, or returns NULL (nothing mapped) when the mapping fails
/// or the system has no such memory: the caller then allocates as usual.
void *weights_allocate_large(size_t length, size_t *mapped);

/// Releases a buffer from weights_allocate_large, with the `mapped` length it gave.
void weights_release_large(void *base, size_t mapped);

/// Stops OpenBLAS's worker threads, which the pthreads build starts when it loads and which
/// spin while idle, where the loaded OpenBLAS exports the function that does so
/// (blas_thread_shutdown_). Call it only after setting OpenBLAS to one thread, and while no
/// OpenBLAS call runs. Returns 1 when the workers were stopped, 0 where the library has no
/// such function (or is not loaded).
int weights_openblas_stop_workers(void);

/// Names the calling thread (pthread_setname_np, which glibc declares only under _GNU_SOURCE),
/// cut to the 15 bytes Linux keeps. Returns 0, or an error number; a no-op returning 0 where
/// the system has no thread names.
int weights_name_current_thread(const char *name);

// MARK: Mappings of files that shrink, and writable mappings of outputs (mapping_guard.c)

/// Installs the SIGBUS handler that turns a read past the end of a registered mapping (its
/// file was truncated) into zeros and a recorded fault, and a faulting write to a registered
/// writable mapping into a write to anonymous memory and a recorded fault. Idempotent.
/// Returns 0, or -1 with errno set.
int weights_guard_install(void);
/// Installs the same handler for writable mappings only: faults in read-only mappings keep
/// their previous behaviour (the handler installed before, or the default action) unless
/// weights_guard_install() is called too. Idempotent. Returns 0, or -1 with errno set.
int weights_guard_install_for_writes(void);
/// Registers a mapping; returns its slot, or -1 when the table (4096 slots) is full, in which
/// case a fault in it takes the default action.
int weights_guard_register(const void *base, size_t length);
/// Registers a shared writable mapping of an output file; returns its slot, or -1 when the
/// table is full.
int weights_guard_register_writable(void *base, size_t length);
/// Whether an access to the mapping in `slot` has faulted since it was registered.
int weights_guard_faulted(int slot);
/// Forgets the mapping in `slot`; call it before unmapping.
void weights_guard_unregister(int slot);

// MARK: Temporary files removed on SIGINT, SIGTERM, SIGHUP (interrupt_cleanup.c)

/// Installs the handlers that unlink every registered path and _exit(128 + signal).
/// Idempotent; signals set to be ignored stay ignored. Returns 0, or -1 with errno set.
int weights_cleanup_install(void);
/// mkostemp(template, O_CLOEXEC) into a slot of the table, so that the handler can remove
/// the file from the moment it exists; copies the name made back into `template`. Returns the
/// descriptor (or -1 with errno set) and stores the slot (or -1 when the table is full) in
/// `*slot`.
int weights_cleanup_create(char *template, int *slot);
/// Forgets the path in `slot`.
void weights_cleanup_unregister(int slot);

#endif
