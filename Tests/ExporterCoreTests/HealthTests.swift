import Platform
import Testing

@testable import ExporterCore

@Suite("Health: a readable directory and a state actor that answers")
struct HealthTests {
    private let second: UInt64 = 1_000_000_000
    private let snapshot = ActivitySnapshot(startTime: .zero)

    private func evaluate(
        _ snapshot: ActivitySnapshot,
        answered: UInt64,
        rescanned: UInt64,
        now: UInt64,
        interval: Double = 30
    ) -> Health {
        Health.evaluate(snapshot, lastAnswer: answered, lastRescan: rescanned, now: now, rescanInterval: interval)
    }

    @Test("Healthy while the actor answers and rescans finish")
    func healthy() {
        let now = 1000 * second
        #expect(evaluate(snapshot, answered: now - 5 * second, rescanned: now - 40 * second, now: now) == .healthy)
        // A clock read just before a heartbeat landed is not "in the future".
        #expect(evaluate(snapshot, answered: now + 1, rescanned: now + 1, now: now) == .healthy)
    }

    @Test("A stuck actor: no answer within the bound, whatever the snapshot says")
    func stuck() {
        let now = 1000 * second
        let health = evaluate(snapshot, answered: now - 31 * second, rescanned: now, now: now)
        guard case .unhealthy(let reason) = health else {
            Issue.record("healthy with no answer for 31 s")
            return
        }
        #expect(reason.contains("has not answered for 31 s"))
    }

    @Test("No rescan within twice the interval plus the bound: unhealthy; the bound follows the setting")
    func noRescan() {
        let now = 10_000 * second
        #expect(!evaluate(snapshot, answered: now, rescanned: now - 91 * second, now: now).isHealthy)
        #expect(evaluate(snapshot, answered: now, rescanned: now - 89 * second, now: now).isHealthy)
        #expect(evaluate(snapshot, answered: now, rescanned: now - 600 * second, now: now, interval: 300).isHealthy)
        #expect(Health.rescanBound(rescanInterval: 300) == 630)
    }

    @Test("An unreadable Claude directory is unhealthy")
    func unreadable() {
        var unreadable = snapshot
        unreadable.healthy = false
        #expect(
            evaluate(unreadable, answered: 5, rescanned: 5, now: 5)
                == .unhealthy(reason: "the Claude directory exists but cannot be read")
        )
    }

    @Test("The store records answers and rescans from the tracker")
    func store() {
        let store = SnapshotStore(snapshot, startedAt: 7)
        #expect(store.lastAnswer == 7 && store.lastRescan == 7)
        store.recordAnswer(at: 9)
        store.recordRescan(at: 11)
        #expect(store.lastAnswer == 9 && store.lastRescan == 11)
    }
}

@Suite("Throttled logs")
struct LogThrottleTests {
    @Test("The first time, then once per interval with the count of what was not logged")
    func throttle() {
        var throttle = LogThrottle<String>(interval: 60)
        #expect(throttle.check("a", now: Timestamp(seconds: 0)) == (true, 0))
        #expect(throttle.check("a", now: Timestamp(seconds: 10)) == (false, 1))
        #expect(throttle.check("b", now: Timestamp(seconds: 10)) == (true, 0))
        #expect(throttle.check("a", now: Timestamp(seconds: 59)) == (false, 2))
        #expect(throttle.check("a", now: Timestamp(seconds: 61)) == (true, 2))
        #expect(throttle.check("a", now: Timestamp(seconds: 62)) == (false, 1))
    }
}
