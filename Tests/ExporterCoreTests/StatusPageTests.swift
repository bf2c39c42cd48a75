import Platform
import Testing

@testable import ExporterCore

private func context(pod: String? = nil, repository: String? = nil) -> StatusPage.Context {
    StatusPage.Context(
        podName: pod,
        repositoryName: repository,
        idleTimeoutSeconds: 600,
        drivingSources: ActivitySource.defaultDriving,
        directories: ["/home/agent/.claude", "/home/agent/.happy"],
        version: "1.2.3",
        revision: "abc"
    )
}

@Suite("The status page at /")
struct StatusPageTests {
    @Test("A host where nothing is set up: it says which directory it waits for, and that POD_NAME is not set")
    func waiting() {
        let snapshot = ActivitySnapshot(startTime: Timestamp(seconds: 9_000))
        let page = StatusPage.html(snapshot, at: Timestamp(seconds: 10_000), context())
        #expect(page.contains("The agent is idle: no activity seen yet"))
        #expect(page.contains("POD_NAME is not set"))
        #expect(
            page.contains(
                "waiting for /home/agent/.claude to be created; set CLAUDE_DIR if Claude Code keeps it elsewhere"
            )
        )
        // Happy's directory drives nothing by default: listed as awaited, without a warning.
        #expect(!page.contains("set HAPPY_DIR if"))
        #expect(page.contains("<td>HAPPY_DIR</td>"))
        #expect(!page.contains("<script"))
    }

    @Test("An agent at work: state, sources with ages, live sessions; every value escaped")
    func working() {
        var snapshot = ActivitySnapshot(startTime: Timestamp(seconds: 9_000))
        snapshot.directoriesPresent = Array(repeating: true, count: RootDirectory.allCases.count)
        snapshot.newest[.transcripts] = Activity(time: Timestamp(seconds: 9_990), path: "/t.jsonl")
        snapshot.newest[.history] = Activity(time: Timestamp(seconds: 7_000), path: "/h")
        snapshot.files[.transcripts] = 3
        snapshot.sessions = 2
        snapshot.liveSessions = [
            LiveSession(
                pid: 42,
                sessionID: "s-1",
                status: .busy,
                rawStatus: "busy",
                cwd: "/repo/<script>alert(1)</script>"
            )
        ]
        let page = StatusPage.html(snapshot, at: Timestamp(seconds: 10_000), context(pod: "agent-0", repository: "o/r"))
        #expect(page.contains("Agent agent-0 (o/r) is active: last activity 10 s ago (transcripts)"))
        #expect(page.contains("<td>history</td><td>50 min ago</td>"))
        #expect(page.contains("<td>happy_logs</td><td>none yet</td>"))
        #expect(page.contains("/repo/&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.contains("<script>"))
        #expect(!page.contains("waiting for /home"))
        #expect(page.contains("2 session transcripts."))
    }
}
