import Platform

/// The one-line status systemd shows (`systemctl status`, `STATUS=`):
/// `active · 3 sessions · last activity 12 s ago (transcripts) · 41 watches`, and first, while a directory whose
/// sources drive activity is missing, `waiting for /home/agent/.claude (set CLAUDE_DIR)`.
public enum StatusLine {
    /// - Parameter directories: the path of each ``RootDirectory``, by index (to name the missing ones).
    public static func text(
        _ snapshot: ActivitySnapshot,
        at now: Timestamp,
        idleTimeoutSeconds: Double,
        sources: Set<ActivitySource>,
        directories: [String]
    ) -> String {
        let status = snapshot.status(at: now, idleTimeoutSeconds: idleTimeoutSeconds, sources: sources)
        var parts = [status.active ? "active" : "idle"]
        if !snapshot.healthy { parts[0] = "unhealthy (Claude directory unreadable), " + parts[0] }
        for root in missingRoots(snapshot, sources: sources) where root.index < directories.count {
            parts.append("waiting for \(directories[root.index]) (set \(root.variable))")
        }
        parts.append(snapshot.sessions == 1 ? "1 session" : "\(snapshot.sessions) sessions")
        if let source = status.source {
            parts.append("last activity \(age(status.secondsSince)) (\(source.rawValue))")
        } else {
            parts.append("no activity yet")
        }
        parts.append(snapshot.watches == 1 ? "1 watch" : "\(snapshot.watches) watches")
        return parts.joined(separator: " · ")
    }

    /// What, when it changes, deserves a new status line (the age alone does not).
    public static func key(
        _ snapshot: ActivitySnapshot,
        at now: Timestamp,
        idleTimeoutSeconds: Double,
        sources: Set<ActivitySource>
    ) -> [Int] {
        let active = snapshot.status(at: now, idleTimeoutSeconds: idleTimeoutSeconds, sources: sources).active
        return [
            active ? 1 : 0, snapshot.healthy ? 1 : 0, snapshot.sessions, snapshot.watches,
            Int(truncatingIfNeeded: snapshot.rescans),
        ] + snapshot.directoriesPresent.map { $0 ? 1 : 0 }
    }

    /// The roots that do not exist and hold a source in `sources` (so the agent's activity cannot be seen).
    public static func missingRoots(_ snapshot: ActivitySnapshot, sources: Set<ActivitySource>) -> [RootDirectory] {
        RootDirectory.allCases.filter { root in
            !snapshot.directoriesPresent[root.index] && root.holdsAny(of: sources)
        }
    }

    static func age(_ seconds: Double) -> String {
        // Clamped: an activity time from a file dated far in the past must not overflow the conversion.
        let whole = seconds.isNaN ? 0 : Int(min(max(seconds, 0), 1e15).rounded(.down))
        if whole < 120 { return "\(whole) s ago" }
        if whole < 120 * 60 { return "\(whole / 60) min ago" }
        if whole < 48 * 3600 { return "\(whole / 3600) h ago" }
        return "\(whole / 86_400) days ago"
    }
}
