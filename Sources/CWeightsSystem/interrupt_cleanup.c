// Removing temporary files when the process is interrupted (SIGINT, SIGTERM, SIGHUP).
//
// An AtomicFile writes under a hidden temporary name and renames it into place on commit;
// its deinit removes the temporary when the write fails. A signal whose default action
// terminates the process skips deinit, and would leave the temporary behind. So every
// temporary path is also recorded here, in a fixed table of fixed-size slots (no allocation),
// and the handler unlinks every recorded path and ends the process with _exit(128 + signal),
// the status a shell reports for a process killed by that signal (130, 143, 129).
//
// Why a C handler and not a Dispatch signal source: the source's handler runs on a queue
// thread, only once the process gets around to it, and has to stop the writing threads
// before exiting; the C handler runs at once, on whichever thread the kernel picks, and does
// only async-signal-safe things: atomic loads, unlink(2) and _exit(2).
//
// SIGKILL cannot be caught: after kill -9 the temporary stays, but the destination still
// holds either its old contents or the complete new file (the rename is atomic).
#define _GNU_SOURCE
#include "CWeightsSystem.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PATHS 256
#define PATH_BYTES 4096

// FREE → CLAIMED (the template is being copied in; the handler skips the slot) → CREATING
// (mkostemp is choosing the name in place: only the trailing XXXXXX change) → ACTIVE.
enum { FREE = 0, CLAIMED = 1, CREATING = 2, ACTIVE = 3 };

static _Atomic int states[PATHS];
static char paths[PATHS][PATH_BYTES];
static atomic_flag installed = ATOMIC_FLAG_INIT;

static void on_interrupt(int signal) {
    // CREATING slots too: mkostemp is choosing their name in place, on another thread, and
    // the file may already exist. Unlinking a name that does not exist yet is harmless.
    for (int i = 0; i < PATHS; i++) {
        if (atomic_load_explicit(&states[i], memory_order_acquire) >= CREATING) unlink(paths[i]);
    }
    _exit(128 + signal);
}

int weights_cleanup_install(void) {
    if (atomic_flag_test_and_set(&installed)) return 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    // Every handled signal is blocked while the handler runs, so two signals don't race to
    // exit with different statuses.
    sigaddset(&action.sa_mask, SIGINT);
    sigaddset(&action.sa_mask, SIGTERM);
    sigaddset(&action.sa_mask, SIGHUP);
    int signals[] = { SIGINT, SIGTERM, SIGHUP };
    for (int i = 0; i < 3; i++) {
        struct sigaction current;
        // A signal the parent set to be ignored (nohup, a shell's background job) stays ignored.
        if (sigaction(signals[i], NULL, &current) == 0 && current.sa_handler == SIG_IGN) continue;
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
    }
    // A process can start with these signals blocked, inherited from whatever spawned it
    // (Foundation's Process does that on Linux): they would then wait, pending, while the
    // write runs to its end. Unblock them in this thread; threads started later inherit it.
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &handled, NULL);
    return 0;
}

void weights_cleanup_unregister(int slot) {
    if (slot < 0 || slot >= PATHS) return;
    atomic_store_explicit(&states[slot], FREE, memory_order_release);
}

int weights_cleanup_create(char *template, int *slot) {
    size_t length = strlen(template);
    *slot = -1;
    if (length < PATH_BYTES) {
        for (int i = 0; i < PATHS; i++) {
            int expected = FREE;
            if (!atomic_compare_exchange_strong(&states[i], &expected, CLAIMED)) continue;
            // mkostemp fills in the name in the table itself, so a handler that runs meanwhile,
            // on any thread, unlinks whatever file it has made (see on_interrupt).
            memcpy(paths[i], template, length + 1);
            atomic_store_explicit(&states[i], CREATING, memory_order_release);
            int fd = mkostemp(paths[i], O_CLOEXEC);
            if (fd < 0) {
                atomic_store_explicit(&states[i], FREE, memory_order_release);
                return -1;
            }
            memcpy(template, paths[i], length + 1);
            atomic_store_explicit(&states[i], ACTIVE, memory_order_release);
            *slot = i;
            return fd;
        }
    }
    // No room in the table: the file is still removed on errors, not on signals.
    return mkostemp(template, O_CLOEXEC);
}
