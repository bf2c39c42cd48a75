import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The session registry with a real process")
struct SessionRegistryIntegrationTests {
    @Test("--once shows the live entries on standard error and counts them in the metrics")
    func onceShowsLiveEntries() throws {
        let tree = try TemporaryTree()
        let pid = getpid()  // this test process plays Claude
        try tree.append(
            ".claude/sessions/\(pid).json",
            #"{"pid":\#(pid),"sessionId":"s-1","cwd":"/repo","status":"waiting","procStart":"\#(try startTicks(pid))"}"#
        )
        let (status, output, error) = try runExporter([
            "--once", "--claude-dir", tree.claude, "--happy-dir", tree.happy,
        ])
        #expect(status == 0)
        #expect(error.contains("live session: pid \(pid) status waiting session s-1 cwd /repo"), "stderr: \(error)")
        let samples = metricSamples(output)
        #expect(samples[#"claude_agent_sessions{pod="unknown",repository="unknown",status="waiting"}"#] == 1)
        #expect(samples[Series.active] == 1)
    }

    @Test("A child process plays Claude: busy, waiting, idle, exit; the metrics follow each step")
    func childProcess() async throws {
        let tree = try TemporaryTree()
        try FileManager.default.createDirectory(atPath: tree.claude + "/sessions", withIntermediateDirectories: true)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "IDLE_TIMEOUT_MINUTES": "0.02",
        ])
        let claude = try FakeClaude(claudeDirectory: tree.claude)
        func write(_ status: String) throws { try claude.write(status) }
        func sessions(_ status: String) -> String {
            #"claude_agent_sessions{pod="unknown",repository="unknown",status="\#(status)"}"#
        }

        try write("busy")
        try await exporter.waitForMetrics("busy counted and active", timeout: 2) {
            $0[sessions("busy")] == 1 && $0[Series.active] == 1
        }
        // Busy is activity now, at every scrape, however long the tool runs.
        let stamp = try #require(try exporter.metrics()[Series.timestamp])
        #expect(abs(stamp - Date().timeIntervalSince1970) < 5)

        try write("waiting")
        try await exporter.waitForMetrics("waiting counted, still active", timeout: 2) {
            $0[sessions("waiting")] == 1 && $0[sessions("busy")] == 0 && $0[Series.active] == 1
        }

        try write("idle")
        try await exporter.waitForMetrics("idle counted", timeout: 2) {
            $0[sessions("idle")] == 1 && $0[sessions("waiting")] == 0
        }
        try await exporter.waitForMetrics("inactive after the 1.2 s timeout", timeout: 5) { $0[Series.active] == 0 }

        try write("busy")
        try await exporter.waitForMetrics("busy again", timeout: 2) { $0[Series.active] == 1 }
        // Killed, as a crash would end it: the file stays behind.
        claude.crash()
        // The process is gone but its file says busy: it must not keep the agent active.
        try await exporter.waitForMetrics("exited process uncounted", timeout: 2) {
            $0[sessions("busy")] == 0 && $0[sessions("idle")] == 0
        }
        try await exporter.waitForMetrics("inactive after exit and timeout", timeout: 5) { $0[Series.active] == 0 }
        let page = try #require(try RawHTTPClient.get("/", port: exporter.port))
        #expect(page.body.contains("No live Claude Code process"))
        #expect(exporter.log.contains("agent session status"))
        #expect(exporter.log.contains("session_id=0b5e2c1a-1234-4abc-9def-0123456789ab"))
    }
}
