import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("/-/drain with the real binary")
struct DrainIntegrationTests {
    @Test("A busy agent holds the drain; it returns once the agent is idle and quiet; a timeout says what it waits for")
    func drainFollowsTheAgent() async throws {
        let tree = try TemporaryTree()
        try FileManager.default.createDirectory(atPath: tree.claude + "/sessions", withIntermediateDirectories: true)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "DRAIN_QUIET_SECONDS": "1",
        ])
        // A child process plays Claude, with its real pid and start time.
        let claude = try FakeClaude(claudeDirectory: tree.claude, sessionID: "s-drain")
        let pid = claude.pid
        func write(_ status: String) throws { try claude.write(status) }
        try write("busy")
        try await exporter.waitForMetrics("busy") {
            $0[#"claude_agent_sessions{pod="unknown",repository="unknown",status="busy"}"#] == 1
        }

        // Busy: a drain with a short timeout gives up and says why.
        let short = try #require(try RawHTTPClient.get("/-/drain?timeout=0.5", port: exporter.port))
        #expect(short.status == 503)
        #expect(short.body.contains("pid \(pid)") && short.body.contains("busy"), "\(short.body)")

        // The kubelet's preStop: held while busy (and while waiting for a human), answered once idle and quiet.
        let drain = try RawHTTPClient(port: exporter.port, timeoutSeconds: 60)
        drain.send("GET /-/drain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try await exporter.waitForMetrics("the drain parked") { $0["claude_exporter_drain_requests_waiting"] == 1 }
        try write("waiting")
        try await Task.sleep(for: .seconds(2))
        try await exporter.waitForMetrics("still parked while waiting for a human") {
            $0["claude_exporter_drain_requests_waiting"] == 1
        }
        try write("idle")
        let response = try #require(drain.readResponse())
        #expect(response.status == 200)
        #expect(response.body.contains("between turns"))
        #expect(exporter.log.contains("drain waiting") && exporter.log.contains("drain done"))
        try await exporter.waitForMetrics("none parked") { $0["claude_exporter_drain_requests_waiting"] == 0 }
    }

    @Test("/-/healthy answers as /health; /-/ready answers once serving")
    func conventionEndpoints() async throws {
        let tree = try TemporaryTree()
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let healthy = try #require(try RawHTTPClient.get("/-/healthy", port: exporter.port))
        #expect(healthy.status == 200 && healthy.body == "OK")
        let ready = try #require(try RawHTTPClient.get("/-/ready", port: exporter.port))
        #expect(ready.status == 200 && ready.body == "ready\n")
        #expect(try RawHTTPClient.get("/-/drain?timeout=x", port: exporter.port)?.status == 400)
        #expect(try RawHTTPClient.get("/-/drain", port: exporter.port)?.status == 200, "nothing to wait for")
    }
}
