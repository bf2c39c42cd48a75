#ifndef C_ZLIB_H
#define C_ZLIB_H

// zlib (Debian's zlib1g-dev), for gzip-coded responses. Linked statically (libz.a, see Package.swift), so the
// binary's dynamic dependencies stay glibc and libstdc++. No logic lives here.
#include <zlib.h>

#endif
