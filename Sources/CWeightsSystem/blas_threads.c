// OpenBLAS's idle worker threads, stopped where the library can stop them.
//
// The pthreads build of OpenBLAS starts its worker threads when it loads, and each idle worker
// waits for work by spinning on sched_yield for about 2^28 time-stamp ticks (a tenth of a
// second) before it sleeps. The engine runs every OpenBLAS call on the calling thread (it
// shares work out itself), so those workers never get any; on a machine of two cores the
// spinning takes CPU from the engine's own threads while a model loads. OpenBLAS exports the
// function that joins its workers (it calls it itself before a fork and at exit) but declares
// it in no public header, and builds other than the pthreads one may lack it: it is looked up
// at run time, and where it is missing nothing happens.

#include "CWeightsSystem.h"

#include <dlfcn.h>

int weights_openblas_stop_workers(void) {
    int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (!shutdown) return 0;
    shutdown();
    return 1;
}
