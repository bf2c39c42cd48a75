import Platform
import Testing

@testable import ExporterCore

@Suite("Drain: between turns")
struct DrainTests {
    private let now = Timestamp(seconds: 10_000)

    private func snapshot(activityAge: Int64?, session: AgentStatus? = nil) -> ActivitySnapshot {
        var snapshot = ActivitySnapshot(startTime: .zero)
        if let activityAge {
            snapshot.newest[.transcripts] = Activity(time: Timestamp(seconds: 10_000 - activityAge), path: "/t.jsonl")
        }
        if let session {
            snapshot.liveSessions = [
                LiveSession(pid: 42, sessionID: "s", status: session, rawStatus: session.rawValue, cwd: "/r")
            ]
        }
        return snapshot
    }

    private func evaluate(_ snapshot: ActivitySnapshot, quiet: Double = 30) -> Drain {
        Drain.evaluate(snapshot, at: now, quietSeconds: quiet, sources: [.transcripts, .history, .status])
    }

    @Test("Ready when nothing ever happened, and once the newest activity is as old as the quiet period")
    func ready() {
        #expect(evaluate(snapshot(activityAge: nil)) == .ready)
        #expect(evaluate(snapshot(activityAge: 30)) == .ready)
        #expect(evaluate(snapshot(activityAge: 0), quiet: 0) == .ready)
        // It does not wait for the idle timeout: a transcript 5 minutes old is between turns.
        #expect(evaluate(snapshot(activityAge: 300)) == .ready)
    }

    @Test("Waits for recent activity, saying which file and how long")
    func recentActivity() {
        guard case .waiting(let reason) = evaluate(snapshot(activityAge: 10)) else {
            Issue.record("ready 10 s after activity with a 30 s quiet period")
            return
        }
        #expect(reason.contains("transcripts") && reason.contains("/t.jsonl") && reason.contains("10 s ago"))
    }

    @Test(
        "Waits while a live session is busy or waiting, whatever the file times say",
        arguments: [AgentStatus.busy, .waiting]
    )
    func sessionMidTurn(status: AgentStatus) {
        guard case .waiting(let reason) = evaluate(snapshot(activityAge: 3600, session: status)) else {
            Issue.record("ready with a session \(status)")
            return
        }
        #expect(reason.contains("pid 42") && reason.contains(status.rawValue))
    }

    @Test("A session that just left its turn holds the drain for the quiet period (the status source's time)")
    func statusQuiet() {
        var snapshot = snapshot(activityAge: 3600, session: .idle)
        snapshot.newest[.status] = Activity(time: Timestamp(seconds: 10_000 - 5), path: "/sessions/42.json")
        guard case .waiting(let reason) = evaluate(snapshot) else {
            Issue.record("ready 5 s after the turn ended")
            return
        }
        #expect(reason.contains("status"))
        // Without the status source in ACTIVITY_SOURCES, only the files count.
        #expect(Drain.evaluate(snapshot, at: now, quietSeconds: 30, sources: [.transcripts]) == .ready)
    }

    @Test("An idle or shell session does not hold a drain")
    func sessionBetweenTurns() {
        #expect(evaluate(snapshot(activityAge: 3600, session: .idle)) == .ready)
        #expect(evaluate(snapshot(activityAge: 3600, session: .shell)) == .ready)
    }
}
