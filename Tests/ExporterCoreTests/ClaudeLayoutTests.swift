import Testing

@testable import ExporterCore

@Suite("What counts as a session and as activity")
struct ClaudeLayoutTests {
    @Test(
        "Session transcripts: <uuid>.jsonl and session-*.jsonl",
        arguments: [
            "0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl",
            "0B5E2C1A-1234-4ABC-9DEF-0123456789AB.jsonl",
            "session-1.jsonl",
            "session-abc.jsonl",
        ]
    )
    func sessions(name: String) {
        #expect(ClaudeLayout.isSession(name))
        #expect(ClaudeLayout.isTranscript(name))
    }

    @Test(
        "Not sessions: subagents, other names, other extensions, hidden files",
        arguments: [
            "agent-0b5e2c1a.jsonl",
            "agent-0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl",
            "notes.jsonl",
            "0b5e2c1a-1234-4abc-9def-0123456789ab.json",
            "0b5e2c1a-1234-4abc-9def-0123456789ab.meta.json",
            "0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl.tmp",
            ".0b5e2c1a-1234-4abc-9def-0123456789ab.jsonl",
            "0b5e2c1a-1234-4abc-9def-0123456789a.jsonl",
            "0b5e2c1a_1234-4abc-9def-0123456789ab.jsonl",
            "0b5e2c1a-1234-4abc-9def-0123456789ag.jsonl",
            ".jsonl",
            "session-1.log",
        ]
    )
    func notSessions(name: String) {
        #expect(!ClaudeLayout.isSession(name))
    }

    @Test("Transcripts are any visible *.jsonl; subagent transcripts are activity but not sessions")
    func transcripts() {
        #expect(ClaudeLayout.isTranscript("agent-1.jsonl"))
        #expect(ClaudeLayout.isTranscript("notes.jsonl"))
        #expect(!ClaudeLayout.isTranscript(".hidden.jsonl"))
        #expect(!ClaudeLayout.isTranscript("x.meta.json"))
        #expect(!ClaudeLayout.isTranscript(".jsonl"))
    }

    @Test("Happy logs are visible *.log files")
    func happyLogs() {
        guard case .files(let pattern) = ActivitySource.happyLogs.layout else {
            Issue.record("happy_logs is declared as a file pattern")
            return
        }
        #expect(pattern.files.matches("2026-11-25-12-00-00-pid-123.log"))
        #expect(!pattern.files.matches(".x.log"))
        #expect(!pattern.files.matches("x.log.1"))
        #expect(!pattern.files.matches(".log"))
    }

    @Test("Session folders are UUID-named")
    func sessionFolders() {
        #expect(ClaudeLayout.isSessionDirectory("0b5e2c1a-1234-4abc-9def-0123456789ab"))
        #expect(!ClaudeLayout.isSessionDirectory("memory"))
        #expect(!ClaudeLayout.isSessionDirectory("tool-results"))
    }

    @Test("Name hashes are stable FNV-1a and tell names apart")
    func hashes() {
        #expect(ClaudeLayout.nameHash("") == 0xcbf2_9ce4_8422_2325)
        #expect(ClaudeLayout.nameHash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(ClaudeLayout.nameHash("a.jsonl") != ClaudeLayout.nameHash("b.jsonl"))
    }
}
