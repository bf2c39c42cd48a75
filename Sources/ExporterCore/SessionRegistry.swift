import Platform

/// What a Claude Code process says it is doing, in `$CLAUDE_DIR/sessions/<pid>.json`.
public enum AgentStatus: String, CaseIterable, Sendable, Hashable {
    /// Waiting for the next prompt.
    case idle
    /// Working: the model is running or a tool is.
    case busy
    /// Waiting for a human (a permission prompt): must not be scaled away.
    case waiting
    /// In a `!` shell command.
    case shell
    /// A status this exporter does not know (a newer Claude Code); counted, never dropped.
    case unknown

    /// Whether this status makes the agent active by itself.
    public var isActivity: Bool { self == .busy || self == .waiting }
}

/// One process's entry in Claude Code's session registry (Claude Code 2.1.139 and later).
///
/// The format is undocumented and read defensively: only files with both `status` and `procStart`
/// are entries (the older `pid-<n>.json` generation has neither); an unknown status is kept as
/// ``AgentStatus/unknown``; a value of the wrong type makes the field missing, never a crash.
public struct RegistryEntry: Sendable, Equatable {
    public var pid: Int32
    public var sessionID: String
    public var cwd: String
    public var status: AgentStatus
    /// The status as written, for logs when it is unknown.
    public var rawStatus: String
    /// `statusUpdatedAt` (epoch milliseconds), when present.
    public var statusUpdatedAt: Timestamp?
    /// The process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`): with the pid,
    /// it tells the registered process from a later one that got the same pid.
    public var processStart: UInt64
    /// The file's modification time.
    public var modified: Timestamp

    public init(
        pid: Int32,
        sessionID: String = "",
        cwd: String = "",
        status: AgentStatus,
        rawStatus: String? = nil,
        statusUpdatedAt: Timestamp? = nil,
        processStart: UInt64,
        modified: Timestamp = .zero
    ) {
        self.pid = pid
        self.sessionID = sessionID
        self.cwd = cwd
        self.status = status
        self.rawStatus = rawStatus ?? status.rawValue
        self.statusUpdatedAt = statusUpdatedAt
        self.processStart = processStart
        self.modified = modified
    }

    /// Why a registry file is not an entry.
    public enum Problem: Error, Equatable, Sendable {
        /// Not JSON, or cut short (a write in progress): try again on the next event.
        case malformed(String)
        /// JSON, but not a current-generation entry (no `status`, or no usable `procStart` or `pid`).
        case notAnEntry(String)
    }

    /// Parses a registry file. `fileName` (`<pid>.json`) supplies the pid when the file has none.
    public static func parse(
        _ bytes: [UInt8],
        fileName: String,
        modified: Timestamp
    ) -> Result<RegistryEntry, Problem> {
        let members: [String: FlatJSON.Value]
        do {
            members = try FlatJSON.parseObject(bytes)
        } catch {
            return .failure(.malformed("\(error.reason) at byte \(error.offset)"))
        }
        guard let statusValue = members["status"], statusValue != .null else {
            return .failure(.notAnEntry("no status"))
        }
        let processStart: UInt64?
        switch members["procStart"] {
        case .string(let text): processStart = UInt64(text)
        case .number(let number) where number >= 0 && number == number.rounded() && number < 1.8e19:
            processStart = UInt64(number)
        default: processStart = nil
        }
        guard let processStart else { return .failure(.notAnEntry("no usable procStart")) }
        var pid: Int32?
        if case .number(let number) = members["pid"], number > 0, number < Double(Int32.max), number == number.rounded()
        {
            pid = Int32(number)
        } else if fileName.hasSuffix(".json") {
            pid = Int32(fileName.dropLast(5))
        }
        guard let pid, pid > 0 else { return .failure(.notAnEntry("no usable pid")) }
        var rawStatus = "?"
        var status = AgentStatus.unknown
        if case .string(let text) = statusValue {
            rawStatus = text
            status = AgentStatus(rawValue: text).flatMap { $0 == .unknown ? nil : $0 } ?? .unknown
        }
        var updated: Timestamp?
        if case .number(let milliseconds) = members["statusUpdatedAt"], milliseconds.isFinite, milliseconds > 0 {
            let whole = Int64(milliseconds / 1000)
            updated = Timestamp(seconds: whole, nanoseconds: Int64((milliseconds - Double(whole) * 1000) * 1_000_000))
        }
        func text(_ key: String) -> String {
            if case .string(let value) = members[key] { return value }
            return ""
        }
        return .success(
            RegistryEntry(
                pid: pid,
                sessionID: text("sessionId"),
                cwd: text("cwd"),
                status: status,
                rawStatus: rawStatus,
                statusUpdatedAt: updated,
                processStart: processStart,
                modified: modified
            )
        )
    }

    /// Whether the registered process is still running.
    ///
    /// Where other processes are visible (a host, or a pod with `shareProcessNamespace: true`), the entry
    /// is live while `/proc/<pid>/stat` exists with the registered start time (a reused pid does not
    /// count). Where they are not (a sidecar in its own pid namespace), liveness cannot be checked, and
    /// the entry counts as live only while its status was updated within `freshness` seconds, so that a
    /// dead process's leftover file can never keep the agent active.
    public func isLive(processes: any ProcessTable, now: Timestamp, freshness: Double) -> Bool {
        if let ticks = processes.startTicks(of: pid) { return ticks == processStart }
        if processes.seesOtherProcesses { return false }
        return now.seconds(since: statusUpdatedAt ?? modified) < freshness
    }
}

/// One live registry entry, as the info page and `--once` show it.
public struct LiveSession: Sendable, Equatable {
    public var pid: Int32
    public var sessionID: String
    public var status: AgentStatus
    public var rawStatus: String
    public var cwd: String
}
