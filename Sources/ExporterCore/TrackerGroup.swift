import FileWatching
import Logging
import Platform

/// The trackers a configuration needs: the main one, for every root, and one more for each further directory of a
/// root whose setting is a list (`CLAUDE_DIR=/home/agent/.claude,/home/agent/.config/claude`). They share the
/// state thread (one serial executor: no extra thread), the inotify instance (each ignores the watch descriptors
/// it does not know) and the snapshot store, where each publishes its part and readers get the union (sessions,
/// files and the registry add up, the newest activity is the newest of all). Active/idle is logged once, from the
/// union.
///
/// Two trackers that watch the same directory (the parent both await) share the kernel's watch descriptor: when
/// one removes it, the other is told by `IN_IGNORED` that its watch ended and watches again.
public struct TrackerGroup: Sendable {
    public let trackers: [ActivityTracker]
    private let store: SnapshotStore
    private let logger: Logger
    private let configuration: ExporterConfiguration

    /// The store to give the trackers: one part per tracker `configuration` needs.
    public static func store(for configuration: ExporterConfiguration, startTime: Timestamp) -> SnapshotStore {
        SnapshotStore(ActivitySnapshot(startTime: startTime), parts: TrackerSettings.all(configuration).count)
    }

    public init(
        configuration: ExporterConfiguration,
        fileSystem: any FileSystem,
        registry: (any WatchRegistry)?,
        store: SnapshotStore,
        executor: ThreadExecutor,
        logger: Logger,
        processes: any ProcessTable = LocalProcessTable(),
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        transcripts: (@Sendable (TranscriptNotice) -> Void)? = nil
    ) {
        let all = TrackerSettings.all(configuration)
        precondition(store.parts == all.count, "the store needs a part per tracker: TrackerGroup.store(for:)")
        self.store = store
        self.logger = logger
        self.configuration = configuration
        let transitions = SharedTransitionLog(logger: logger)
        trackers = all.enumerated().map { part, settings in
            ActivityTracker(
                settings: settings,
                fileSystem: fileSystem,
                registry: registry,
                store: store,
                executor: executor,
                logger: logger,
                processes: processes,
                clock: clock,
                transcripts: transcripts,
                part: part,
                transitions: transitions
            )
        }
    }

    /// The first full scan of each tracker. A root whose setting lists several directories, none of which exists,
    /// is then a warning (each tracker says only a notice for its own directory).
    public func start() async {
        for tracker in trackers { await tracker.start() }
        let snapshot = store.snapshot
        for root in RootDirectory.allCases where !configuration.moreDirectories[root.index].isEmpty {
            guard !snapshot.directoriesPresent[root.index], root.holdsAny(of: configuration.activitySources) else {
                continue
            }
            let paths = configuration.allDirectories(of: root).joined(separator: ",")
            logger.warning(
                "none of the directories exists: \(root.waitingMessage(path: paths))",
                metadata: ["setting": "\(root.variable)", "path": "\(paths)"]
            )
        }
    }

    public func rescan() async {
        for tracker in trackers { await tracker.rescan() }
    }

    public func reload() async {
        for tracker in trackers { await tracker.reload() }
    }

    public func handle(_ batch: [InotifyEvent]) async {
        for tracker in trackers { await tracker.handle(batch) }
    }

    public func mountTableChanged(_ mounts: [MountTableMonitor.Mount]) async {
        for tracker in trackers { await tracker.mountTableChanged(mounts) }
    }

    /// A round trip through the state thread (the trackers share it: one answers for all).
    public func heartbeat() async {
        await trackers[0].heartbeat()
    }
}
