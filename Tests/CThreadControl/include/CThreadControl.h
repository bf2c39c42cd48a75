#ifndef C_THREAD_CONTROL_H
#define C_THREAD_CONTROL_H

// For tests only: stop and resume one thread of another process with ptrace(2), which Swift cannot call
// (it is variadic). A stopped thread is what a stuck state actor looks like from outside.
#ifdef __linux__
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

// Attaches to thread `tid` and stops it (PTRACE_SEIZE, then PTRACE_INTERRUPT); 0 on success, else -1 and errno.
static inline int cme_thread_stop(pid_t tid) {
    if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) return -1;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) return -1;
    int status = 0;
    return waitpid(tid, &status, __WALL) == tid ? 0 : -1;
}

// Detaches from thread `tid`, which resumes.
static inline int cme_thread_resume(pid_t tid) {
    return (int)ptrace(PTRACE_DETACH, tid, 0, 0);
}
#endif

#endif
