import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A child process (`sleep`) that plays Happy: its real pid in its log's name, lines as Happy's logger writes them.
private final class FakeHappy {
    let process = Process()
    let log: String

    init(tree: borrowing TemporaryTree) throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["120"]
        try process.run()
        log = ".happy/logs/2026-12-02-10-00-00-pid-\(process.processIdentifier).log"
    }

    var pid: Int32 { process.processIdentifier }

    func crash() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    deinit { crash() }
}

@Suite("Happy's thinking state on the real binary", .serialized)
struct HappyStateIntegrationTests {
    private let thinking = #"claude_happy_sessions{pod="unknown",repository="unknown",state="thinking"}"#
    private let idle = #"claude_happy_sessions{pod="unknown",repository="unknown",state="idle"}"#

    private func line(_ text: String) -> String {
        let now = Date()
        let parts = Calendar.current.dateComponents([.hour, .minute, .second, .nanosecond], from: now)
        let stamp = String(
            format: "[%02d:%02d:%02d.%03d]",
            parts.hour!,
            parts.minute!,
            parts.second!,
            parts.nanosecond! / 1_000_000
        )
        return "\(stamp) \(text) \n"
    }

    @Test(
        "Thinking longer than the idle timeout keeps the agent active; false lets it go idle; a crash while thinking too"
    )
    func thinkingIdleCrash() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        let happy = try FakeHappy(tree: tree)
        try tree.append(happy.log, line("[API MACHINE] Keep-alive started (20s interval)"))
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "IDLE_TIMEOUT_MINUTES": "0.05",
        ])
        try await exporter.waitForMetrics("idle before any thinking", timeout: 10) {
            $0[Series.active] == 0 && $0[idle] == 1
        }
        try tree.append(happy.log, line("[claudeRemote] Thinking state changed to: true"))
        try await exporter.waitForMetrics("thinking seen", timeout: 2) { $0[Series.active] == 1 && $0[thinking] == 1 }
        // Five seconds of a long tool run: the transcripts are quiet, the log gets only other lines.
        for second in 0..<5 {
            try await Task.sleep(for: .seconds(1))
            try tree.append(happy.log, line("[claudeRemote] Tool call \(second) still running"))
            #expect(try exporter.metrics()[Series.active] == 1, "active while thinking, second \(second)")
        }
        try tree.append(happy.log, line("[claudeRemote] Thinking state changed to: false"))
        try await exporter.waitForMetrics("stopped thinking", timeout: 2) { $0[thinking] == 0 && $0[idle] == 1 }
        try await exporter.waitForMetrics("idle after the timeout (3 s)", timeout: 8) { $0[Series.active] == 0 }

        try tree.append(happy.log, line("[claudeRemote] Thinking state changed to: true"))
        try await exporter.waitForMetrics("thinking again", timeout: 2) { $0[Series.active] == 1 && $0[thinking] == 1 }
        happy.crash()
        try await exporter.waitForMetrics("the crashed process no longer counts", timeout: 3) {
            $0[thinking] == 0 && $0[idle] == 0
        }
        try await exporter.waitForMetrics("idle once the timeout passed", timeout: 8) { $0[Series.active] == 0 }
    }
}
