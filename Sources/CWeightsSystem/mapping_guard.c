// A SIGBUS handler for mappings of files that shrink while they are read, and for writable
// mappings of output files whose pages the kernel cannot provide.
//
// Reading a page of a file mapping that lies past the file's end (the file was truncated after
// it was mapped) raises SIGBUS, which kills the process. For the mappings registered here, the
// handler instead maps anonymous zero pages over the rest of the mapping, from the faulting
// page on, records that the mapping faulted, and returns: the faulting instruction runs again
// and reads zeros. No control flow is hijacked (no longjmp through Swift frames); the reader
// simply sees zeros, and must ask weights_guard_faulted() before trusting what it read.
//
// Writable mappings (an output file written through a shared mapping) fault the same way when
// the kernel cannot back a page: an I/O error reading it in, no space for it, the file cut by
// someone else. Their replacement pages are anonymous and writable, so the faulting store runs
// again into memory that goes nowhere; the writer asks weights_guard_faulted() before it
// commits the file, and reports the failure instead of a truncated or wrong output.
//
// Two ways in: weights_guard_install() guards both kinds (a program that opts in to reading
// zeros from shrunken files), weights_guard_install_for_writes() only writable mappings (a
// library writing through a mapping of its own file, which changes nothing for read mappings:
// their faults go on as before, to the previous handler or the default action).
//
// Async-signal safety: the handler touches only a fixed table of atomics and calls mmap(2),
// which on Linux is a plain system call wrapper that takes no locks in libc (it is not on the
// POSIX list, but neither glibc nor musl do anything in it that a signal could interrupt
// badly). errno is saved and restored. Faults outside registered mappings go to the handler
// that was installed before ours, or take the default action (the process dies, as before).
#define _GNU_SOURCE
#include "CWeightsSystem.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS 4096

struct slot {
    _Atomic uintptr_t base;     // 0: free
    _Atomic uintptr_t length;
    _Atomic int faulted;
    _Atomic int writable;
};

static struct slot slots[SLOTS];
static uintptr_t page_size = 4096;
static struct sigaction previous;
static atomic_flag installed = ATOMIC_FLAG_INIT;
static _Atomic int install_status = 1;   // 1: not yet, 0: done, -1: failed
// Whether faults in read-only mappings are handled too (weights_guard_install).
static _Atomic int reads_guarded;

static int install_now(void);

static void forward(int signal, siginfo_t *info, void *context) {
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) { previous.sa_sigaction(signal, info, context); return; }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signal);
        return;
    }
    // Default action: restore it and return; the fault repeats and kills the process with
    // SIGBUS, as it would have without us.
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal, &fallback, NULL);
}

static void on_bus_error(int signal, siginfo_t *info, void *context) {
    int saved = errno;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t base = atomic_load_explicit(&slots[i].base, memory_order_acquire);
        if (base == 0) continue;
        uintptr_t length = atomic_load_explicit(&slots[i].length, memory_order_relaxed);
        if (address < base || address >= base + length) continue;
        int writable = atomic_load_explicit(&slots[i].writable, memory_order_relaxed);
        if (!writable && !atomic_load_explicit(&reads_guarded, memory_order_relaxed)) break;
        uintptr_t start = address & ~(page_size - 1);
        uintptr_t end = (base + length + page_size - 1) & ~(page_size - 1);
        void *replaced = mmap((void *)start, end - start, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                              MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (replaced != MAP_FAILED) {
            atomic_store_explicit(&slots[i].faulted, 1, memory_order_release);
            errno = saved;
            return;
        }
        break;
    }
    errno = saved;
    forward(signal, info, context);
}

// Installs the handler once, whichever entry point comes first; later calls return the
// first call's result (a caller that raced the first waits for it).
static int install_handler(void) {
    if (atomic_flag_test_and_set(&installed)) {
        int status;
        while ((status = atomic_load_explicit(&install_status, memory_order_acquire)) == 1) sched_yield();
        return status;
    }
    int status = install_now();
    atomic_store_explicit(&install_status, status, memory_order_release);
    return status;
}

int weights_guard_install(void) {
    atomic_store_explicit(&reads_guarded, 1, memory_order_relaxed);
    return install_handler();
}

int weights_guard_install_for_writes(void) {
    return install_handler();
}

static int install_now(void) {
    long size = sysconf(_SC_PAGESIZE);
    if (size > 0) page_size = (uintptr_t)size;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous) != 0) return -1;
    // A fault with SIGBUS blocked kills the process whatever the handler: unblock it in this
    // thread (threads started later inherit the mask).
    sigset_t bus;
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    return pthread_sigmask(SIG_UNBLOCK, &bus, NULL) == 0 ? 0 : -1;
}

static int register_mapping(const void *base, size_t length, int writable) {
    if (base == NULL || length == 0) return -1;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t expected = 0;
        // Claims the slot with a placeholder base no mapping has, so the handler skips it
        // until the length is written.
        if (atomic_compare_exchange_strong(&slots[i].base, &expected, (uintptr_t)1)) {
            atomic_store(&slots[i].faulted, 0);
            atomic_store(&slots[i].writable, writable);
            atomic_store(&slots[i].length, (uintptr_t)length);
            atomic_store_explicit(&slots[i].base, (uintptr_t)base, memory_order_release);
            return i;
        }
    }
    return -1;
}

int weights_guard_register(const void *base, size_t length) {
    return register_mapping(base, length, 0);
}

int weights_guard_register_writable(void *base, size_t length) {
    return register_mapping(base, length, 1);
}

int weights_guard_faulted(int slot) {
    if (slot < 0 || slot >= SLOTS) return 0;
    return atomic_load_explicit(&slots[slot].faulted, memory_order_acquire);
}

void weights_guard_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    // The length first, so that a handler never pairs a stale length with a new base.
    atomic_store(&slots[slot].length, (uintptr_t)0);
    atomic_store_explicit(&slots[slot].base, (uintptr_t)0, memory_order_release);
}
