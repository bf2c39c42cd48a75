import FileWatching
import Logging
import Platform

/// A Happy process the exporter follows, as the snapshot shows it.
public struct HappyProcess: Sendable, Equatable {
    public var pid: Int32
    /// Its log file.
    public var log: String
    public var thinking: Bool
    /// Which of Happy's modes last said so (`claude remote`, `claude local`, `codex`, `gemini`); empty before any.
    public var mode: String
}

/// Keeps the ``SourceLayout/happyProcesses`` source up to date: the thinking state of every live Happy process, read
/// from the lines its logger appends to `$HAPPY_DIR/logs/<date-time>-pid-<pid>.log` (see ``HappyLog``).
///
/// Only the bytes appended since the last read are read (``AppendedLines``), lines longer than 16 KiB are skipped
/// (state lines are short; Happy dumps whole messages in others), and a log seen for the first time is read from at
/// most 1 MiB before its end, never whole. Only logs of live processes are read at all.
///
/// Liveness: where the exporter sees other processes (a host, a shared pid namespace), the pid in the name must
/// run. Where it cannot (a sidecar in its own pid namespace), the log must have been written recently: within 10 s
/// when it carries Happy's 2-second keep-alive lines (Happy run with `DEBUG`), else within the idle timeout.
final class HappyStateScanner {
    private let context: ScanContext
    private let processes: any ProcessTable
    private var logs: [String: Entry] = [:]
    private let buffer = ReadBuffer(chunk: 16 * 1024, maximumLine: 16 * 1024)

    private struct Entry {
        var pid: Int32
        var reader = AppendedLines()
        var thinking = false
        var mode = ""
        var lastWritten: Timestamp
        /// The modification time as last seen, raw: `lastWritten` moves only when it changes (a time in the future
        /// counts as now once, then ages).
        var modified = Timestamp.zero
        /// Keep-alive lines were seen: the process writes every 2 s while it runs.
        var keepAlive = false
    }

    /// A log seen for the first time is read from at most this far before its end.
    static let firstReadWindow: UInt64 = 1024 * 1024
    /// At most this many Happy processes are followed (their logs are the newest live ones).
    static let maximumProcesses = 64
    /// With keep-alive lines (every 2 s), a log quiet for this long belongs to a process that is gone.
    static let keepAliveSilenceSeconds = 10.0

    init(context: ScanContext, processes: any ProcessTable) {
        self.context = context
        self.processes = processes
    }

    private var folder: String { context.path(of: .happy) + "/" + ClaudeLayout.happyLogs }
    private let watched = WatchedDirectory.folder(.happyState, ClaudeLayout.happyLogs)

    private static func isLogName(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.count > 4 && name[name.count - 4] == UInt8(ascii: ".") && name[name.count - 3] == UInt8(ascii: "l")
            && name[name.count - 2] == UInt8(ascii: "o") && name[name.count - 1] == UInt8(ascii: "g")
    }

    /// Whether a log of `pid` is worth opening at a scan: its process runs (or cannot be seen either way). Logs of
    /// processes long gone pile up in `logs/` and are never read.
    private func isCandidate(_ pid: Int32) -> Bool {
        guard processes.seesOtherProcesses else { return true }
        if case .gone = processes.lookUp(pid) { return false }
        return true
    }

    /// Whether a followed process is live (the liveness tick runs while one is).
    var hasLiveProcesses: Bool { !logs.isEmpty }

    /// Watches `logs/` and reads what is new in the log of every live Happy process.
    func scan(into snapshot: inout ActivitySnapshot) {
        guard context.watch(watched, folder) != .vanished else { return removeAll(from: &snapshot) }
        var found: [(name: String, pid: Int32, modified: Timestamp)] = []
        do {
            // Links are never followed: a log is never one, and a stat through one could hang.
            try context.fileSystem.forEachEntry(in: folder, followingLinks: false, wantsStatus: Self.isLogName) {
                entry in
                guard entry.kind == .regular, let status = entry.status, let pid = HappyLog.pid(inLogName: entry.name)
                else { return }
                found.append((entry.name, pid, status.modified))
            }
        } catch {
            if error.isMissing { return removeAll(from: &snapshot) }
            context.logUnreadable(folder, error)
            return
        }
        let present = Set(found.map(\.name))
        for name in logs.keys where !present.contains(name) { forget(name, reason: "its log was removed") }
        // The newest first, so that the bound keeps the processes most likely to be working.
        for log in found.sorted(by: { $0.modified > $1.modified }) where logs[log.name] != nil || isCandidate(log.pid) {
            follow(log.name, pid: log.pid, modified: log.modified)
        }
        checkLiveness()
        update(&snapshot)
    }

    /// `logs/` (or Happy's directory) is gone.
    func removeAll(from snapshot: inout ActivitySnapshot) {
        context.unwatch(watched)
        for name in logs.keys { forget(name, reason: "Happy's logs folder is gone") }
        update(&snapshot)
    }

    /// `logs` appeared or went in Happy's directory.
    func folderChanged(_ snapshot: inout ActivitySnapshot) {
        if context.isDirectory(folder) { scan(into: &snapshot) } else { removeAll(from: &snapshot) }
    }

    /// An inotify event for `name` in `logs/`. Nothing is stat'ed by path (a link there is never followed): the read
    /// itself opens without following links and reports the file's time.
    func handle(name: String, _ snapshot: inout ActivitySnapshot) {
        guard let pid = HappyLog.pid(inLogName: name) else { return }
        follow(name, pid: pid, modified: nil)
        update(&snapshot)
    }

    /// The liveness check, once a second while a process is followed.
    func tick(_ snapshot: inout ActivitySnapshot) {
        checkLiveness()
        update(&snapshot)
    }

    // MARK: - Following one log

    /// Reads what is new in the log of `pid`, if that process is live and this is its newest log; `modified` is the
    /// listing's time (`nil` from an event: the read tells).
    private func follow(_ name: String, pid: Int32, modified: Timestamp?) {
        if logs[name] != nil { return read(name) }
        // Never this process, nor pid 1 (init on a host, the pause process of a pod that shares its pids).
        guard pid != processes.ownProcessID, pid != 1 else { return }
        let now = context.clock()
        var entry = Entry(pid: pid, lastWritten: min(modified ?? now, now))
        do {
            let part = try entry.reader.startNearEnd(
                of: folder + "/" + name,
                window: Self.firstReadWindow,
                fileSystem: context.fileSystem
            )
            // A time in the future counts as now, so that it ages (a bad clock cannot keep a pod busy).
            entry.lastWritten = min(part.modified, now)
            entry.modified = part.modified
        } catch {
            if !error.isMissing { logUnreadable(folder + "/" + name, error) }
            return
        }
        guard isLive(entry) else { return }
        // One log per process: its newest (an older one is from an earlier run, or was left behind).
        if let (otherName, other) = logs.first(where: { $0.value.pid == pid }) {
            guard entry.lastWritten > other.lastWritten else { return }
            forget(otherName, reason: "a newer log of the same process")
        }
        if logs.count >= Self.maximumProcesses {
            // Full: the least recently written gives way to a newer one.
            guard let (oldestName, oldest) = logs.min(by: { $0.value.lastWritten < $1.value.lastWritten }),
                oldest.lastWritten < entry.lastWritten
            else { return warnFull() }
            warnFull()
            forget(oldestName, reason: "more than \(Self.maximumProcesses) Happy processes")
        }
        logs[name] = entry
        context.logger.info("following a Happy process", metadata: ["pid": "\(pid)", "log": "\(folder)/\(name)"])
        read(name)
    }

    private func read(_ name: String) {
        guard var entry = logs[name] else { return }
        let path = folder + "/" + name
        var signals: [HappyLog.Signal] = []
        do {
            let progress = try entry.reader.read(
                path,
                fileSystem: context.fileSystem,
                buffer: buffer,
                window: Self.firstReadWindow
            ) { line in
                if case .complete(let bytes) = line, let signal = HappyLog.signal(bytes) { signals.append(signal) }
            }
            if let modified = progress.modified, modified != entry.modified {
                entry.modified = modified
                entry.lastWritten = max(entry.lastWritten, min(modified, context.clock()))
            }
        } catch {
            if error.isMissing { return forget(name, reason: "its log was removed") }
            logUnreadable(path, error)
            return
        }
        for signal in signals {
            switch signal {
            case .thinking(let value, let mode):
                entry.mode = mode
                set(&entry, thinking: value, log: path)
            case .keepAlive(let value):
                entry.keepAlive = true
                set(&entry, thinking: value, log: path)
            }
        }
        logs[name] = entry
    }

    private func set(_ entry: inout Entry, thinking: Bool, log: String) {
        guard entry.thinking != thinking else { return }
        entry.thinking = thinking
        let metadata: Logger.Metadata = ["pid": "\(entry.pid)", "log": "\(log)", "mode": "\(entry.mode)"]
        if thinking {
            context.logger.info("Happy agent thinking", metadata: metadata)
        } else {
            context.logger.info("Happy agent stopped thinking", metadata: metadata)
            // The idle timeout counts from this line.
            context.observe(.happyState, context.clock(), log, fromEvent: true)
        }
    }

    private func forget(_ name: String, reason: String) {
        guard let entry = logs.removeValue(forKey: name) else { return }
        if entry.thinking {
            context.logger.info(
                "no longer following a thinking Happy process",
                metadata: ["pid": "\(entry.pid)", "log": "\(folder)/\(name)", "reason": "\(reason)"]
            )
        }
    }

    private var fullLogs = LogThrottle<Int>()
    private var unreadableLogs = LogThrottle<Int32>()

    private func warnFull() {
        let (log, suppressed) = fullLogs.check(0, now: context.clock())
        guard log else { return }
        context.logger.warning(
            "more Happy processes than are followed; the least recently written are left out",
            metadata: ["limit": "\(Self.maximumProcesses)", "suppressed": "\(suppressed)"]
        )
    }

    private func logUnreadable(_ path: String, _ error: Errno) {
        let (log, suppressed) = unreadableLogs.check(error.code, now: context.clock())
        guard log else { return }
        context.logger.warning(
            "cannot read a Happy log (links, FIFOs and devices are never read)",
            metadata: ["path": "\(path)", "error": "\(error)", "suppressed": "\(suppressed)"]
        )
    }

    /// Live: the pid runs and started before its log was last written (else the log is an earlier process's whose
    /// pid was reused), or, where processes cannot be seen, the log was written recently.
    private func isLive(_ entry: Entry) -> Bool {
        if processes.seesOtherProcesses {
            switch processes.lookUp(entry.pid) {
            case .running(let ticks):
                guard let started = processes.wallClock(ofStartTicks: ticks) else { return true }
                return entry.lastWritten.adding(seconds: 1) >= started
            case .gone: return false
            case .unknown: return logs.values.contains { $0.pid == entry.pid }  // keep what is known until sure
            }
        }
        let window = entry.keepAlive ? Self.keepAliveSilenceSeconds : context.settings.idleTimeoutSeconds
        return context.clock().seconds(since: entry.lastWritten) < window
    }

    private func checkLiveness() {
        for (name, entry) in logs where !isLive(entry) { forget(name, reason: "the process is gone") }
    }

    /// Puts the live processes into the snapshot; a thinking one is activity now.
    private func update(_ snapshot: inout ActivitySnapshot) {
        snapshot.happyProcesses = logs.map { name, entry in
            HappyProcess(pid: entry.pid, log: folder + "/" + name, thinking: entry.thinking, mode: entry.mode)
        }.sorted { $0.pid < $1.pid }
        let thinking = snapshot.happyProcesses.first(where: \.thinking)
        snapshot.happyThinking = thinking != nil
        context.tree.setFiles(logs.count, for: .happyState)
        if let thinking { context.observe(.happyState, context.clock(), thinking.log, fromEvent: true) }
    }
}
