import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A realistic session: several responses, each written as one line per content block (the first blocks with the
/// output counted so far), a subagent, a resumed session copying earlier lines, and lines that count nothing.
private struct Session {
    struct Response {
        var id: String
        var request: String
        var model: String
        var input: Int
        var output: Int
        var cacheCreation: Int
        var cacheRead: Int
        var blocks: Int
    }

    static func lines(_ response: Response) -> String {
        (0..<response.blocks).map { block in
            // Earlier blocks carry the output counted so far, the last the final count (largest wins).
            let output = block == response.blocks - 1 ? response.output : 1
            let content =
                block == 0
                ? #"{"type":"text","text":"Here is \"usage\":{\"input_tokens\":999999} in a string"}"#
                : #"{"type":"tool_use","id":"toolu_\#(block)","name":"Bash","input":{"command":"make test"}}"#
            return #"{"parentUuid":"p","isSidechain":false,"type":"assistant","message":{"model":"\#(response.model)","#
                + #""id":"\#(response.id)","type":"message","role":"assistant","content":[\#(content)],"stop_reason":null,"#
                + #""usage":{"input_tokens":\#(response.input),"cache_creation_input_tokens":\#(response.cacheCreation),"#
                + #""cache_read_input_tokens":\#(response.cacheRead),"cache_creation":{"ephemeral_5m_input_tokens":0},"#
                + #""output_tokens":\#(output),"service_tier":"standard"}},"requestId":"\#(response.request)","#
                + #""uuid":"u\#(block)","timestamp":"2026-08-01T04:50:4\#(block % 10).628Z","version":"2.1.3"}"# + "\n"
        }.joined()
    }

    static let user =
        #"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"ok"}]},"timestamp":"2026-08-01T04:50:40.000Z"}"#
        + "\n"
}

@Suite("Token usage on the real binary", .serialized)
struct TokenUsageIntegrationTests {
    private func series(_ model: String, _ type: String) -> String {
        #"claude_tokens_total{pod="unknown",repository="unknown",model="\#(model)",type="\#(type)"}"#
    }
    private func messages(_ model: String) -> String {
        #"claude_assistant_messages_total{pod="unknown",repository="unknown",model="\#(model)"}"#
    }
    private let ready = #"claude_exporter_usage_ready{pod="unknown"}"#

    @Test("History, then live appends, a resume copy and a partial line: every counter equals an independent sum")
    func realisticSession() async throws {
        let tree = try TemporaryTree()
        let session = uuid()
        let slug = ".claude/projects/-home-agent-repo"
        var responses: [Session.Response] = []
        for index in 0..<6 {
            responses.append(
                Session.Response(
                    id: "msg_\(index)",
                    request: "req_\(index)",
                    model: index % 3 == 2 ? "claude-haiku-4-5" : "claude-opus-4-5",
                    input: 3 + index,
                    output: 100 * (index + 1),
                    cacheCreation: 1000 + index,
                    cacheRead: 20_000 * index,
                    blocks: 1 + index % 3
                )
            )
        }
        // History: three responses in the main transcript, one in a subagent's.
        try tree.append("\(slug)/\(session).jsonl", Session.user + responses[0..<3].map(Session.lines).joined())
        try tree.append("\(slug)/\(session)/subagents/agent-a1b2.jsonl", Session.lines(responses[3]))
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])

        func expect(_ counted: ArraySlice<Session.Response>, _ label: String) async throws {
            let models = Set(counted.map(\.model))
            try await exporter.waitForMetrics(label, timeout: 10) { metrics in
                models.allSatisfy { model in
                    let mine = counted.filter { $0.model == model }
                    return metrics[series(model, "input")] == Double(mine.map(\.input).reduce(0, +))
                        && metrics[series(model, "output")] == Double(mine.map(\.output).reduce(0, +))
                        && metrics[series(model, "cache_creation")] == Double(mine.map(\.cacheCreation).reduce(0, +))
                        && metrics[series(model, "cache_read")] == Double(mine.map(\.cacheRead).reduce(0, +))
                        && metrics[messages(model)] == Double(mine.count)
                }
            }
        }
        try await exporter.waitForMetrics("history read") { $0[ready] == 1 }
        try await expect(responses[0..<4], "history counted")

        // Live: a resumed session copies two old responses and adds a new one; a partial line waits.
        let resumed = uuid()
        try tree.append(
            "\(slug)/\(resumed).jsonl",
            Session.lines(responses[1]) + Session.lines(responses[2]) + Session.lines(responses[4])
        )
        try await expect(responses[0..<5], "resume counted once")
        let last = Session.lines(responses[5])
        let cut = last.utf8.firstIndex(of: UInt8(ascii: "\n"))!.utf16Offset(in: last) / 2  // inside its first line
        try tree.append("\(slug)/\(session).jsonl", String(last.prefix(cut)))
        try await Task.sleep(for: .milliseconds(300))
        try await expect(responses[0..<5], "partial line not counted")
        try tree.append("\(slug)/\(session).jsonl", String(last.dropFirst(cut)))
        try await expect(responses[0..<6], "completed line counted")
        let metrics = try exporter.metrics()
        #expect(metrics[#"claude_exporter_transcript_lines_skipped_total{pod="unknown",reason="malformed"}"#] == 0)
    }

    @Test("Usage families wait for the history; USAGE_METRICS=off opens no transcript and renders none")
    func readyAndOff() async throws {
        let tree = try TemporaryTree()
        let response = Session.Response(
            id: "m",
            request: "r",
            model: "claude-opus-4-5",
            input: 1,
            output: 2,
            cacheCreation: 3,
            cacheRead: 4,
            blocks: 1
        )
        try tree.append(".claude/projects/-r/\(uuid()).jsonl", Session.lines(response) + "{\"usage\": broken\n")
        let on = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        try await on.waitForMetrics("counted") { $0[ready] == 1 && $0[series("claude-opus-4-5", "output")] == 2 }
        #expect(
            try on.metrics()[#"claude_exporter_transcript_lines_skipped_total{pod="unknown",reason="malformed"}"#] == 1
        )
        let off = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "USAGE_METRICS": "off"]
        )
        let metrics = try off.metrics()
        #expect(metrics[ready] == nil)
        #expect(!metrics.keys.contains { $0.hasPrefix("claude_tokens_total") })
        #expect(metrics[Series.sessions] == 1)
        let (status, _, error) = try runExporter(["--usage-metrics", "maybe"])
        #expect(status == 78)
        #expect(error.contains("USAGE_METRICS") || error.contains("--usage-metrics"))
        #expect(error.contains("expected on or off"))
    }

    @Test("The context gauge follows a live registry session's transcript")
    func liveContext() async throws {
        let tree = try TemporaryTree()
        let claude = try FakeClaude(claudeDirectory: tree.claude, sessionID: uuid())
        let transcript = ".claude/projects/-home-agent-repo/\(claude.sessionID).jsonl"
        let first = Session.Response(
            id: "m1",
            request: "r1",
            model: "claude-opus-4-5",
            input: 5,
            output: 9,
            cacheCreation: 50,
            cacheRead: 500,
            blocks: 2
        )
        try tree.append(transcript, Session.lines(first))
        try claude.write("busy")
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let gauge =
            #"claude_session_context_tokens{pod="unknown",repository="unknown",session_id="\#(claude.sessionID)"}"#
        try await exporter.waitForMetrics("context of the live session") { $0[gauge] == 555 }
        var next = first
        (next.id, next.request, next.input, next.cacheCreation, next.cacheRead) = ("m2", "r2", 1, 0, 2000)
        try tree.append(transcript, Session.lines(next))
        try await exporter.waitForMetrics("context follows the newest response") { $0[gauge] == 2001 }
        claude.crash()
        try await exporter.waitForMetrics("gone with the session") { $0[gauge] == nil }
    }
}
