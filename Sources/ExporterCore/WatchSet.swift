import FileWatching
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The tracker's inotify watches: which directory each descriptor watches (a ``WatchTable``), adding and
/// removing them through the ``WatchRegistry``, and what a watch that cannot be added means (counted, and
/// logged at most hourly per cause, with the fix for the watch limit).
struct WatchSet {
    /// What ``watch(_:_:now:)`` found.
    enum Outcome {
        case watching
        /// The directory does not exist (any more).
        case vanished
        /// Could not be watched (limit reached, permission); rescans still cover it.
        case unwatched
    }

    private let registry: (any WatchRegistry)?
    private let logger: Logger
    private(set) var table = WatchTable()
    /// Watches that could not be added (`claude_exporter_watch_errors_total`).
    private(set) var failures: UInt64 = 0
    private var failureLogs = LogThrottle<Int32>()

    /// - Parameter registry: where watches are added; `nil` for a one-off scan (`--once`), which watches nothing.
    init(registry: (any WatchRegistry)?, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    var count: Int { table.count }

    func descriptor(for directory: WatchedDirectory) -> WatchDescriptor? { table.descriptor(for: directory) }
    func roles(of descriptor: WatchDescriptor) -> [WatchedDirectory] { table.roles(of: descriptor) }
    func directories(within directory: WatchedDirectory) -> [WatchedDirectory] { table.directories(within: directory) }

    /// Watches `path` for `directory` (once: an existing watch is kept).
    mutating func watch(_ directory: WatchedDirectory, _ path: String, now: Timestamp) -> Outcome {
        guard let registry else { return .unwatched }
        if table.descriptor(for: directory) != nil { return .watching }
        do {
            table.insert(directory, descriptor: try registry.addWatch(path: path, mask: .directoryWatch))
            return .watching
        } catch {
            if error.isMissing { return .vanished }
            recordFailure(error, path: path, now: now)
            return .unwatched
        }
    }

    mutating func unwatch(_ directory: WatchedDirectory) {
        if let descriptor = table.remove(directory) { registry?.removeWatch(descriptor) }
    }

    /// Unwatches `directory` and everything watched below it.
    mutating func unwatchTree(_ directory: WatchedDirectory) {
        for inner in table.directories(within: directory) { unwatch(inner) }
    }

    /// The watch itself ended (its directory was deleted, moved or unmounted): forgets the descriptor and returns
    /// what it watched. After `IN_MOVE_SELF` the kernel's watch follows the directory elsewhere, so it is removed
    /// here; after `IN_IGNORED` it is gone already.
    mutating func ended(_ descriptor: WatchDescriptor, removedByKernel: Bool) -> [WatchedDirectory] {
        let gone = table.removeDescriptor(descriptor)
        if !removedByKernel { registry?.removeWatch(descriptor) }
        return gone
    }

    /// Drops every watch (a reload sets them up again).
    mutating func removeAll() {
        for descriptor in table.roles.keys { registry?.removeWatch(descriptor) }
        table = WatchTable()
    }

    private mutating func recordFailure(_ error: Errno, path: String, now: Timestamp) {
        failures &+= 1
        let rescan = "changes there are seen only by the fallback rescan"
        let (log, suppressed) = failureLogs.check(error.code, now: now)
        guard log else {
            logger.debug("cannot watch directory", metadata: ["path": "\(path)", "error": "\(error)"])
            return
        }
        var metadata: Logger.Metadata = ["path": "\(path)", "error": "\(error)"]
        if suppressed > 0 { metadata["since_last_logged"] = "\(suppressed)" }
        if error.code == ENOSPC {
            metadata["max_user_watches"] = "\(Inotify.maxUserWatches().map(String.init) ?? "unknown")"
            logger.error(
                "inotify watch limit reached; \(rescan). Raise it: sysctl -w fs.inotify.max_user_watches=524288",
                metadata: metadata
            )
        } else {
            logger.warning("cannot watch directory; \(rescan)", metadata: metadata)
        }
    }
}
