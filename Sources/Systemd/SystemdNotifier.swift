import Platform

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd how the service is doing (`sd_notify(3)`): `READY=1`, `STATUS=…`, `WATCHDOG=1`,
/// `RELOADING=1`, `STOPPING=1`.
///
/// Exists only when the service manager asked for notifications (`NOTIFY_SOCKET` is set) and libsystemd can
/// be loaded; everywhere else the exporter runs without it.
public struct SystemdNotifier: Sendable {
    private let library: LibSystemd

    /// `nil` unless `NOTIFY_SOCKET` is set and libsystemd is installed.
    public init?(environment: [String: String]) {
        guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty, let library = LibSystemd.shared else {
            return nil
        }
        self.library = library
    }

    /// Sends one notification (newline-separated assignments).
    @discardableResult
    public func notify(_ state: String) -> Bool {
        library.notify(0, state) > 0
    }

    /// Half of `WATCHDOG_USEC` when the watchdog is on for this process (`sd_watchdog_enabled`, which also
    /// checks that `WATCHDOG_PID`, if set, is ours): how often to send `WATCHDOG=1`.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard library.watchdogEnabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC=` systemd 253 and later expect beside it.
    public func reloading() {
        notify("RELOADING=1\nMONOTONIC_USEC=\(MonotonicClock.nanoseconds() / 1000)")
    }

    /// The listening socket systemd passed (socket activation, `sd_listen_fds`), if exactly one was passed.
    /// Works without `NOTIFY_SOCKET`: a socket unit may start a service of any type.
    public static func activationSocket() -> Int32? {
        guard let library = LibSystemd.shared else { return nil }
        let count = library.listenFDs(1)
        // SD_LISTEN_FDS_START is 3.
        return count == 1 ? 3 : nil
    }
}
