import FileWatching
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The one owner of the exporter's state, and a coordinator: it turns inotify events and scans into work for the
/// part that owns each watched directory, and publishes an ``ActivitySnapshot`` after every change.
///
/// The parts, each with one job: a scanner per source (``ProjectsScanner``, ``RegistryScanner``,
/// ``HappyStateScanner``, and a ``PatternScanner`` for every ``SourceLayout/files(_:)`` source; ``SourceParts`` picks
/// one by layout), sharing a ``ScanContext`` (the watch set, the tree, the clock); ``RootWatch`` for which roots are there (awaiting missing ones through a watch on their
/// nearest parent); the ``TransitionLog`` for active/idle. The tracker itself keeps the timers and the order of
/// scans.
///
/// It runs on its own thread (a ``ThreadExecutor``) because its work is `stat` and `getdents` calls;
/// the cooperative pool is never blocked by the filesystem.
public actor ActivityTracker {
    private let settings: TrackerSettings
    private let store: SnapshotStore
    private let logger: Logger
    private let executor: ThreadExecutor
    let context: ScanContext
    /// The scanner of every source.
    let parts: SourceParts

    var snapshot: ActivitySnapshot
    /// Which part of the store this tracker publishes (0: the main tracker; see ``TrackerGroup``).
    private let part: Int
    /// Active/idle, logged once for the whole group from the merged snapshot.
    private let transitions: SharedTransitionLog
    private var idleTimer: Task<Void, Never>?
    private var livenessTimer: Task<Void, Never>?
    /// Which roots are there, and the watches that await the missing ones.
    let roots: RootWatch
    /// Mount points on, below or above the roots, as last seen (`nil` before the first look).
    private var relevantMounts: Set<MountTableMonitor.Mount>?
    private var periodicScans = 0
    /// Where transcript changes go for token usage (`nil` with `USAGE_METRICS=off`).
    private let transcripts: (@Sendable (TranscriptNotice) -> Void)?
    private var liveSessionsSent: Set<String> = []

    /// Every this many periodic rescans, one stats every file even in watched directories.
    static let deepRescanEvery = 10
    /// The sources of agents other than Claude Code whose files are counted (their counts are logged by each scan).
    static let otherAgents = ActivitySource.allCases.filter { source in
        guard case .files = source.layout else { return false }
        return source.agent != nil && source != .transcripts
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// - Parameters:
    ///   - registry: where watches are added; `nil` for a one-off scan (`--once`).
    ///   - clock: wall-clock time, injectable for tests.
    public init(
        settings: TrackerSettings,
        fileSystem: any FileSystem,
        registry: (any WatchRegistry)?,
        store: SnapshotStore,
        executor: ThreadExecutor,
        logger: Logger,
        processes: any ProcessTable = LocalProcessTable(),
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
        transcripts: (@Sendable (TranscriptNotice) -> Void)? = nil,
        part: Int = 0,
        transitions: SharedTransitionLog? = nil
    ) {
        self.part = part
        self.settings = settings
        self.transcripts = transcripts
        self.store = store
        self.executor = executor
        self.logger = logger
        self.snapshot = store.snapshot
        self.transitions = transitions ?? SharedTransitionLog(logger: logger)
        let context = ScanContext(
            settings: settings,
            fileSystem: fileSystem,
            registry: registry,
            store: store,
            logger: logger,
            clock: clock
        )
        context.collectsTranscripts = transcripts != nil
        self.context = context
        self.parts = SourceParts(context: context, processes: processes)
        self.roots = RootWatch(context: context)
    }

    /// Runs the first full scan and sets up the watches.
    public func start() {
        scan(.startup)
    }

    /// Drops every watch, sets them up again and rescans (SIGHUP: useful after mounts changed).
    public func reload() {
        context.watches.removeAll()
        roots.reset()
        scan(.reload)
    }

    /// The mount table changed. When a mount on, below or above a root came or went (a second mount stacked
    /// on the same point included: it has its own id), watches may be left on folders a mount now hides
    /// (inotify watches inodes, not paths): everything is watched and scanned again. The roots are compared
    /// with symbolic links resolved, as the mount table spells them. The first call only records the mounts.
    public func mountTableChanged(_ mounts: [MountTableMonitor.Mount]) {
        let roots = settings.roots.map(settings.directory(of:)).flatMap { root in
            [root, context.fileSystem.canonicalPath(of: root)].compactMap { $0 }
        }
        let relevant = Set(
            mounts.filter { mount in
                roots.contains { root in
                    mount.point == root || mount.point.hasPrefix(root + "/")
                        || (mount.point != "/" && root.hasPrefix(mount.point + "/"))
                }
            }
        )
        defer { relevantMounts = relevant }
        guard let previous = relevantMounts, previous != relevant else { return }
        logger.info(
            "mounts changed on a watched path; watching and scanning everything again",
            metadata: [
                "mounted": "\(relevant.subtracting(previous).map(\.point).sorted().joined(separator: ","))",
                "unmounted": "\(previous.subtracting(relevant).map(\.point).sorted().joined(separator: ","))",
            ]
        )
        reload()
    }

    /// Records, on the actor's thread, that the actor answered: awaiting it proves that the state actor's
    /// executor and the task that awaits it are alive. `/health` fails when answers stop (see ``Health``),
    /// and the systemd watchdog is pinged only after one.
    public func heartbeat() {
        store.recordAnswer(at: MonotonicClock.nanoseconds())
    }

    /// The fallback rescan: stat only, repairs whatever events missed.
    public func rescan() {
        scan(.periodic)
    }

    /// Applies one batch of inotify events.
    public func handle(_ batch: [InotifyEvent]) {
        snapshot.events &+= UInt64(batch.count)
        if batch.contains(where: { $0.mask.contains(.queueOverflow) }) {
            snapshot.overflows &+= 1
            logger.warning(
                "inotify queue overflowed; rescanning everything",
                metadata: ["overflows": "\(snapshot.overflows)"]
            )
            scan(.overflow)
            return
        }
        // A busy transcript produces a run of IN_MODIFY events; one stat per file per batch is enough.
        var changedSeen = Set<ChangeKey>()
        for event in batch {
            if let name = event.name, event.mask.isSubset(of: InotifyMask.changed.union(.isDirectory)) {
                if !changedSeen.insert(ChangeKey(descriptor: event.descriptor, name: name)).inserted { continue }
            } else if let name = event.name {
                changedSeen.remove(ChangeKey(descriptor: event.descriptor, name: name))
            }
            apply(event)
        }
        if context.transcriptsListed {
            // Found by listing during the batch (a project folder that came with transcripts): every transcript
            // is looked at (the reader reads only what it has not read).
            context.transcriptsListed = false
            context.changedTranscripts.removeAll(keepingCapacity: true)
            transcripts?(.repair)
        } else if !context.changedTranscripts.isEmpty {
            // One notice per batch, each path once (a busy transcript shows up in every batch, once).
            var seen = Set<String>()
            transcripts?(.changed(context.changedTranscripts.filter { seen.insert($0).inserted }))
            context.changedTranscripts.removeAll(keepingCapacity: true)
        }
        publish()
    }

    private struct ChangeKey: Hashable {
        var descriptor: WatchDescriptor
        var name: String
    }

    // MARK: - Full scans

    /// A full scan. At startup, on reload and after a queue overflow it stats every file. A periodic
    /// rescan trusts the watches: a watched folder whose modification time has not changed since it was last
    /// listed is not listed again (no entry can have come or gone); a changed one is listed with only the names
    /// not seen before stat'ed; a folder without a watch has everything stat'ed; and every ``deepRescanEvery``-th
    /// periodic rescan stats everything regardless. A stat costs about 2.7 µs here, so this is what keeps the idle
    /// CPU and the rescan time of 100,000 files low.
    private func scan(_ reason: ScanReason) {
        let started = MonotonicClock.nanoseconds()
        if reason == .periodic {
            periodicScans += 1
            context.statEverything = periodicScans % Self.deepRescanEvery == 0
        } else {
            context.statEverything = true
        }
        let tree = { [context] in context.tree }
        let before = (sessions: tree().sessions, files: tree().files)
        for root in settings.roots { establish(root) }
        let statedEverything = context.statEverything
        context.statEverything = true
        context.changedTranscripts.removeAll()
        // Events may have been missed (or watches were new), or the scan found transcripts no event reported: the
        // usage reader looks at every transcript. At startup it reads the history on its own.
        if reason != .startup && (statedEverything || context.transcriptsListed) { transcripts?(.repair) }
        context.transcriptsListed = false
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1_000_000_000
        if statedEverything { Heap.trim() }
        let finished = MonotonicClock.nanoseconds()
        store.recordRescan(at: finished)
        store.recordAnswer(at: finished)
        snapshot.lastScanDuration = seconds
        snapshot.rescans &+= 1
        var metadata: Logger.Metadata = [
            "reason": "\(reason.rawValue)",
            "sessions": "\(tree().sessions)",
            "transcripts": "\(tree().files[.transcripts])",
            "happy_logs": "\(tree().files[.happyLogs])",
            "watches": "\(context.watches.count)",
            "duration_ms": "\(Int((seconds * 1000).rounded()))",
        ]
        for source in Self.otherAgents where settings.roots.contains(source.root) {
            metadata[source.rawValue] = "\(tree().files[source])"
        }
        if settings.roots.count == 1, let root = settings.roots.first {
            // One more directory of a list: its own scan, said with its path.
            metadata["directory"] = "\(settings.directory(of: root))"
        }
        switch reason {
        case .startup, .reload:
            logger.info("scan finished", metadata: metadata)
        case .periodic, .overflow:
            // Folders watched only while recent (Codex's days, Gemini's projects) are the rescan's to count: a change
            // there is no sign of a missed event.
            let missed = ActivitySource.allCases.contains { source in
                before.files[source] != tree().files[source] && !source.listedByRescans
            }
            if before.sessions != tree().sessions || missed {
                var drift = metadata
                drift["sessions_before"] = "\(before.sessions)"
                drift["transcripts_before"] = "\(before.files[.transcripts])"
                drift["happy_logs_before"] = "\(before.files[.happyLogs])"
                for source in Self.otherAgents where settings.roots.contains(source.root) {
                    drift["\(source.rawValue)_before"] = "\(before.files[source])"
                }
                logger.notice("rescan corrected counts that events had missed", metadata: drift)
            } else {
                logger.debug("rescan found no drift", metadata: metadata)
            }
        }
        publish()
    }

    /// Watches and scans a root and every source under it, or, while it does not exist, watches its nearest
    /// existing parent.
    func establish(_ root: RootDirectory, attempt: Int = 0) {
        let path = context.path(of: root)
        do {
            guard try context.fileSystem.status(of: path).kind == .directory else {
                // There, but not a directory (a file put in its place): it cannot be read as one, which is
                // unhealthy, not merely "not created yet". Its parent is watched for a directory to return.
                return rootMissing(root, because: Errno(ENOTDIR, call: "stat"))
            }
        } catch {
            if error.isMissing { return rootMissing(root, attempt: attempt) }
            // The parent is not searchable: the directory may exist, we cannot tell. Unhealthy for the main
            // directory; a further one of a list (`~/.config` of another user, say) is only logged.
            if root.unreadableIsUnhealthy && part == 0 {
                context.setClaudeReadable(false, path: path, error: error)
            } else {
                context.logUnreadable(path, error)
            }
            return
        }
        if !settings.earlierDirectories.isEmpty, let mine = context.fileSystem.canonicalPath(of: path),
            let same = settings.earlierDirectories.first(where: { context.fileSystem.canonicalPath(of: $0) == mine })
        {
            context.unwatchTree(.root(root))
            for source in ActivitySource.sources(under: root) { parts.removeAll(source, &snapshot) }
            return roots.duplicate(root, of: same)
        }
        roots.stopAwaiting(root)
        // Only a watch in place before this scan is trusted (a new one may have missed changes).
        let trusted = context.trusts(.root(root))
        guard context.watch(.root(root), path) != .vanished else { return rootMissing(root) }
        if root.unreadableIsUnhealthy {
            // Listed once, so that a directory that exists but cannot be read is known: unhealthy.
            do {
                try context.fileSystem.forEachEntry(in: path, wantsStatus: ClaudeLayout.never) { _ in }
            } catch {
                if error.isMissing { return rootMissing(root) }
                return context.setClaudeReadable(false, path: path, error: error)
            }
            context.setClaudeReadable(true, path: path, error: nil)
        }
        let appeared = roots.found(root)
        for source in ActivitySource.sources(under: root) { parts.scan(source, rootTrusted: trusted, &snapshot) }
        // Files that came with the directory were found by listing, not by events: the usage reader looks at every
        // transcript (it reads only what it has not read).
        if appeared && root.holdsTranscripts { transcripts?(.repair) }
    }

    /// The root is not there as a directory: `problem` says why when something else stands in its place.
    private func rootMissing(_ root: RootDirectory, because problem: Errno? = nil, attempt: Int = 0) {
        context.unwatchTree(.root(root))
        for source in ActivitySource.sources(under: root) { parts.removeAll(source, &snapshot) }
        if root.unreadableIsUnhealthy {
            context.setClaudeReadable(problem == nil, path: context.path(of: root), error: problem)
        }
        // A folder on the way created while its parent's watch was being set up: looked at again (at most once
        // per path component).
        if roots.missing(root, because: problem) && attempt < 64 { establish(root, attempt: attempt + 1) }
    }

    // MARK: - Publishing and timers

    private func publish() {
        snapshot.newest = context.tree.newest
        snapshot.files = context.tree.files
        snapshot.sessions = context.tree.sessions
        snapshot.healthy = context.claudeReadable
        snapshot.directoriesPresent = roots.presence
        snapshot.directoryStates = settings.roots.map { root in
            .init(root: root, path: settings.directory(of: root), present: snapshot.directoriesPresent[root.index])
        }
        snapshot.watches = context.watches.count
        snapshot.watchErrors = context.watches.failures
        store.publish(snapshot, part: part)
        if transcripts != nil {
            // Every tracker of a group says the whole group's live sessions (the usage side keeps the latest).
            let live = Set((part == 0 && store.parts == 1 ? snapshot : store.snapshot).liveSessions.map(\.sessionID))
            if live != liveSessionsSent {
                liveSessionsSent = live
                transcripts?(.liveSessions(live))
            }
        }
        evaluateTransition()
        // While a registry entry or a Happy process is live, a 1-second liveness check runs (a process that dies
        // stops counting within about a second).
        if parts.hasLiveProcesses && livenessTimer == nil {
            livenessTimer = Task { [weak self] in
                while true {
                    do { try await Task.sleep(for: .seconds(1)) } catch { return }
                    guard let self, await self.livenessTick() else { return }
                }
            }
        }
    }

    /// The liveness check; returns false (ending the timer) once no entry is live.
    private func livenessTick() -> Bool {
        parts.tick(&snapshot)
        guard parts.hasLiveProcesses else {
            livenessTimer = nil
            publish()
            return false
        }
        publish()
        return true
    }

    /// Logs active/idle transitions when they happen, and arms a timer for the moment the agent turns idle.
    private func evaluateTransition() {
        let idleIn = transitions.update(
            store.parts == 1 ? snapshot : store.snapshot,
            now: context.clock(),
            idleTimeoutSeconds: settings.idleTimeoutSeconds,
            sources: settings.drivingSources
        )
        if let idleIn, idleTimer == nil {
            idleTimer = Task { [weak self] in
                do { try await Task.sleep(for: .seconds(idleIn)) } catch { return }
                await self?.idleTimerFired()
            }
        }
    }

    private func idleTimerFired() {
        idleTimer = nil
        evaluateTransition()
    }
}
