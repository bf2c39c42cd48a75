#ifndef C_INOTIFY_H
#define C_INOTIFY_H

// The kernel interfaces the watcher's read loop needs: inotify itself, an eventfd to wake the
// blocked reader for shutdown, and poll(2) to wait on both. No logic lives here.
#ifdef __linux__
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#endif

#endif
