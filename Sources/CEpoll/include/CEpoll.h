#ifndef C_EPOLL_H
#define C_EPOLL_H

// epoll(7), eventfd(2) and accept4(2) for the HTTP server's event loop. No logic lives here.
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

// glibc declares accept4 only under _GNU_SOURCE, which the Swift Glibc module is not built with.
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
#endif

#endif
