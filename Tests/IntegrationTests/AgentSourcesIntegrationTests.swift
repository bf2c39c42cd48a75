import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Codex's and Gemini CLI's session files on the real binary: written as those agents write them, seen within 2 s,
/// idle after the timeout. The idle timeout is 12 s, not 3: on a loaded machine one poll can come seconds after
/// the write, and a 3 s timeout had the agent idle again before the test looked.
@Suite("Codex and Gemini CLI sessions on the real binary", .serialized)
struct AgentSourcesIntegrationTests {
    private func transcripts(_ agent: String) -> String {
        #"claude_agent_transcripts{pod="unknown",repository="unknown",agent="\#(agent)"}"#
    }

    /// Sets a file's modification time `seconds` into the past.
    private func age(_ path: String, seconds: Double) throws {
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -seconds)],
            ofItemAtPath: path
        )
    }

    /// A day folder as Codex names it, in local time.
    private func dayFolder(_ date: Date) -> String {
        let parts = Calendar.current.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d/%02d/%02d", parts.year!, parts.month!, parts.day!)
    }

    @Test("Codex: an append to a rollout is active within 2 s, idle after the timeout; a new day's folder too")
    func codex() async throws {
        let tree = try TemporaryTree()
        let codex = tree.root + "/.codex"
        let yesterday = "sessions/\(dayFolder(Date(timeIntervalSinceNow: -86_400)))"
        let rollout = "\(yesterday)/rollout-2026-12-01T23-59-00-\(uuid()).jsonl"
        try tree.append(".codex/" + rollout, #"{"timestamp":"2026-12-01T23:59:00.000Z","type":"session_meta"}"# + "\n")
        try age(codex + "/" + rollout, seconds: 3600)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "CODEX_DIR": codex,
            "GEMINI_DIR": tree.root + "/.gemini", "IDLE_TIMEOUT_MINUTES": "0.2",
        ])
        try await exporter.waitForMetrics("idle, one Codex transcript", timeout: 10) {
            $0[Series.active] == 0 && $0[transcripts("codex")] == 1 && $0[Series.files("codex")] == 1
        }
        try tree.append(".codex/" + rollout, #"{"type":"event_msg","payload":{"type":"agent_message"}}"# + "\n")
        try await exporter.waitForMetrics("active after an append", timeout: 2) {
            $0[Series.active] == 1 && ($0[Series.source("codex")] ?? 0) > Date().timeIntervalSince1970 - 60
        }
        try await exporter.waitForMetrics("idle after the timeout (12 s)", timeout: 25) { $0[Series.active] == 0 }

        // A session started on a new day: Codex creates the day's folder, then the rollout in it.
        let today = "sessions/\(dayFolder(Date()))/rollout-2026-12-02T00-00-01-\(uuid()).jsonl"
        try tree.append(".codex/" + today, #"{"type":"session_meta"}"# + "\n")
        try await exporter.waitForMetrics("active from the new day's rollout", timeout: 2) {
            $0[Series.active] == 1 && $0[transcripts("codex")] == 2
        }
        #expect(try exporter.metrics()[Series.sessions] == 0, "claude_sessions_total stays Claude Code's")
        #expect(await exporter.stop() == 0)
    }

    @Test("Gemini CLI: a chat rewritten by rename, or appended, is active within 2 s, idle after the timeout")
    func gemini() async throws {
        let tree = try TemporaryTree()
        let gemini = tree.root + "/.gemini"
        let chats = "tmp/0f3a9c51d2e7/chats"
        let chat = "\(chats)/session-2026-12-02T09-00-abcd1234.json"
        try tree.append(".gemini/" + chat, #"{"sessionId":"abcd1234","messages":[]}"#)
        try tree.append(".gemini/tmp/0f3a9c51d2e7/logs.json", "[]")
        try age(gemini + "/" + chat, seconds: 3600)
        try age(gemini + "/tmp/0f3a9c51d2e7/logs.json", seconds: 3600)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "CODEX_DIR": tree.root + "/.codex",
            "GEMINI_DIR": gemini, "IDLE_TIMEOUT_MINUTES": "0.2",
        ])
        try await exporter.waitForMetrics("idle, one Gemini chat", timeout: 10) {
            $0[Series.active] == 0 && $0[transcripts("gemini")] == 1
        }
        // Gemini's project log is not activity.
        try tree.append(".gemini/tmp/0f3a9c51d2e7/logs.json", " ")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try exporter.metrics()[Series.active] == 0, "logs.json counted as activity")

        // The whole chat written to a temporary file, then renamed over the old one.
        let temporary = gemini + "/" + chat + ".tmp"
        try Data(#"{"sessionId":"abcd1234","messages":[{"type":"user"}]}"#.utf8).write(
            to: URL(fileURLWithPath: temporary)
        )
        #expect(rename(temporary, gemini + "/" + chat) == 0)
        try await exporter.waitForMetrics("active after the rewrite", timeout: 2) {
            $0[Series.active] == 1 && $0[transcripts("gemini")] == 1
        }
        try await exporter.waitForMetrics("idle after the timeout (12 s)", timeout: 25) { $0[Series.active] == 0 }

        // Newer versions append to a .jsonl chat.
        let jsonl = "\(chats)/session-2026-12-02T10-00-ef567890.jsonl"
        try tree.append(".gemini/" + jsonl, #"{"sessionId":"ef567890"}"# + "\n")
        try await exporter.waitForMetrics("active from a new .jsonl chat", timeout: 2) {
            $0[Series.active] == 1 && $0[transcripts("gemini")] == 2
        }
        try await exporter.waitForMetrics("idle again", timeout: 25) { $0[Series.active] == 0 }
        try tree.append(".gemini/" + jsonl, #"{"id":"m1","type":"gemini"}"# + "\n")
        try await exporter.waitForMetrics("active after an append", timeout: 2) { $0[Series.active] == 1 }
        #expect(await exporter.stop() == 0)
    }

    @Test("Codex: token_count events feed the token counters, with the model of the turn_context before them")
    func codexTokens() async throws {
        let tree = try TemporaryTree()
        let codex = tree.root + "/.codex"
        let rollout = ".codex/sessions/\(dayFolder(Date()))/rollout-2026-12-02T09-00-00-\(uuid()).jsonl"
        func event(_ input: Int, _ cached: Int, _ output: Int) -> String {
            #"{"timestamp":"2026-12-02T09:00:01.000Z","type":"event_msg","payload":{"type":"token_count","info":"#
                + #"{"last_token_usage":{"input_tokens":\#(input),"cached_input_tokens":\#(cached),"#
                + #""output_tokens":\#(output),"reasoning_output_tokens":0,"total_tokens":\#(input + output)}}}}"#
                + "\n"
        }
        let context =
            #"{"timestamp":"2026-12-02T09:00:00.000Z","type":"turn_context","payload":{"model":"gpt-5-codex"}}"#
        try tree.append(rollout, context + "\n" + event(1_000, 400, 100))
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "CODEX_DIR": codex,
            "GEMINI_DIR": tree.root + "/.gemini",
        ])
        func tokens(_ type: String) -> String {
            #"claude_tokens_total{pod="unknown",repository="unknown",model="gpt-5-codex",type="\#(type)"}"#
        }
        let messages = #"claude_assistant_messages_total{pod="unknown",repository="unknown",model="gpt-5-codex"}"#
        try await exporter.waitForMetrics("the history counted", timeout: 10) {
            $0[tokens("input")] == 600 && $0[tokens("cache_read")] == 400 && $0[tokens("output")] == 100
                && $0[messages] == 1
        }
        try tree.append(rollout, event(50, 0, 7))
        try await exporter.waitForMetrics("an appended event counted", timeout: 5) {
            $0[tokens("input")] == 650 && $0[tokens("output")] == 107 && $0[messages] == 2
        }
        #expect(await exporter.stop() == 0)
    }

    @Test("CLAUDE_DIR as a list: sessions, activity and token usage of both directories, one appearing later")
    func claudeDirectoryList() async throws {
        let tree = try TemporaryTree()
        let second = tree.root + "/.config/claude"
        let usageLine =
            #"{"type":"assistant","timestamp":"2026-12-02T09:00:00.000Z","requestId":"req_1","message":{"id":"msg_1","#
            + #""model":"claude-opus-4-5","usage":{"input_tokens":3,"output_tokens":40}}}"# + "\n"
        let first = ".claude/projects/-repo/\(uuid()).jsonl"
        try tree.append(first, usageLine)
        try age(tree.root + "/" + first, seconds: 3600)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": "\(tree.claude),\(second)", "HAPPY_DIR": tree.happy, "CODEX_DIR": tree.root + "/.codex",
            "GEMINI_DIR": tree.root + "/.gemini", "IDLE_TIMEOUT_MINUTES": "0.2",
        ])
        let output = #"claude_tokens_total{pod="unknown",repository="unknown",model="claude-opus-4-5",type="output"}"#
        try await exporter.waitForMetrics("one session, idle, its usage counted", timeout: 10) {
            $0[Series.sessions] == 1 && $0[Series.active] == 0 && $0[output] == 40
        }
        #expect(exporter.log.contains("waiting for \(second) to be created"))
        // The second directory appears (Claude Code creates it whole), with a session writing into it.
        let other = ".config/claude/projects/-repo/\(uuid()).jsonl"
        try tree.append(other, usageLine.replacingOccurrences(of: "msg_1", with: "msg_2"))
        try await exporter.waitForMetrics("its session counted and active", timeout: 2) {
            $0[Series.sessions] == 2 && $0[Series.active] == 1
        }
        try await exporter.waitForMetrics("its usage added", timeout: 5) { $0[output] == 80 }
        #expect(await exporter.stop() == 0)
    }
}
