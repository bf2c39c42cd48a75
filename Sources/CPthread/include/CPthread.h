#ifndef C_PTHREAD_H
#define C_PTHREAD_H

// Thread names for the exporter's own threads. No logic lives here.
#ifdef __linux__
#include <pthread.h>

// glibc declares pthread_setname_np only under _GNU_SOURCE, which the Swift Glibc module is not built with.
extern int pthread_setname_np(pthread_t thread, const char *name);
#endif

#endif
