import Logging
import Platform

/// Logs the agent's state when it is first known (active or idle, either way) and its active/idle transitions as
/// they happen, and says when the next one is due.
///
/// The tracker calls ``update(_:now:idleTimeoutSeconds:sources:)`` after every change it publishes; while the
/// agent is active it arms a timer for the returned delay, so "agent idle" is logged when the idle timeout
/// passes even if nothing else happens.
struct TransitionLog {
    private let logger: Logger
    /// `nil` until the first update: the starting state is logged whatever it is.
    private var wasActive: Bool?

    init(logger: Logger) {
        self.logger = logger
    }

    /// Logs a change of state at `now`; returns the seconds until the agent turns idle while it is active
    /// (a little past the moment, so the check then sees it idle), or `nil` while it is idle.
    mutating func update(
        _ snapshot: ActivitySnapshot,
        now: Timestamp,
        idleTimeoutSeconds: Double,
        sources: Set<ActivitySource>
    ) -> Double? {
        let status = snapshot.status(at: now, idleTimeoutSeconds: idleTimeoutSeconds, sources: sources)
        if status.active != wasActive {
            wasActive = status.active
            let activity = status.source.flatMap { snapshot.newest[$0] }
            var metadata: Logger.Metadata = [
                "source": "\(status.source?.rawValue ?? "")", "path": "\(activity?.path ?? "")",
                "sessions": "\(snapshot.sessions)",
            ]
            if status.active {
                logger.info("agent active", metadata: metadata)
            } else if status.source == nil {
                logger.info("agent idle: no activity yet", metadata: ["sessions": "\(snapshot.sessions)"])
            } else {
                metadata["idle_seconds"] = "\(Int(min(status.secondsSince, 1e15)))"
                metadata["last_activity"] = "\(StatusLine.age(status.secondsSince))"
                logger.info("agent idle", metadata: metadata)
            }
        }
        return status.active ? max(0, idleTimeoutSeconds - status.secondsSince) + 0.002 : nil
    }
}

/// One ``TransitionLog`` for the trackers of a group (each arms its own timer; the log says each change once).
public final class SharedTransitionLog: Sendable {
    private let log: Locked<TransitionLog>

    public init(logger: Logger) {
        log = Locked(TransitionLog(logger: logger))
    }

    func update(
        _ snapshot: ActivitySnapshot,
        now: Timestamp,
        idleTimeoutSeconds: Double,
        sources: Set<ActivitySource>
    ) -> Double? {
        log.withLock { $0.update(snapshot, now: now, idleTimeoutSeconds: idleTimeoutSeconds, sources: sources) }
    }
}
