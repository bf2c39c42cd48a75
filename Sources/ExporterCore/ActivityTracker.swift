import FileWatching
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// What the tracker needs to know from the configuration.
public struct TrackerSettings: Sendable {
    public var claudeDirectory: String
    public var happyDirectory: String
    public var idleTimeoutSeconds: Double
    /// The sources that make the agent active (`ACTIVITY_SOURCES`).
    public var drivingSources: Set<ActivitySource>
    /// Session folders (`projects/<slug>/<uuid>/`) with nothing newer than this are not watched, which
    /// keeps the watch count bounded by recent sessions; a change to the session's transcript watches
    /// its folder again. A periodic rescan looks inside the session folders of project folders it lists
    /// (changed or unwatched ones); the deep rescan (every ``ActivityTracker/deepRescanEvery``-th) inside all.
    public var sessionWatchWindowSeconds: Double

    public init(
        claudeDirectory: String,
        happyDirectory: String,
        idleTimeoutSeconds: Double,
        drivingSources: Set<ActivitySource> = ActivitySource.defaultDriving,
        sessionWatchWindowSeconds: Double = 24 * 3600
    ) {
        self.claudeDirectory = claudeDirectory
        self.happyDirectory = happyDirectory
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.drivingSources = drivingSources
        self.sessionWatchWindowSeconds = sessionWatchWindowSeconds
    }

    public init(_ configuration: ExporterConfiguration) {
        self.init(
            claudeDirectory: configuration.claudeDirectory,
            happyDirectory: configuration.happyDirectory,
            idleTimeoutSeconds: configuration.idleTimeoutSeconds,
            drivingSources: configuration.activitySources
        )
    }
}

/// Why a full scan runs.
public enum ScanReason: String, Sendable {
    case startup
    case periodic
    case overflow
    case reload
}

/// The one owner of the exporter's state: turns inotify events and scans into a ``TreeState``,
/// keeps the watch set in step with the directories, and publishes an ``ActivitySnapshot`` after
/// every change.
///
/// It runs on its own thread (a ``ThreadExecutor``) because its work is `stat` and `getdents` calls;
/// the cooperative pool is never blocked by the filesystem.
public actor ActivityTracker {
    private let settings: TrackerSettings
    private let fileSystem: any FileSystem
    private let processes: any ProcessTable
    private let clock: @Sendable () -> Timestamp
    private let store: SnapshotStore
    private let logger: Logger
    private let executor: ThreadExecutor

    private var tree = TreeState()
    private var watches: WatchSet
    private var snapshot: ActivitySnapshot
    private var claudeReadable = true
    private var transitions: TransitionLog
    private var idleTimer: Task<Void, Never>?
    private var ancestors: [Root: (path: String, next: String)] = [:]
    private var futureTimeSeen = PerSource(repeating: Timestamp.zero)
    /// Future-dated files, per source: logged at most once an hour.
    private var futureTimeLogs = LogThrottle<ActivitySource>()
    private var unreadableLogged: Set<String> = []
    /// The session registry (`sessions/`), and the liveness check that runs while an entry is live.
    private var sessionRegistry: SessionRegistryMonitor
    private var registryTimer: Task<Void, Never>?
    /// Mount points on, below or above the roots, as last seen (`nil` before the first look).
    private var relevantMounts: Set<MountTableMonitor.Mount>?
    /// Whether the scan under way stats every file, or trusts the watches (see ``scan(_:)``).
    private var statEverything = true
    private var periodicScans = 0

    /// Every this many periodic rescans, one stats every file even in watched directories.
    static let deepRescanEvery = 10

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
        clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() }
    ) {
        self.settings = settings
        self.fileSystem = fileSystem
        self.processes = processes
        self.store = store
        self.executor = executor
        self.logger = logger
        self.clock = clock
        self.snapshot = store.snapshot
        self.watches = WatchSet(registry: registry, logger: logger)
        self.transitions = TransitionLog(logger: logger)
        self.sessionRegistry = SessionRegistryMonitor(
            directory: settings.claudeDirectory + "/" + ClaudeLayout.sessions,
            freshness: settings.idleTimeoutSeconds,
            fileSystem: fileSystem,
            processes: processes,
            logger: logger
        )
    }

    /// Runs the first full scan and sets up the watches.
    public func start() {
        scan(.startup)
    }

    /// Drops every watch, sets them up again and rescans (SIGHUP: useful after mounts changed).
    public func reload() {
        watches.removeAll()
        ancestors = [:]
        scan(.reload)
    }

    /// The mount table changed. When a mount on, below or above a root came or went (a second mount stacked
    /// on the same point included: it has its own id), watches may be left on folders a mount now hides
    /// (inotify watches inodes, not paths): everything is watched and scanned again. The roots are compared
    /// with symbolic links resolved, as the mount table spells them. The first call only records the mounts.
    public func mountTableChanged(_ mounts: [MountTableMonitor.Mount]) {
        let roots = [settings.claudeDirectory, settings.happyDirectory].flatMap { root in
            [root, fileSystem.canonicalPath(of: root)].compactMap { $0 }
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
        publish()
    }

    private struct ChangeKey: Hashable {
        var descriptor: WatchDescriptor
        var name: String
    }

    // MARK: - Paths

    private var projectsPath: String { settings.claudeDirectory + "/" + ClaudeLayout.projects }
    private func projectPath(_ slug: String) -> String { projectsPath + "/" + slug }
    private func sessionFolderPath(_ slug: String, _ session: String) -> String { projectPath(slug) + "/" + session }
    private func subagentsPath(_ slug: String, _ session: String) -> String {
        sessionFolderPath(slug, session) + "/" + ClaudeLayout.subagents
    }
    private var historyPath: String { settings.claudeDirectory + "/" + ClaudeLayout.history }
    private var sessionsPath: String { settings.claudeDirectory + "/" + ClaudeLayout.sessions }
    private var happyLogsPath: String { settings.happyDirectory + "/" + ClaudeLayout.happyLogs }
    private func rootPath(_ root: Root) -> String {
        root == .claude ? settings.claudeDirectory : settings.happyDirectory
    }

    // MARK: - Full scans

    /// A full scan. At startup, on reload and after a queue overflow it stats every file. A periodic
    /// rescan trusts the watches: a watched project folder whose modification time has not changed since
    /// it was last listed is not listed again (no entry can have come or gone); a changed one is listed
    /// (recounting sessions and files) with only the names not seen before stat'ed; a folder without a
    /// watch has everything stat'ed; and every ``deepRescanEvery``-th periodic rescan stats everything
    /// regardless. A stat costs about 2.7 µs here, so this is what keeps the idle CPU and the rescan time
    /// of 100,000 files low.
    private func scan(_ reason: ScanReason) {
        let started = MonotonicClock.nanoseconds()
        if reason == .periodic {
            periodicScans += 1
            statEverything = periodicScans % Self.deepRescanEvery == 0
        } else {
            statEverything = true
        }
        defer { statEverything = true }
        let before = (sessions: tree.sessions, files: tree.files)
        establish(.claude)
        establish(.happy)
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1_000_000_000
        if statEverything { Heap.trim() }
        let finished = MonotonicClock.nanoseconds()
        store.recordRescan(at: finished)
        store.recordAnswer(at: finished)
        snapshot.lastScanDuration = seconds
        snapshot.rescans &+= 1
        let metadata: Logger.Metadata = [
            "reason": "\(reason.rawValue)",
            "sessions": "\(tree.sessions)",
            "transcripts": "\(tree.files.transcripts)",
            "happy_logs": "\(tree.files.happyLogs)",
            "watches": "\(watches.count)",
            "duration_ms": "\(Int((seconds * 1000).rounded()))",
        ]
        switch reason {
        case .startup, .reload:
            logger.info("scan finished", metadata: metadata)
        case .periodic, .overflow:
            if before.sessions != tree.sessions || before.files != tree.files {
                var drift = metadata
                drift["sessions_before"] = "\(before.sessions)"
                drift["transcripts_before"] = "\(before.files.transcripts)"
                drift["happy_logs_before"] = "\(before.files.happyLogs)"
                logger.notice("rescan corrected counts that events had missed", metadata: drift)
            } else {
                logger.debug("rescan found no drift", metadata: metadata)
            }
        }
        publish()
    }

    /// Watches and scans a root, or, while it does not exist, watches its nearest existing parent.
    private func establish(_ root: Root) {
        let path = rootPath(root)
        let exists: Bool
        do {
            let kind = try fileSystem.status(of: path).kind
            exists = kind == .directory
            if !exists {
                // There, but not a directory (a file put in its place): it cannot be read as one, which is
                // unhealthy, not merely "not created yet". Its parent is watched for a directory to return.
                return rootMissing(root, because: Errno(ENOTDIR, call: "stat"))
            }
        } catch {
            if !error.isMissing {
                // The parent is not searchable: the directory may exist, we cannot tell.
                if root == .claude { setClaudeReadable(false, path: path, error: error) }
                return
            }
            exists = false
        }
        guard exists else {
            rootMissing(root)
            return
        }
        if ancestors.removeValue(forKey: root) != nil { unwatch(.ancestor(root)) }
        switch root {
        case .claude:
            guard watch(.claudeRoot, path) != .vanished else { return rootMissing(root) }
            scanClaudeRoot()
        case .happy:
            guard watch(.happyRoot, path) != .vanished else { return rootMissing(root) }
            scanHappyLogs()
        }
    }

    /// The root is not there as a directory: `problem` says why when something else stands in its place.
    private func rootMissing(_ root: Root, because problem: Errno? = nil) {
        switch root {
        case .claude:
            unwatchTree(.claudeRoot)
            dropProjects()
            dropRegistry()
            tree.historyPresent = false
            setClaudeReadable(problem == nil, path: settings.claudeDirectory, error: problem)
        case .happy:
            unwatchTree(.happyRoot)
            tree.happyLogs = []
        }
        // Watch the nearest existing parent for the next component towards the root.
        var child = rootPath(root)
        var parent = parentPath(child)
        while true {
            if let status = try? fileSystem.status(of: parent), status.kind == .directory { break }
            if parent == "/" || parent == "." { return }
            child = parent
            parent = parentPath(parent)
        }
        let next = lastComponent(child)
        if let current = ancestors[root], current.path == parent, watches.descriptor(for: .ancestor(root)) != nil {
            ancestors[root] = (parent, next)
            return
        }
        unwatch(.ancestor(root))
        ancestors[root] = (parent, next)
        _ = watch(.ancestor(root), parent)
        logger.debug(
            "waiting for directory to appear",
            metadata: ["path": "\(rootPath(root))", "watching": "\(parent)"]
        )
    }

    private func scanClaudeRoot() {
        var projectsExists = false
        var sessionsExists = false
        var history: FileStatus?
        do {
            try fileSystem.forEachEntry(in: settings.claudeDirectory, wantsStatus: ClaudeLayout.isHistory) {
                entry in
                if entry.kind == .directory && entry.nameBytes.elementsEqual(ClaudeLayout.projects.utf8) {
                    projectsExists = true
                }
                if entry.kind == .directory && entry.nameBytes.elementsEqual(ClaudeLayout.sessions.utf8) {
                    sessionsExists = true
                }
                if entry.kind == .regular && ClaudeLayout.isHistory(entry.nameBytes) { history = entry.status }
            }
        } catch {
            if error.isMissing { return rootMissing(.claude) }
            setClaudeReadable(false, path: settings.claudeDirectory, error: error)
            return
        }
        setClaudeReadable(true, path: settings.claudeDirectory, error: nil)
        tree.historyPresent = history != nil
        if let history { observe(.history, history.modified, historyPath, fromEvent: false) }
        if projectsExists { scanProjects() } else { dropProjects() }
        if sessionsExists { scanRegistry() } else { dropRegistry() }
    }

    private func scanProjects() {
        guard watch(.projects, projectsPath) != .vanished else { return dropProjects() }
        var slugs: [String] = []
        do {
            try fileSystem.forEachEntry(in: projectsPath, wantsStatus: ClaudeLayout.never) { entry in
                if entry.kind == .directory { slugs.append(entry.name) }
            }
        } catch {
            if error.isMissing { return dropProjects() }
            setClaudeReadable(false, path: projectsPath, error: error)
            return
        }
        let present = Set(slugs)
        for slug in tree.projects.keys where !present.contains(slug) { dropProject(slug) }
        scanProjects(slugs)
    }

    private func scanProject(_ slug: String) {
        scanProjects([slug])
    }

    /// Watches each project folder, then lists them (on several threads when there are many), then
    /// applies what the listings found.
    private func scanProjects(_ slugs: [String]) {
        var jobs: [ProjectListing.Job] = []
        jobs.reserveCapacity(slugs.count)
        for slug in slugs {
            // Trust only a watch that was in place before this scan: a new one may have missed changes.
            let trusted = !statEverything && watches.descriptor(for: .project(slug)) != nil
            let path = projectPath(slug)
            guard watch(.project(slug), path) != .vanished else {
                dropProject(slug)
                continue
            }
            let previous = trusted ? tree.projects[slug] : nil
            jobs.append(
                ProjectListing.Job(slug: slug, path: path, known: previous?.transcripts, listedAt: previous?.listedAt)
            )
        }
        let fileSystem = fileSystem
        // In batches, so that the listings waiting to be applied stay few.
        let batch = 64
        for start in stride(from: 0, to: jobs.count, by: batch) {
            let part = Array(jobs[start..<min(start + batch, jobs.count)])
            let threads = part.count >= 8 ? ParallelWork.threads() : 1
            for listing in ParallelWork.map(part, threads: threads, { ProjectListing.list($0, fileSystem: fileSystem) })
            {
                apply(listing)
            }
            // Proof of progress for /health: a long scan on a slow disk is busy, not stuck.
            store.recordAnswer(at: MonotonicClock.nanoseconds())
        }
    }

    private func apply(_ listing: ProjectListing) {
        let slug = listing.slug
        if listing.unchanged { return }
        if let error = listing.error {
            if error.isMissing { return dropProject(slug) }
            logUnreadable(projectPath(slug), error)
            return
        }
        let folders = Set(listing.sessionFolders)
        for directory in watches.directories(within: .project(slug)) {
            if case .sessionFolder(_, let session) = directory, !folders.contains(session) { unwatchTree(directory) }
        }
        tree.setProject(slug, listing.contents)
        if let newest = listing.newest {
            observe(.transcripts, newest.time, projectPath(slug) + "/" + newest.name, fromEvent: false)
        }
        for session in listing.sessionFolders {
            let transcript = try? fileSystem.status(of: projectPath(slug) + "/" + session + ".jsonl")
            scanSessionFolder(slug, session, transcriptTime: transcript?.modified)
        }
    }

    /// Looks into `projects/<slug>/<session>/subagents/`, and watches the session folder while it is recent.
    private func scanSessionFolder(_ slug: String, _ session: String, transcriptTime: Timestamp?, recent: Bool = false)
    {
        let folder = sessionFolderPath(slug, session)
        let trusted = !statEverything && watches.descriptor(for: .subagents(project: slug, session: session)) != nil
        let now = clock()
        let window = settings.sessionWatchWindowSeconds
        var isRecent = recent
        if !isRecent, let transcriptTime, now.seconds(since: transcriptTime) < window { isRecent = true }
        if !isRecent, let status = try? fileSystem.status(of: folder), now.seconds(since: status.modified) < window {
            isRecent = true
        }
        if isRecent {
            guard watch(.sessionFolder(project: slug, session: session), folder) != .vanished else {
                return dropSessionFolder(slug, session)
            }
            _ = watch(.subagents(project: slug, session: session), subagentsPath(slug, session))
        }
        guard let (files, newest) = listSubagents(slug, session, trusted: trusted) else {
            return dropSessionFolder(slug, session)
        }
        if !isRecent, let newest, now.seconds(since: newest.time) < window {
            // Old folder, fresh subagent: watch it after all, and list again to catch what landed meanwhile.
            return scanSessionFolder(slug, session, transcriptTime: transcriptTime, recent: true)
        }
        if !isRecent { unwatchTree(.sessionFolder(project: slug, session: session)) }
        tree.setSessionFolderUnwatched(!isRecent, session: session, project: slug)
        tree.setSubagents(files, session: session, project: slug)
        if let newest { observe(.transcripts, newest.time, newest.path, fromEvent: false) }
    }

    /// The subagent transcripts of a session (`nil` set when there is no `subagents/`), or `nil` if the
    /// session folder itself is gone.
    private func listSubagents(
        _ slug: String,
        _ session: String,
        trusted: Bool
    ) -> (files: Set<UInt64>?, newest: (time: Timestamp, path: String)?)? {
        let path = subagentsPath(slug, session)
        let known = trusted ? tree.projects[slug]?.subagents[session] ?? [] : []
        do {
            let listing = try FileListing.list(
                path,
                matching: ClaudeLayout.isTranscript,
                known: known,
                fileSystem: fileSystem
            )
            return (listing.files, listing.newest)
        } catch {
            if error.isMissing {
                unwatch(.subagents(project: slug, session: session))
                let folderExists = (try? fileSystem.status(of: sessionFolderPath(slug, session)))?.kind == .directory
                return folderExists ? (nil, nil) : nil
            }
            logUnreadable(path, error)
            return (tree.projects[slug]?.subagents[session], nil)
        }
    }

    private func scanHappyLogs() {
        let trusted = !statEverything && watches.descriptor(for: .happyLogs) != nil
        guard watch(.happyLogs, happyLogsPath) != .vanished else {
            tree.happyLogs = []
            return
        }
        do {
            let listing = try FileListing.list(
                happyLogsPath,
                matching: ClaudeLayout.isHappyLog,
                known: trusted ? tree.happyLogs : [],
                fileSystem: fileSystem
            )
            tree.happyLogs = listing.files
            if let newest = listing.newest { observe(.happyLogs, newest.time, newest.path, fromEvent: false) }
        } catch {
            if error.isMissing {
                unwatch(.happyLogs)
                tree.happyLogs = []
                return
            }
            logUnreadable(happyLogsPath, error)
        }
    }

    private func dropProjects() {
        unwatchTree(.projects)
        tree.removeAllProjects()
    }

    private func dropProject(_ slug: String) {
        unwatchTree(.project(slug))
        tree.setProject(slug, nil)
    }

    private func dropSessionFolder(_ slug: String, _ session: String) {
        unwatchTree(.sessionFolder(project: slug, session: session))
        tree.setSessionFolderUnwatched(false, session: session, project: slug)
        tree.setSubagents(nil, session: session, project: slug)
    }

    // MARK: - Session registry

    /// Watches `sessions/` and reads the registry files whose modification time changed since last read.
    private func scanRegistry() {
        guard watch(.sessions, sessionsPath) != .vanished else { return dropRegistry() }
        var present: Set<UInt64> = []
        var changed: [(name: String, modified: Timestamp)] = []
        do {
            // Links are never followed here (a registry file is never a link, and a stat through one could hang).
            try fileSystem.forEachEntry(
                in: sessionsPath,
                followingLinks: false,
                wantsStatus: ClaudeLayout.isRegistryFile
            ) {
                entry in
                guard ClaudeLayout.isRegistryFile(entry.nameBytes) else { return }
                present.insert(ClaudeLayout.nameHash(entry.nameBytes))
                // A FIFO or a link is listed as "other": read (and refused) once, so that it is logged.
                let modified = entry.status?.modified ?? .zero
                // Bounded: past twice the tracked limit, names are only counted as present.
                if entry.kind != .directory, changed.count < 2 * SessionRegistryMonitor.maximumFiles,
                    sessionRegistry.wantsReading(entry.name, modified: modified)
                {
                    changed.append((entry.name, modified))
                }
            }
        } catch {
            if error.isMissing { return dropRegistry() }
            logUnreadable(sessionsPath, error)
            return
        }
        sessionRegistry.synchronize(present: present, changed: changed, now: clock())
        sessionRegistry.checkLiveness(now: clock())
        registryChanged()
    }

    private func dropRegistry() {
        unwatch(.sessions)
        sessionRegistry.removeAll()
        registryChanged()
    }

    /// Puts the registry's live view into the snapshot, counts a busy or waiting process as activity now, and
    /// keeps a 1-second liveness check running while an entry is live (a process that dies without removing
    /// its file stops counting within about a second).
    private func registryChanged() {
        let live = sessionRegistry.live
        snapshot.agentSessions = live.counts
        snapshot.liveSessions = live.sessions
        snapshot.statusActive = live.active != nil
        tree.registryEntries = sessionRegistry.entryFiles
        if let active = live.active { observe(.status, clock(), active.file, fromEvent: true) }
        if sessionRegistry.hasLiveEntries && registryTimer == nil {
            registryTimer = Task { [weak self] in
                while true {
                    do { try await Task.sleep(for: .seconds(1)) } catch { return }
                    guard let self, await self.registryTick() else { return }
                }
            }
        }
    }

    /// The liveness check; returns false (ending the timer) once no entry is live.
    private func registryTick() -> Bool {
        sessionRegistry.checkLiveness(now: clock())
        registryChanged()
        publish()
        if !sessionRegistry.hasLiveEntries {
            registryTimer = nil
            return false
        }
        return true
    }

    // MARK: - Events

    private func apply(_ event: InotifyEvent) {
        let roles = watches.roles(of: event.descriptor)
        guard !roles.isEmpty else { return }
        guard let name = event.name else {
            if !event.mask.isDisjoint(with: .watchEnded) { watchEnded(event.descriptor, event.mask) }
            return
        }
        let structural = !event.mask.isDisjoint(with: InotifyMask.appeared.union(.disappeared))
        for role in roles {
            switch role {
            case .claudeRoot:
                if name == ClaudeLayout.projects && structural {
                    if (try? fileSystem.status(of: projectsPath))?.kind == .directory {
                        scanProjects()
                    } else {
                        dropProjects()
                    }
                } else if name == ClaudeLayout.sessions && structural {
                    if (try? fileSystem.status(of: sessionsPath))?.kind == .directory {
                        scanRegistry()
                    } else {
                        dropRegistry()
                    }
                } else if name == ClaudeLayout.history {
                    let status = try? fileSystem.status(of: historyPath)
                    tree.historyPresent = status?.kind == .regular
                    if let status, status.kind == .regular {
                        observe(.history, status.modified, historyPath, fromEvent: true)
                    }
                }
            case .projects:
                if structural { scanProject(name) }
            case .sessions:
                if ClaudeLayout.isRegistryFile(name) {
                    sessionRegistry.read(name, now: clock())
                    registryChanged()
                }
            case .project(let slug):
                if ClaudeLayout.isTranscript(name) {
                    transcriptChanged(name, slug)
                } else if structural && ClaudeLayout.isSessionDirectory(name) {
                    if (try? fileSystem.status(of: sessionFolderPath(slug, name)))?.kind == .directory {
                        scanSessionFolder(slug, name, transcriptTime: nil, recent: true)
                    } else {
                        dropSessionFolder(slug, name)
                    }
                }
            case .sessionFolder(let slug, let session):
                if name == ClaudeLayout.subagents && structural {
                    scanSessionFolder(slug, session, transcriptTime: nil, recent: true)
                }
            case .subagents(let slug, let session):
                if ClaudeLayout.isTranscript(name) {
                    let path = subagentsPath(slug, session) + "/" + name
                    let status = try? fileSystem.status(of: path)
                    let present = status?.kind == .regular
                    tree.updateSubagent(name, present: present, session: session, project: slug)
                    if let status, present { observe(.transcripts, status.modified, path, fromEvent: true) }
                }
            case .happyRoot:
                if name == ClaudeLayout.happyLogs && structural { scanHappyLogs() }
            case .happyLogs:
                if ClaudeLayout.isHappyLog(name) {
                    let path = happyLogsPath + "/" + name
                    let status = try? fileSystem.status(of: path)
                    if let status, status.kind == .regular {
                        tree.happyLogs.insert(ClaudeLayout.nameHash(name))
                        observe(.happyLogs, status.modified, path, fromEvent: true)
                    } else {
                        tree.happyLogs.remove(ClaudeLayout.nameHash(name))
                    }
                }
            case .ancestor(let root):
                if let ancestor = ancestors[root], name == ancestor.next, structural || event.mask.contains(.attrib) {
                    establish(root)
                }
            }
        }
    }

    private func transcriptChanged(_ name: String, _ slug: String) {
        let path = projectPath(slug) + "/" + name
        guard let status = try? fileSystem.status(of: path), status.kind == .regular else {
            tree.removeTranscript(name, project: slug)
            return
        }
        tree.insertTranscript(name, project: slug)
        observe(.transcripts, status.modified, path, fromEvent: true)
        let stem = String(name.utf8.dropLast(6))!
        if tree.isSessionFolderUnwatched(stem, project: slug) {
            scanSessionFolder(slug, stem, transcriptTime: status.modified, recent: true)
        }
    }

    /// The watched directory itself was deleted, moved, or unmounted.
    private func watchEnded(_ descriptor: WatchDescriptor, _ mask: InotifyMask) {
        let gone = watches.ended(descriptor, removedByKernel: mask.contains(.ignored))
        for role in gone {
            unwatchTree(role)
            switch role {
            case .claudeRoot: establish(.claude)
            case .happyRoot: establish(.happy)
            case .ancestor(let root):
                ancestors[root] = nil
                establish(root)
            case .projects:
                if (try? fileSystem.status(of: projectsPath))?.kind == .directory {
                    scanProjects()
                } else {
                    dropProjects()
                }
            case .sessions:
                if (try? fileSystem.status(of: sessionsPath))?.kind == .directory {
                    scanRegistry()
                } else {
                    dropRegistry()
                }
            case .project(let slug): scanProject(slug)
            case .sessionFolder(let slug, let session), .subagents(let slug, let session):
                if (try? fileSystem.status(of: sessionFolderPath(slug, session)))?.kind == .directory {
                    scanSessionFolder(slug, session, transcriptTime: nil, recent: true)
                } else {
                    dropSessionFolder(slug, session)
                }
            case .happyLogs: scanHappyLogs()
            }
        }
    }

    // MARK: - Watches

    private func watch(_ directory: WatchedDirectory, _ path: String) -> WatchSet.Outcome {
        watches.watch(directory, path, now: clock())
    }

    private func unwatch(_ directory: WatchedDirectory) { watches.unwatch(directory) }

    private func unwatchTree(_ directory: WatchedDirectory) { watches.unwatchTree(directory) }

    // MARK: - Activity and publishing

    private func observe(_ source: ActivitySource, _ modified: Timestamp, _ path: String, fromEvent: Bool) {
        var time = modified
        let now = clock()
        if modified > now.adding(seconds: 1) {
            // A file dated in the future counts as "now", once per new date, or on a real change (an event).
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

    private func setClaudeReadable(_ readable: Bool, path: String, error: Errno?) {
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

    private func logUnreadable(_ path: String, _ error: Errno) {
        if unreadableLogged.count < 1000, unreadableLogged.insert(path).inserted {
            logger.warning(
                "cannot read directory; keeping its last known contents",
                metadata: ["path": "\(path)", "error": "\(error)"]
            )
        }
    }

    private func publish() {
        snapshot.newest = tree.newest
        snapshot.files = tree.files
        snapshot.sessions = tree.sessions
        snapshot.healthy = claudeReadable
        snapshot.watches = watches.count
        snapshot.watchErrors = watches.failures
        store.publish(snapshot)
        evaluateTransition()
    }

    /// Logs active/idle transitions when they happen, and arms a timer for the moment the agent turns idle.
    private func evaluateTransition() {
        let idleIn = transitions.update(
            snapshot,
            now: clock(),
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

func parentPath(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

func lastComponent(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
