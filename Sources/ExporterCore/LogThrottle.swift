import Platform

/// Says when a recurring problem deserves a log line again: the first time, then at most once per `interval`,
/// with the number of times it recurred meanwhile. A condition that persists (a watch limit, a clock in the
/// future) is then neither silent after its first line nor logged on every rescan.
struct LogThrottle<Key: Hashable> {
    let interval: Double
    private var state: [Key: (loggedAt: Timestamp, suppressed: Int)] = [:]

    init(interval: Double = 3600) {
        self.interval = interval
    }

    /// Whether to log `key` at `now`, and how many occurrences went unlogged since the last line.
    mutating func check(_ key: Key, now: Timestamp) -> (log: Bool, suppressed: Int) {
        guard let previous = state[key] else {
            state[key] = (now, 0)
            return (true, 0)
        }
        guard now.seconds(since: previous.loggedAt) >= interval else {
            state[key]?.suppressed += 1
            return (false, previous.suppressed + 1)
        }
        state[key] = (now, 0)
        return (true, previous.suppressed)
    }
}
