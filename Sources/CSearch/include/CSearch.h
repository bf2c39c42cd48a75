#ifndef C_SEARCH_H
#define C_SEARCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <string.h>

// glibc's memmem (a GNU extension the Glibc module does not export): vectorised substring search.
static inline const void *cme_memmem(const void *haystack, size_t haystack_length, const void *needle,
                                     size_t needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length);
}

#endif
