import Platform

/// Whether the agent is between turns, so that a pod going away (its `preStop` hook calls `/-/drain`) does not
/// kill it mid-turn.
///
/// Between turns means: no live session-registry process is `busy` or `waiting` (waiting is mid-turn, for a
/// human), and the newest activity of the driving sources is at least the quiet period old. Unlike "idle", it
/// does not wait for `IDLE_TIMEOUT_MINUTES`: the pod is leaving anyway; it only has to be between turns.
public enum Drain: Sendable, Equatable {
    case ready
    /// What it still waits for, in words for the log and the response body.
    case waiting(String)

    public static func evaluate(
        _ snapshot: ActivitySnapshot,
        at now: Timestamp,
        quietSeconds: Double,
        sources: Set<ActivitySource>
    ) -> Drain {
        if let turn = snapshot.liveSessions.first(where: { $0.status.isActivity }) {
            return .waiting(
                "session \(turn.sessionID) (pid \(turn.pid)) is \(turn.rawStatus) in the session registry"
            )
        }
        if let thinking = snapshot.happyProcesses.first(where: \.thinking) {
            return .waiting("Happy process \(thinking.pid) thinking (its log: \(thinking.log))")
        }
        // The status source's time is when a process was last seen busy or waiting: quiet since the last turn.
        if let (source, activity) = snapshot.newest(among: sources) {
            let age = max(0, now.seconds(since: activity.time))
            if age < quietSeconds {
                return .waiting(
                    "the last activity (\(source.rawValue), \(activity.path)) was \(Int(age)) s ago; "
                        + "the quiet period is \(Int(quietSeconds)) s"
                )
            }
        }
        return .ready
    }
}
