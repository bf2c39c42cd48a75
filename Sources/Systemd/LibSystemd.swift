import CSystemd
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The few libsystemd functions the exporter uses, loaded at run time (`dlopen("libsystemd.so.0")`).
///
/// Loading at run time keeps the binary's dependencies to glibc and libstdc++ (`ldd` shows nothing else), so
/// the same binary runs in a distroless container, where there is no libsystemd and no systemd to talk to.
/// There, ``shared`` is `nil` and notification is off. The function types come from libsystemd's own headers
/// (`sd-daemon.h`, `sd-journal.h`, through the CSystemd shim), so the compiler checks every call; the binary
/// declares the optional dependency in an ELF `.note.dlopen` note.
final class LibSystemd: @unchecked Sendable {
    typealias Notify = cme_sd_notify_fn
    typealias WatchdogEnabled = cme_sd_watchdog_enabled_fn
    typealias ListenFDs = cme_sd_listen_fds_fn
    typealias JournalSendv = cme_sd_journal_sendv_fn

    let notify: Notify
    let watchdogEnabled: WatchdogEnabled
    let listenFDs: ListenFDs
    let journalSendv: JournalSendv

    /// The library, or `nil` where it is not installed.
    static let shared: LibSystemd? = LibSystemd()

    private init?() {
        guard let handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL),
            let notify = dlsym(handle, "sd_notify"),
            let watchdogEnabled = dlsym(handle, "sd_watchdog_enabled"),
            let listenFDs = dlsym(handle, "sd_listen_fds"),
            let journalSendv = dlsym(handle, "sd_journal_sendv")
        else { return nil }
        self.journalSendv = unsafeBitCast(journalSendv, to: JournalSendv.self)
        self.notify = unsafeBitCast(notify, to: Notify.self)
        self.watchdogEnabled = unsafeBitCast(watchdogEnabled, to: WatchdogEnabled.self)
        self.listenFDs = unsafeBitCast(listenFDs, to: ListenFDs.self)
    }
}
