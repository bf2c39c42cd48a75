#ifndef C_MALLOC_H
#define C_MALLOC_H

// glibc's malloc tuning (mallopt, malloc_trim), which the Swift Glibc module does not include.
#ifdef __linux__
#include <malloc.h>
#endif

#endif
