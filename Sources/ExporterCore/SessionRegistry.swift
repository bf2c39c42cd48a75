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
        let pid: Int32?
        if let value = members["pid"] {
            // A pid that is there but unusable makes the file no entry: guessing from the file name could
            // attribute a stranger's file to a live process.
            guard case .number(let number) = value, number >= 1, number <= Double(Int32.max),
                number == number.rounded()
            else { return .failure(.notAnEntry("invalid pid")) }
            pid = Int32(number)
        } else if fileName.hasSuffix(".json") {
            pid = Int32(fileName.dropLast(5))
        } else {
            pid = nil
        }
        guard let pid, pid > 0 else { return .failure(.notAnEntry("no usable pid")) }
        var rawStatus = "?"
        var status = AgentStatus.unknown
        if case .string(let text) = statusValue {
            rawStatus = Self.bounded(text, Self.maxStatusBytes)
            status = AgentStatus(rawValue: text).flatMap { $0 == .unknown ? nil : $0 } ?? .unknown
        }
        var updated: Timestamp?
        // Epoch milliseconds; anything outside [1, 1e17) (the year 3,170,000) is no time at all. The bound
        // keeps every later conversion and subtraction far from Int64's limits.
        if case .number(let milliseconds) = members["statusUpdatedAt"], milliseconds >= 1, milliseconds < 1e17 {
            let whole = (milliseconds / 1000).rounded(.down)
            updated = Timestamp(
                seconds: Int64(whole),
                nanoseconds: min(999_999_999, Int64(((milliseconds - whole * 1000) * 1_000_000).rounded(.down)))
            )
        }
        func text(_ key: String, _ limit: Int) -> String {
            if case .string(let value) = members[key] { return Self.bounded(value, limit) }
            return ""
        }
        return .success(
            RegistryEntry(
                pid: pid,
                sessionID: text("sessionId", Self.maxSessionIDBytes),
                cwd: text("cwd", Self.maxDirectoryBytes),
                status: status,
                rawStatus: rawStatus,
                statusUpdatedAt: updated,
                processStart: processStart,
                modified: modified
            )
        )
    }

    /// The longest strings kept from a registry file (UTF-8 bytes; longer ones are cut, with "…"), so an entry
    /// costs a bounded amount of memory whatever the file holds. A session id is a 36-byte UUID.
    public static let maxSessionIDBytes = 128
    public static let maxDirectoryBytes = 1024
    public static let maxStatusBytes = 64

    static func bounded(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: limit - 3)
        while end > text.utf8.startIndex && UTF8.isContinuation(text.utf8[end]) { text.utf8.formIndex(before: &end) }
        return String(text[..<end]) + "…"
    }

    /// Whether the registered process is running, as far as this process can tell.
    ///
    /// Where other processes are visible (a host, or a pod with `shareProcessNamespace: true`), the entry
    /// is live while `/proc/<pid>/stat` exists with the registered start time (a reused pid does not
    /// count), and dead for good otherwise; an entry naming this very process (its pid and start time) is
    /// never live; a look-up that fails for another reason counts as running until a later check can tell.
    /// Where other processes are not visible (a sidecar in its own pid namespace, where a pid in `/proc` is
    /// one of this container's, never Claude's), liveness cannot be checked at all: the entry counts as live
    /// only while its status was updated within `freshness` seconds, so that a dead process's leftover file
    /// can never keep the agent active. The update time counts from `readAt` at the latest: a time in the
    /// future counts as "now" once, then ages.
    public func liveness(processes: any ProcessTable, readAt: Timestamp, now: Timestamp, freshness: Double) -> Liveness
    {
        guard processes.seesOtherProcesses else {
            let until = min(statusUpdatedAt ?? modified, readAt).adding(seconds: freshness)
            return now < until ? .fresh(until: until) : .dead
        }
        switch processes.lookUp(pid) {
        case .running(let ticks):
            return ticks == processStart && pid != processes.ownProcessID ? .running : .dead
        case .gone:
            return .dead
        case .unknown:
            return .running
        }
    }

    /// How an entry's process was found alive, which says how to check it again.
    public enum Liveness: Sendable, Equatable {
        /// Seen in `/proc` with the registered start time (or not known otherwise yet): look again later.
        case running
        /// Not checkable; live until this time unless the file is rewritten.
        case fresh(until: Timestamp)
        /// Not running, or this exporter itself: stays so until the file changes.
        case dead

        public var isLive: Bool { self != .dead }
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
