// Naming the calling thread: pthread_setname_np, which glibc declares only under _GNU_SOURCE.
#define _GNU_SOURCE
#include "CWeightsSystem.h"

#include <pthread.h>
#include <string.h>

int weights_name_current_thread(const char *name) {
#if defined(__linux__)
    char cut[16];
    strncpy(cut, name, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    return pthread_setname_np(pthread_self(), cut);
#elif defined(__APPLE__)
    return pthread_setname_np(name);
#else
    (void)name;
    return 0;
#endif
}
