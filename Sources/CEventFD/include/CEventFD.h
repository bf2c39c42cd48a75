#ifndef C_EVENTFD_H
#define C_EVENTFD_H

// eventfd(2), which wakes a thread blocked in poll or epoll_wait. No logic lives here.
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#endif
