#ifndef C_SYSTEMD_H
#define C_SYSTEMD_H

// libsystemd's declarations (Debian's libsystemd-dev), for the function types only: the library itself is
// loaded at run time with dlopen, so the binary does not link it and runs where it is absent. Taking the types
// from sd-daemon.h and sd-journal.h lets the compiler check the signatures the Swift side calls through.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

typedef __typeof__(&sd_notify) cme_sd_notify_fn;
typedef __typeof__(&sd_watchdog_enabled) cme_sd_watchdog_enabled_fn;
typedef __typeof__(&sd_listen_fds) cme_sd_listen_fds_fn;
typedef __typeof__(&sd_journal_sendv) cme_sd_journal_sendv_fn;

#endif
