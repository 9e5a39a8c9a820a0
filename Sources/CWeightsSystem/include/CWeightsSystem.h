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

// MARK: Mappings of files that shrink (mapping_guard.c)

/// Installs the SIGBUS handler that turns a read past the end of a registered mapping (its
/// file was truncated) into zeros and a recorded fault. Idempotent. Returns 0, or -1 with
/// errno set.
int weights_guard_install(void);
/// Registers a mapping; returns its slot, or -1 when the table (4096 slots) is full, in which
/// case a fault in it takes the default action.
int weights_guard_register(const void *base, size_t length);
/// Whether a read of the mapping in `slot` has faulted since it was registered.
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
