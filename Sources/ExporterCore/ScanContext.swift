import FileWatching
import Logging
import Platform

/// What the tracker's parts share: the filesystem, the clock, the watches, the tree, and the one way activity is
/// recorded. Owned by the ``ActivityTracker`` and used only on its executor (a class, so that the parts change the
/// same watches and tree in place).
final class ScanContext {
    let settings: TrackerSettings
    let fileSystem: any FileSystem
    let clock: @Sendable () -> Timestamp
    let logger: Logger
    let store: SnapshotStore
    var watches: WatchSet
    var tree = TreeState()
    /// Whether the scan under way stats every file, or trusts the watches (see ``ActivityTracker``'s `scan`).
    var statEverything = true
    /// False while the Claude directory (or its `projects/`) exists but cannot be listed.
    private(set) var claudeReadable = true
    private var futureTimeSeen = PerSource(repeating: Timestamp.zero)
    /// Future-dated files, per source: logged at most once an hour.
    private var futureTimeLogs = LogThrottle<ActivitySource>()
    private var unreadableLogged: Set<String> = []
    /// Unreadable folders past the first ``unreadableLoggedOneByOne``: said in one line, at most hourly.
    private var unreadableSummaryLogs = LogThrottle<Int>()
    static let unreadableLoggedOneByOne = 20
    /// Transcripts changed by the events being applied, for the token-usage reader (collected only when there is
    /// one: ``collectsTranscripts``).
    var changedTranscripts: [String] = []
    var collectsTranscripts = false
    /// Whether a listing found transcripts that no event reported (their paths are not known one by one).
    var transcriptsListed = false

    /// A transcript changed (an event): noted for the token-usage reader, if there is one.
    func transcriptChanged(_ path: String) {
        if collectsTranscripts { changedTranscripts.append(path) }
    }

    init(
        settings: TrackerSettings,
        fileSystem: any FileSystem,
        registry: (any WatchRegistry)?,
        store: SnapshotStore,
        logger: Logger,
        clock: @escaping @Sendable () -> Timestamp
    ) {
        self.settings = settings
        self.fileSystem = fileSystem
        self.clock = clock
        self.logger = logger
        self.store = store
        self.watches = WatchSet(registry: registry, logger: logger)
    }

    func path(of root: RootDirectory) -> String { settings.directory(of: root) }

    func isDirectory(_ path: String) -> Bool { (try? fileSystem.status(of: path))?.kind == .directory }

    // MARK: - Watches

    /// Watches `path` for `directory`, unless it is watched already.
    func watch(_ directory: WatchedDirectory, _ path: String) -> WatchSet.Outcome {
        watches.watch(directory, path, now: clock())
    }

    /// Whether `directory` was watched before this call: only such a watch can be trusted to have reported
    /// every change since (see ``statEverything``).
    func trusts(_ directory: WatchedDirectory) -> Bool {
        !statEverything && watches.descriptor(for: directory) != nil
    }

    func unwatch(_ directory: WatchedDirectory) { watches.unwatch(directory) }

    func unwatchTree(_ directory: WatchedDirectory) { watches.unwatchTree(directory) }

    // MARK: - Activity

    /// Records activity from `source`: a file modified at `modified`. A file dated in the future counts as "now",
    /// once per new date, or on a real change (an event), so a rescan does not keep re-activating it.
    func observe(_ source: ActivitySource, _ modified: Timestamp, _ path: String, fromEvent: Bool) {
        var time = modified
        let now = clock()
        if modified > now.adding(seconds: 1) {
            guard fromEvent || modified > futureTimeSeen[source] else { return }
            futureTimeSeen[source] = max(futureTimeSeen[source], modified)
            let (log, suppressed) = futureTimeLogs.check(source, now: now)
            if log {
                var metadata: Logger.Metadata = ["path": "\(path)", "mtime": "\(modified)", "now": "\(now)"]
                if suppressed > 0 { metadata["since_last_logged"] = "\(suppressed)" }
                logger.warning("file modification time is in the future; counting it as now", metadata: metadata)
            }
            time = now
        }
        if tree.observe(source, time: time, path: path) {
            logger.debug("activity", metadata: ["source": "\(source.rawValue)", "path": "\(path)"])
        }
    }

    // MARK: - Problems

    func setClaudeReadable(_ readable: Bool, path: String, error: Errno?) {
        guard readable != claudeReadable else { return }
        claudeReadable = readable
        if readable {
            logger.notice("Claude directory is readable again", metadata: ["path": "\(path)"])
        } else {
            logger.error(
                "Claude directory exists but cannot be read; /health answers 503 until it can",
                metadata: ["path": "\(path)", "error": "\(error.map { "\($0)" } ?? "")"]
            )
        }
    }

    /// A folder that exists but cannot be listed: its last known contents are kept, and it is logged once per path
    /// for the first few paths (and always for a root or a folder right below one); the others are said together,
    /// at most hourly, so that a tree of unreadable folders cannot flood the log.
    func logUnreadable(_ path: String, _ error: Errno) {
        guard !unreadableLogged.contains(path) else { return }
        let nearRoot = settings.directories.contains { path == $0 || parentPath(path) == $0 }
        if unreadableLogged.count < Self.unreadableLoggedOneByOne || nearRoot {
            unreadableLogged.insert(path)
            logger.warning(
                "cannot read directory; keeping its last known contents",
                metadata: ["path": "\(path)", "error": "\(error)"]
            )
            return
        }
        let (log, suppressed) = unreadableSummaryLogs.check(0, now: clock())
        if log {
            logger.warning(
                "more directories cannot be read; keeping their last known contents (not logged one by one)",
                metadata: ["path": "\(path)", "error": "\(error)", "since_last_logged": "\(suppressed)"]
            )
        }
    }
}
