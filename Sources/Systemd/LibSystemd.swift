import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The few libsystemd functions the exporter uses, loaded at run time (`dlopen("libsystemd.so.0")`).
///
/// Loading at run time keeps the binary's dependencies to glibc and libstdc++ (`ldd` shows nothing else), so
/// the same binary runs in a distroless container, where there is no libsystemd and no systemd to talk to.
/// There, ``shared`` is `nil` and notification is off. The signatures are those of `sd-daemon.h`.
final class LibSystemd: @unchecked Sendable {
    typealias Notify = @convention(c) (Int32, UnsafePointer<CChar>?) -> Int32
    typealias WatchdogEnabled = @convention(c) (Int32, UnsafeMutablePointer<UInt64>?) -> Int32
    typealias ListenFDs = @convention(c) (Int32) -> Int32
    typealias JournalSendv = @convention(c) (UnsafePointer<iovec>?, Int32) -> Int32

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
