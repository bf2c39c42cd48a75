import Platform

/// What `/health` and `claude_exporter_healthy` say: the Claude directory is readable, and the state actor
/// is alive.
///
/// A snapshot alone cannot show a stuck exporter: the HTTP thread would keep serving the last one, "busy"
/// included, forever. So the check also asks for recent proof of life: a heartbeat answered by the state
/// actor (the wiring sends one every ``heartbeatInterval``), or progress within a scan (every 64 project
/// folders listed), within ``answerBound``; and a periodic rescan finished within twice the rescan interval
/// plus ``answerBound``. Either missing means the actor (or the task feeding it) is stuck, not merely busy
/// with a long scan, and a liveness probe should restart the exporter.
public enum Health: Sendable, Equatable {
    case healthy
    case unhealthy(reason: String)

    /// How often the wiring asks the state actor for a heartbeat.
    public static let heartbeatInterval: Double = 5
    /// How long the state actor may take to answer before the exporter counts as stuck. Generous: a full
    /// scan of 100,000 files takes a fifth of a second here.
    public static let answerBound: Double = 30

    /// The longest wait for a periodic rescan to finish, for a rescan interval of `rescanInterval` seconds.
    public static func rescanBound(rescanInterval: Double) -> Double { 2 * rescanInterval + answerBound }

    /// Evaluates health from a snapshot and the store's proof of life at `now` (monotonic nanoseconds).
    public static func evaluate(
        _ snapshot: ActivitySnapshot,
        lastAnswer: UInt64,
        lastRescan: UInt64,
        now: UInt64,
        rescanInterval: Double
    ) -> Health {
        let sinceAnswer = seconds(now, after: lastAnswer)
        if sinceAnswer > answerBound {
            return .unhealthy(
                reason: "the state actor has not answered for \(Int(sinceAnswer)) s (bound \(Int(answerBound)) s)"
            )
        }
        let sinceRescan = seconds(now, after: lastRescan)
        let bound = rescanBound(rescanInterval: rescanInterval)
        if sinceRescan > bound {
            return .unhealthy(reason: "no rescan has finished for \(Int(sinceRescan)) s (bound \(Int(bound)) s)")
        }
        if !snapshot.healthy { return .unhealthy(reason: "the Claude directory exists but cannot be read") }
        return .healthy
    }

    /// Evaluates health from what `store` holds now.
    public static func evaluate(_ store: SnapshotStore, _ snapshot: ActivitySnapshot, rescanInterval: Double) -> Health
    {
        evaluate(
            snapshot,
            lastAnswer: store.lastAnswer,
            lastRescan: store.lastRescan,
            now: MonotonicClock.nanoseconds(),
            rescanInterval: rescanInterval
        )
    }

    public var isHealthy: Bool { self == .healthy }

    private static func seconds(_ now: UInt64, after earlier: UInt64) -> Double {
        now > earlier ? Double(now - earlier) / 1_000_000_000 : 0
    }
}
