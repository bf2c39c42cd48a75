import FileWatching
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The session registry (`$CLAUDE_DIR/sessions/*.json`) as the tracker sees it: which files there are, which
/// of them name a live Claude Code process, and what each live process says it is doing.
///
/// Costs are per change, never per file: an event reads one file and checks one process; the periodic
/// liveness check looks only at entries that are live (a dead entry stays dead until its file changes:
/// a pid with its start time never comes back, and a stale entry ages no younger). Memory is bounded: at
/// most ``maximumFiles`` files are tracked, and an entry keeps only bounded strings.
///
/// Each live *process* counts once: several files that name the same pid and start time are one process,
/// and the file with the newest `statusUpdatedAt` (else modification time) speaks for it; on a tie, the
/// file named `<pid>.json`, then the first name in byte order.
struct SessionRegistryMonitor {
    /// Files tracked at most. Claude Code writes one per running process; past this, further files are
    /// ignored (logged once) until some are removed.
    static let maximumFiles = 4096

    private struct File {
        var modified: Timestamp
        /// When this version of the file was read: a status time in the future counts from here.
        var readAt: Timestamp
        /// `nil` when the file is not an entry (an older generation, or unusable).
        var entry: RegistryEntry?
        var liveness = RegistryEntry.Liveness.dead
        var key: ProcessKey? { entry.map { ProcessKey(pid: $0.pid, start: $0.processStart) } }
    }

    private struct ProcessKey: Hashable {
        var pid: Int32
        var start: UInt64
    }

    private let directory: String
    private let freshness: Double
    private let fileSystem: any FileSystem
    private let processes: any ProcessTable
    private let logger: Logger

    private var files: [String: File] = [:]
    /// The names of the live files of each live process.
    private var liveFiles: [ProcessKey: Set<String>] = [:]
    /// What was last reported (logged) of each live process: its status and session.
    private var reported: [ProcessKey: (status: AgentStatus, session: String)] = [:]
    /// The live sessions, one per process, and derived counts; rebuilt only when a process changes.
    private(set) var live = LiveView()
    private var fullLogged = false
    private var problemsLogged: Set<String> = []

    /// What the snapshot shows of the registry.
    struct LiveView: Equatable {
        var counts = [Int](repeating: 0, count: AgentStatus.allCases.count)
        var sessions: [LiveSession] = []
        /// A live process that is `busy` or `waiting`, with its file, if any.
        var active: (pid: Int32, file: String)?

        static func == (lhs: LiveView, rhs: LiveView) -> Bool {
            lhs.counts == rhs.counts && lhs.sessions == rhs.sessions && lhs.active?.pid == rhs.active?.pid
                && lhs.active?.file == rhs.active?.file
        }
    }

    init(
        directory: String,
        freshness: Double,
        fileSystem: any FileSystem,
        processes: any ProcessTable,
        logger: Logger
    ) {
        self.directory = directory
        self.freshness = freshness
        self.fileSystem = fileSystem
        self.processes = processes
        self.logger = logger
    }

    /// Registry files that are entries (`claude_activity_files{source="status"}`).
    private(set) var entryFiles = 0

    /// Whether a liveness check is worth running: some entry is live.
    var hasLiveEntries: Bool { !liveFiles.isEmpty }

    /// Whether a rescan should offer this file to ``synchronize(present:changed:now:)``: it is new, or its
    /// modification time differs from the version read.
    func wantsReading(_ name: String, modified: Timestamp) -> Bool {
        files[name]?.modified != modified
    }

    // MARK: - Changes

    /// Reads (again) the file named in an event, then logs what changed.
    mutating func read(_ name: String, now: Timestamp) {
        settle(readOne(name, now: now, listed: nil))
    }

    /// After a listing of the folder: forgets every file whose name hash is not in `present`, then reads
    /// `changed` (the files ``wantsReading(_:modified:)`` asked for).
    mutating func synchronize(
        present: Set<UInt64>,
        changed: [(name: String, modified: Timestamp)],
        now: Timestamp
    ) {
        var touched: Set<ProcessKey> = []
        for name in files.keys where !present.contains(ClaudeLayout.nameHash(name)) {
            touched.formUnion(forget(name))
        }
        problemsLogged = problemsLogged.filter { present.contains(ClaudeLayout.nameHash($0)) }
        for file in changed {
            // Past the limit, a new file is not even opened (it costs a rescan nothing but its name).
            if files[file.name] == nil && files.count >= Self.maximumFiles {
                noteFull()
                continue
            }
            touched.formUnion(readOne(file.name, now: now, listed: file.modified))
        }
        settle(touched)
    }

    /// Forgets every file (the folder is gone).
    mutating func removeAll() {
        var touched: Set<ProcessKey> = []
        for name in Array(files.keys) { touched.formUnion(forget(name)) }
        settle(touched)
    }

    /// Checks the live entries again: processes that exited, entries whose freshness ran out.
    mutating func checkLiveness(now: Timestamp) {
        var touched: Set<ProcessKey> = []
        for (key, names) in liveFiles {
            var running: Bool?
            for name in names {
                guard var file = files[name], file.entry != nil else { continue }
                switch file.liveness {
                case .running:
                    if running == nil {
                        switch processes.lookUp(key.pid) {
                        case .running(let ticks): running = ticks == key.start
                        case .gone: running = false
                        case .unknown: running = true  // cannot tell now: look again at the next check
                        }
                    }
                    if running == true { continue }
                    file.liveness = .dead
                case .fresh(let until):
                    if now < until { continue }
                    file.liveness = .dead
                case .dead:
                    continue
                }
                files[name] = file
                touched.insert(key)
            }
        }
        for key in touched { reindex(key) }
        settle(touched)
    }

    // MARK: - Inside

    /// Reads one file and returns the processes whose files changed. `listed` is the modification time a
    /// listing saw, if any: a file that cannot be read is remembered with it, so rescans do not retry it
    /// until it changes.
    private mutating func readOne(_ name: String, now: Timestamp, listed: Timestamp?) -> Set<ProcessKey> {
        let path = directory + "/" + name
        let contents: SmallFile.Contents
        do {
            contents = try fileSystem.contents(of: path, limit: ClaudeLayout.registryFileLimit)
        } catch {
            if error.code == ENOENT {
                problemsLogged.remove(name)
                return forget(name)
            }
            // Not a regular file (a FIFO, a device, a link: never opened for a blocking read), or unreadable:
            // no entry, logged once while it stays so.
            logProblem(name, "cannot read session registry file", error.description, level: .warning)
            return remember(name, File(modified: listed ?? .zero, readAt: now, entry: nil))
        }
        if contents.truncated {
            logProblem(name, "session registry file larger than 64 KiB; skipped", nil, level: .warning)
            return remember(name, File(modified: contents.modified, readAt: now, entry: nil))
        }
        switch RegistryEntry.parse(contents.bytes, fileName: name, modified: contents.modified) {
        case .success(let entry):
            problemsLogged.remove(name)
            var file = File(modified: contents.modified, readAt: now, entry: entry)
            file.liveness = entry.liveness(processes: processes, readAt: now, now: now, freshness: freshness)
            return remember(name, file)
        case .failure(.malformed(let reason)):
            // A write in progress: keep what was read before; the next event reads it again.
            logger.debug(
                "session registry file not complete; keeping what was read before",
                metadata: ["path": "\(path)", "reason": "\(reason)"]
            )
            return []
        case .failure(.notAnEntry(let reason)):
            logProblem(name, "not a session registry entry; ignored", reason)
            return remember(name, File(modified: contents.modified, readAt: now, entry: nil))
        }
    }

    /// Stores a file's new version (unless the table is full) and returns the processes it concerns.
    private mutating func remember(_ name: String, _ file: File) -> Set<ProcessKey> {
        let old = files[name]
        if old == nil && files.count >= Self.maximumFiles {
            noteFull()
            return []
        }
        files[name] = file
        entryFiles += (file.entry != nil ? 1 : 0) - (old?.entry != nil ? 1 : 0)
        var touched: Set<ProcessKey> = []
        if let key = old?.key {
            liveFiles[key]?.remove(name)
            touched.insert(key)
        }
        if let key = file.key, file.liveness.isLive {
            liveFiles[key, default: []].insert(name)
            touched.insert(key)
        }
        for key in touched where liveFiles[key]?.isEmpty == true { liveFiles[key] = nil }
        return touched
    }

    private mutating func noteFull() {
        guard !fullLogged else { return }
        fullLogged = true
        logger.warning(
            "session registry holds more files than are tracked; further files are ignored until some are removed",
            metadata: ["path": "\(directory)", "tracked": "\(Self.maximumFiles)"]
        )
    }

    private mutating func forget(_ name: String) -> Set<ProcessKey> {
        guard let old = files.removeValue(forKey: name) else { return [] }
        if old.entry != nil { entryFiles -= 1 }
        if files.count < Self.maximumFiles { fullLogged = false }
        guard let key = old.key else { return [] }
        liveFiles[key]?.remove(name)
        if liveFiles[key]?.isEmpty == true { liveFiles[key] = nil }
        return [key]
    }

    private mutating func reindex(_ key: ProcessKey) {
        guard let names = liveFiles[key] else { return }
        let stillLive = names.filter { files[$0]?.liveness.isLive == true }
        liveFiles[key] = stillLive.isEmpty ? nil : stillLive
    }

    /// The file that speaks for a live process.
    private func winner(_ key: ProcessKey) -> (name: String, entry: RegistryEntry)? {
        var best: (name: String, entry: RegistryEntry)?
        for name in liveFiles[key] ?? [] {
            guard let entry = files[name]?.entry else { continue }
            guard let current = best else {
                best = (name, entry)
                continue
            }
            let time = entry.statusUpdatedAt ?? entry.modified
            let bestTime = current.entry.statusUpdatedAt ?? current.entry.modified
            let named = name == "\(key.pid).json"
            let bestNamed = current.name == "\(key.pid).json"
            if time > bestTime
                || (time == bestTime && (named && !bestNamed || named == bestNamed && name < current.name))
            {
                best = (name, entry)
            }
        }
        return best
    }

    /// Logs the status changes of the processes touched (in pid order) and rebuilds the live view.
    private mutating func settle(_ touched: Set<ProcessKey>) {
        guard !touched.isEmpty else { return }
        for key in touched.sorted(by: { ($0.pid, $0.start) < ($1.pid, $1.start) }) {
            let before = reported[key]
            let after = winner(key).map { (status: $0.entry.status, session: $0.entry.sessionID) }
            reported[key] = after
            guard before?.status != after?.status || before?.session != after?.session else { continue }
            logger.info(
                after == nil ? "agent session ended" : "agent session status",
                metadata: [
                    "pid": "\(key.pid)", "session_id": "\(after?.session ?? before?.session ?? "")",
                    "status": "\(after?.status.rawValue ?? "gone")", "previous": "\(before?.status.rawValue ?? "none")",
                ]
            )
        }
        var view = LiveView()
        for key in liveFiles.keys {
            guard let (name, entry) = winner(key) else { continue }
            view.counts[AgentStatus.allCases.firstIndex(of: entry.status)!] += 1
            view.sessions.append(
                LiveSession(
                    pid: entry.pid,
                    sessionID: entry.sessionID,
                    status: entry.status,
                    rawStatus: entry.rawStatus,
                    cwd: entry.cwd
                )
            )
            if entry.status.isActivity && entry.pid < view.active?.pid ?? .max {
                view.active = (entry.pid, directory + "/" + name)
            }
        }
        view.sessions.sort { $0.pid < $1.pid }
        live = view
    }

    private mutating func logProblem(
        _ name: String,
        _ message: Logger.Message,
        _ reason: String?,
        level: Logger.Level = .debug
    ) {
        guard problemsLogged.count < Self.maximumFiles, problemsLogged.insert(name).inserted else { return }
        var metadata: Logger.Metadata = ["path": "\(directory)/\(name)"]
        if let reason { metadata["reason"] = "\(reason)" }
        logger.log(level: level, message, metadata: metadata)
    }
}
