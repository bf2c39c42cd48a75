import Platform
import Synchronization

/// An immutable picture of the exporter's state, published by the tracker after every change.
///
/// The HTTP path renders from the latest snapshot plus the clock, without awaiting the actor.
/// Everything time-dependent (active or idle, minutes since) is derived at read time, never stored.
public struct ActivitySnapshot: Sendable, Equatable {
    /// One directory of a root (a root whose setting is a list has several) and whether it exists.
    public struct DirectoryState: Sendable, Equatable {
        public var root: RootDirectory
        public var path: String
        public var present: Bool
    }

    /// The newest activity per source (`nil`: no activity file seen yet).
    public var newest = PerSource<Activity?>(repeating: nil)
    /// Activity files per source.
    public var files = PerSource(repeating: 0)
    /// Session transcripts (`claude_sessions_total`).
    public var sessions = 0
    /// False while the Claude directory exists but cannot be read.
    public var healthy = true
    /// Whether each ``RootDirectory`` (by index) exists as a directory; false until the first scan has looked.
    public var directoriesPresent = [Bool](repeating: false, count: RootDirectory.allCases.count)
    /// Every directory the trackers look after (each one of a list), in ``RootDirectory`` order, and whether it
    /// exists: for the status page.
    public var directoryStates: [DirectoryState] = []
    /// Directories under inotify watch.
    public var watches = 0
    public var watchErrors: UInt64 = 0
    public var events: UInt64 = 0
    public var rescans: UInt64 = 0
    public var overflows: UInt64 = 0
    /// How long the last full scan took, in seconds.
    public var lastScanDuration = 0.0
    /// When the exporter started: "idle since" when no activity file exists yet.
    public var startTime: Timestamp
    /// Live registry entries per status, in ``AgentStatus/allCases`` order.
    public var agentSessions = [Int](repeating: 0, count: AgentStatus.allCases.count)
    /// Whether a live registry entry is `busy` or `waiting` right now: activity "now", at every scrape.
    public var statusActive = false
    /// The live registry entries, by pid.
    public var liveSessions: [LiveSession] = []
    /// The live Happy processes, by pid.
    public var happyProcesses: [HappyProcess] = []
    /// Whether a live Happy process is thinking right now: activity "now", at every scrape.
    public var happyThinking = false
    /// Requests to `/-/drain` held back now (filled in by the HTTP side at scrape time, not by the tracker).
    public var drainRequestsWaiting = 0

    public init(startTime: Timestamp) {
        self.startTime = startTime
    }

    /// The newest activity among `sources`.
    public func newest(among sources: Set<ActivitySource>) -> (source: ActivitySource, activity: Activity)? {
        var best: (ActivitySource, Activity)?
        for source in ActivitySource.allCases where sources.contains(source) {
            if let activity = newest[source], best == nil || activity.time > best!.1.time {
                best = (source, activity)
            }
        }
        return best
    }

    /// The contract's view at `now`: the activity timestamp (0 when none), whether the agent is active,
    /// and minutes since the last activity (since the exporter started when there is none).
    public func status(at now: Timestamp, idleTimeoutSeconds: Double, sources: Set<ActivitySource>) -> ActivityStatus {
        if statusActive && sources.contains(.status) {
            return ActivityStatus(timestamp: now.secondsSinceEpoch, active: true, secondsSince: 0, source: .status)
        }
        if happyThinking && sources.contains(.happyState) {
            return ActivityStatus(timestamp: now.secondsSinceEpoch, active: true, secondsSince: 0, source: .happyState)
        }
        guard let (source, activity) = newest(among: sources) else {
            return ActivityStatus(
                timestamp: 0,
                active: false,
                secondsSince: max(0, now.seconds(since: startTime)),
                source: nil
            )
        }
        let age = max(0, now.seconds(since: activity.time))
        return ActivityStatus(
            timestamp: activity.time.secondsSinceEpoch,
            active: age < idleTimeoutSeconds,
            secondsSince: age,
            source: source
        )
    }
}

extension ActivitySnapshot {
    /// The union of the parts' snapshots: the first is the main tracker's (every root), the others each watch one
    /// more directory of a root whose setting is a list. Newest times are the newest of all, counts add up, a root
    /// is present if any of its directories is, health needs every part healthy, and live processes are listed
    /// once per pid. The event, scan and overflow counters are the main tracker's (every tracker sees every
    /// event); the scan time adds up.
    public static func merged(_ parts: [ActivitySnapshot]) -> ActivitySnapshot {
        var merged = parts[0]
        for part in parts.dropFirst() {
            for source in ActivitySource.allCases {
                if let activity = part.newest[source], activity.time > merged.newest[source]?.time ?? .earliest {
                    merged.newest[source] = activity
                }
                merged.files[source] += part.files[source]
            }
            merged.sessions += part.sessions
            merged.healthy = merged.healthy && part.healthy
            for index in merged.directoriesPresent.indices where part.directoriesPresent[index] {
                merged.directoriesPresent[index] = true
            }
            merged.directoryStates += part.directoryStates
            merged.watches += part.watches
            merged.watchErrors &+= part.watchErrors
            merged.lastScanDuration += part.lastScanDuration
            merged.statusActive = merged.statusActive || part.statusActive
            merged.happyThinking = merged.happyThinking || part.happyThinking
            let pids = Set(merged.liveSessions.map(\.pid))
            let newSessions = part.liveSessions.filter { !pids.contains($0.pid) }
            for session in newSessions {
                if let index = AgentStatus.allCases.firstIndex(of: session.status) { merged.agentSessions[index] += 1 }
            }
            merged.liveSessions += newSessions
            let happyPids = Set(merged.happyProcesses.map(\.pid))
            merged.happyProcesses += part.happyProcesses.filter { !happyPids.contains($0.pid) }
        }
        merged.liveSessions.sort { $0.pid < $1.pid }
        merged.happyProcesses.sort { $0.pid < $1.pid }
        let states = merged.directoryStates
        merged.directoryStates = RootDirectory.allCases.flatMap { root in states.filter { $0.root == root } }
        return merged
    }

    /// The newest activity of one source at `now` (0 before any): "now" for the registry while an entry is
    /// busy or waiting.
    public func sourceTime(_ source: ActivitySource, at now: Timestamp) -> Double {
        if source == .status && statusActive { return now.secondsSinceEpoch }
        if source == .happyState && happyThinking { return now.secondsSinceEpoch }
        return newest[source]?.time.secondsSinceEpoch ?? 0
    }

    /// Live registry entries with `status`.
    public func agentSessions(_ status: AgentStatus) -> Int {
        agentSessions[AgentStatus.allCases.firstIndex(of: status)!]
    }
}

/// Active or idle, derived from a snapshot and the clock.
public struct ActivityStatus: Sendable, Equatable {
    public var timestamp: Double
    public var active: Bool
    public var secondsSince: Double
    public var source: ActivitySource?
}

/// Where the tracker publishes snapshots and readers take them: a lock held only to copy a struct.
///
/// It also keeps the proof of life that `/health` checks: when the state actor last answered a heartbeat
/// and when it last finished a rescan (monotonic nanoseconds), written on the actor and read by the HTTP
/// thread without waiting for anything.
///
/// With more than one tracker (``TrackerGroup``: a root whose setting lists several directories), each publishes
/// its part and readers get their union (``ActivitySnapshot/merged(_:)``).
public final class SnapshotStore: Sendable {
    private let current: Locked<[ActivitySnapshot]>
    private let answered: Atomic<UInt64>
    private let rescanned: Atomic<UInt64>

    public init(_ initial: ActivitySnapshot, parts: Int = 1, startedAt: UInt64 = MonotonicClock.nanoseconds()) {
        current = Locked(Array(repeating: initial, count: max(1, parts)))
        answered = Atomic(startedAt)
        rescanned = Atomic(startedAt)
    }

    /// The latest snapshot (of every part, merged).
    public var snapshot: ActivitySnapshot {
        let parts = current.withLock { $0 }
        return parts.count == 1 ? parts[0] : ActivitySnapshot.merged(parts)
    }

    /// How many trackers publish here.
    public var parts: Int { current.withLock { $0.count } }

    func publish(_ snapshot: ActivitySnapshot, part: Int = 0) {
        current.withLock { $0[part] = snapshot }
    }

    /// When the state actor last answered a heartbeat (monotonic nanoseconds).
    public var lastAnswer: UInt64 { answered.load(ordering: .relaxed) }
    /// When the state actor last finished a full scan or rescan (monotonic nanoseconds).
    public var lastRescan: UInt64 { rescanned.load(ordering: .relaxed) }

    func recordAnswer(at time: UInt64) { answered.store(time, ordering: .relaxed) }
    func recordRescan(at time: UInt64) { rescanned.store(time, ordering: .relaxed) }
}
