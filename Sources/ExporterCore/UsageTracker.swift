import FileWatching
import Logging
import Platform
import TokenUsage

/// Token usage from Claude Code's transcripts and Codex's rollouts: reads the history once in the background, then
/// only the bytes appended to each file when it changes (see ``AppendedLines``), and counts every line with
/// ``UsageLine`` (a rollout's with ``CodexRollout``) into one ``UsageLedger``.
///
/// It runs on its own thread, apart from the activity tracker, so that reading a gigabyte of history never delays
/// an inotify event, a scan or a scrape. The transcripts are the files the activity side counts: `projects/<slug>/
/// *.jsonl` and `projects/<slug>/<uuid>/subagents/*.jsonl`, and `sessions/YYYY/MM/DD/rollout-*.jsonl` under Codex's
/// directory. Nothing but numbers (and model names) leaves a line.
public actor UsageTracker {
    private let claudeDirectories: [String]
    private let codexDirectory: String?
    /// `<codexDirectory>/sessions/`: paths below it are Codex rollouts.
    private let codexSessions: String?
    private let fileSystem: any FileSystem
    private let store: UsageStore
    private let logger: Logger
    private let executor: ThreadExecutor
    private let buffer = ReadBuffer()
    private let models = ModelNames()
    private var ledger = UsageLedger()
    /// Per transcript (by a 64-bit hash of its path: 40 bytes a file, no path kept): where reading stopped, and the
    /// context size of its newest response.
    private var files: [UInt64: FileState] = [:]
    /// The live sessions' ids, by their 32-bit hash.
    private var liveByHash: [UInt32: String] = [:]
    private var ready = false
    private var bytesRead: UInt64 = 0
    /// Context sizes of the live sessions' transcripts, by session id.
    private var liveContexts: [String: UInt64] = [:]
    /// Unreadable transcripts, by error: logged once an hour.
    private var unreadableLogs = LogThrottle<Int32>()
    /// Transcripts read again from their start: logged at most once a minute.
    private var restartLogs = LogThrottle<Int>(interval: 60)

    /// Per Codex rollout: where reading stopped, and the model its lines last named.
    private var rollouts: [UInt64: RolloutState] = [:]
    private struct RolloutState {
        var lines = AppendedLines()
        var rollout = CodexRollout()
    }

    /// 32 bytes (a dictionary entry of 40 with its key): one per transcript.
    private struct FileState {
        var lines = AppendedLines()
        /// A 32-bit hash of the session id a top-level transcript is named after (0 for a subagent's): the live
        /// sessions are few, and a rare collision could only show one session's context under another's id.
        var session: UInt32 = 0
        var context: UInt32 = 0
    }

    /// While the history is read, progress is logged this often (nanoseconds).
    static let progressInterval: UInt64 = 5_000_000_000

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// - Parameter codexDirectory: Codex CLI's directory, whose rollouts' `token_count` events count too (`nil`:
    ///   Claude Code's transcripts only).
    public init(
        claudeDirectories: [String],
        codexDirectory: String? = nil,
        fileSystem: any FileSystem,
        store: UsageStore,
        executor: ThreadExecutor,
        logger: Logger
    ) {
        self.claudeDirectories = claudeDirectories
        self.codexDirectory = codexDirectory
        codexSessions = codexDirectory.map { $0 + "/" + AgentLayout.codexSessions + "/" }
        self.fileSystem = fileSystem
        self.store = store
        self.executor = executor
        self.logger = logger
    }

    /// Reads every transcript from its start (the history), then publishes the counters as ready.
    public func readHistory() {
        let started = MonotonicClock.nanoseconds()
        var directories = claudeDirectories.map { $0 + "/" + ClaudeLayout.projects }
        if let codexDirectory { directories.append(codexDirectory + "/" + AgentLayout.codexSessions) }
        logger.info("reading token usage history", metadata: ["directories": "\(directories.joined(separator: ","))"])
        let (count, bytes) = readEverything()
        guard !Task.isCancelled else {
            logger.info(
                "token usage history not finished: stopping",
                metadata: ["files": "\(count)", "bytes": "\(bytes)"]
            )
            return
        }
        ready = true
        // The listing and the growth of the tables leave freed memory behind in this thread's arena.
        Heap.trim()
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        logger.info(
            "token usage history read",
            metadata: [
                "files": "\(count)", "bytes": "\(bytes)", "duration_ms": "\(Int((seconds * 1000).rounded()))",
                "responses": "\(ledger.responses)",
                "megabytes_per_second": "\(seconds > 0 ? Int(Double(bytes) / 1e6 / seconds) : 0)",
                "lines_skipped": "\(ledger.skipped.reduce(0, +))",
            ]
        )
        publish()
    }

    public func handle(_ notice: TranscriptNotice) {
        switch notice {
        case .changed(let paths):
            for path in paths { read(path) }
        case .repair:
            _ = readEverything()
            Heap.trim()
        case .liveSessions(let sessions):
            liveByHash = Dictionary(sessions.map { (Self.sessionHash($0), $0) }) { first, _ in first }
            liveContexts = [:]
            guard !liveByHash.isEmpty else { break }
            for state in files.values where state.context > 0 && state.session != 0 {
                if let session = liveByHash[state.session] { liveContexts[session] = UInt64(state.context) }
            }
        }
        publish()
    }

    // MARK: - Reading

    /// Reads what is new in every transcript there is, and forgets the ones gone.
    private func readEverything() -> (files: Int, bytes: UInt64) {
        // The transcripts this pass finds; the others are forgotten at its end.
        var seen = Set<UInt64>()
        var count = 0
        var bytes: UInt64 = 0
        let paths = transcriptPaths()
        var lastProgress = MonotonicClock.nanoseconds()
        for path in paths {
            // Stopping (the daemon cancels its loops) need not wait for the rest of the history.
            if Task.isCancelled { break }
            count += 1
            let key = Self.hash(path)
            bytes += read(path, key: key)
            if files[key] != nil || rollouts[key] != nil { seen.insert(key) }
            if !ready, MonotonicClock.nanoseconds() - lastProgress > Self.progressInterval {
                lastProgress = MonotonicClock.nanoseconds()
                logger.info(
                    "reading token usage history",
                    metadata: [
                        "files": "\(count) of \(paths.count)", "bytes": "\(bytes)", "responses": "\(ledger.responses)",
                    ]
                )
            }
        }
        files = files.filter { seen.contains($0.key) }
        rollouts = rollouts.filter { seen.contains($0.key) }
        return (count, bytes)
    }

    /// Reads the lines appended to one transcript (a Claude Code transcript or a Codex rollout); returns the bytes
    /// read.
    @discardableResult
    private func read(_ path: String, key: UInt64? = nil) -> UInt64 {
        let key = key ?? Self.hash(path)
        if let codexSessions, path.hasPrefix(codexSessions) { return readRollout(path, key: key) }
        var state =
            files.removeValue(forKey: key) ?? FileState(session: Self.session(of: path).map(Self.sessionHash) ?? 0)
        var context = state.context
        let bytes = follow(path, &state.lines) { line in
            let verdict = UsageLine.read(line, models: models)
            if case .usage(let record) = verdict { context = UInt32(clamping: record.tokens.context) }
            ledger.add(verdict)
        }
        // Gone: forgotten. Otherwise (read, or unreadable) what was counted stays, and so does the state.
        guard let bytes else { return 0 }
        state.context = context
        files[key] = state
        if context > 0, let session = liveByHash[state.session] { liveContexts[session] = UInt64(context) }
        return bytes
    }

    /// Reads the lines appended to one Codex rollout, in order (its `turn_context` lines name the model).
    private func readRollout(_ path: String, key: UInt64) -> UInt64 {
        var state = rollouts.removeValue(forKey: key) ?? RolloutState()
        var rollout = state.rollout
        let bytes = follow(path, &state.lines) { line in ledger.add(rollout.read(line, models: models)) }
        guard let bytes else { return 0 }
        state.rollout = rollout
        rollouts[key] = state
        return bytes
    }

    /// Reads the complete lines appended to `path` since `lines` last stopped, handing each to `body` (a line too
    /// long to hold is counted as skipped). Returns the bytes read, 0 if it cannot be read now (logged once an
    /// hour per kind of error; the next read starts where this one stopped), or `nil` if it is gone.
    private func follow(
        _ path: String,
        _ lines: inout AppendedLines,
        _ body: (UnsafeRawBufferPointer) -> Void
    ) -> UInt64? {
        let outcome: AppendedLines.Progress
        // Stopping (SIGTERM) stops a long read where it is.
        let notCancelled: () -> Bool = { !Task.isCancelled }
        do {
            outcome = try lines.read(path, fileSystem: fileSystem, buffer: buffer, shouldContinue: notCancelled) {
                line in
                switch line {
                case .complete(let bytes): body(bytes)
                case .tooLong: ledger.add(.skipped(.tooLong))
                }
            }
        } catch {
            guard !error.isMissing else { return nil }
            let (log, suppressed) = unreadableLogs.check(error.code, now: Timestamp.now())
            if log {
                logger.warning(
                    "cannot read a transcript for token usage",
                    metadata: ["path": "\(path)", "error": "\(error)", "suppressed": "\(suppressed)"]
                )
            }
            return 0
        }
        if outcome.restarted {
            let (log, suppressed) = restartLogs.check(0, now: Timestamp.now())
            if log {
                logger.info(
                    "transcript replaced or truncated; read again from its start",
                    metadata: ["path": "\(path)", "suppressed": "\(suppressed)"]
                )
            }
        }
        bytesRead &+= outcome.bytes
        return outcome.bytes
    }

    /// Every transcript under `projects/`, as the activity side counts them, then every Codex rollout.
    private func transcriptPaths() -> [String] {
        var paths = claudeDirectories.flatMap(claudeTranscriptPaths)
        if let codexDirectory, case .files(let pattern) = ActivitySource.codex.layout {
            pattern.forEachFile(under: codexDirectory, fileSystem: fileSystem) { paths.append($0) }
        }
        return paths
    }

    private func claudeTranscriptPaths(in claudeDirectory: String) -> [String] {
        let projects = claudeDirectory + "/" + ClaudeLayout.projects
        var slugs: [String] = []
        try? fileSystem.forEachEntry(in: projects, wantsStatus: ClaudeLayout.never) { entry in
            if entry.kind == .directory { slugs.append(entry.name) }
        }
        var paths: [String] = []
        for slug in slugs {
            let folder = projects + "/" + slug
            var sessionFolders: [String] = []
            try? fileSystem.forEachEntry(in: folder, wantsStatus: ClaudeLayout.never) { entry in
                if entry.kind == .regular && ClaudeLayout.isTranscript(entry.nameBytes) {
                    paths.append(folder + "/" + entry.name)
                } else if entry.kind == .directory && ClaudeLayout.isSessionDirectory(entry.nameBytes) {
                    sessionFolders.append(entry.name)
                }
            }
            for session in sessionFolders {
                let subagents = folder + "/" + session + "/" + ClaudeLayout.subagents
                try? fileSystem.forEachEntry(in: subagents, wantsStatus: ClaudeLayout.never) { entry in
                    if entry.kind == .regular && ClaudeLayout.isTranscript(entry.nameBytes) {
                        paths.append(subagents + "/" + entry.name)
                    }
                }
            }
        }
        return paths
    }

    // MARK: - Publishing

    private func publish() {
        var snapshot = UsageSnapshot()
        snapshot.ready = ready
        snapshot.models = ledger.models.map { UsageSnapshot.Model(name: $0.key, usage: $0.value) }
            .sorted { $0.name < $1.name }
        snapshot.skipped = ledger.skipped
        snapshot.files = files.count + rollouts.count
        snapshot.bytesRead = bytesRead
        snapshot.responses = ledger.responses
        snapshot.liveContexts = liveContexts
        store.publish(snapshot)
    }

    private static func sessionHash(_ session: String) -> UInt32 {
        UInt32(truncatingIfNeeded: hash(session) >> 32) | 1
    }

    private static func hash(_ text: String) -> UInt64 {
        var text = text
        return text.withUTF8 {
            ResponseHash.of(id: UnsafeRawBufferPointer($0), requestId: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// The session id a top-level transcript is named after (`projects/<slug>/<session id>.jsonl`); `nil` for a
    /// subagent's transcript, whose context is its own.
    private static func session(of path: String) -> String? {
        let name = lastComponent(path)
        guard name.hasSuffix(".jsonl"), lastComponent(parentPath(path)) != ClaudeLayout.subagents else { return nil }
        return String(name.dropLast(6))
    }
}
