import Logging
import Testing

@testable import Systemd

@Suite("Journal fields")
struct JournalLogHandlerTests {
    @Test(
        "Metadata keys become valid upper-case journal field names",
        arguments: [
            ("source", "SOURCE"), ("path", "PATH"), ("sessions", "SESSIONS"), ("session_id", "SESSION_ID"),
            ("duration_ms", "DURATION_MS"), ("max-user.watches", "MAX_USER_WATCHES"), ("_private", "PRIVATE"),
            ("2fast", "F2FAST"), ("", "F"), ("message", "META_MESSAGE"), ("priority", "META_PRIORITY"),
            ("é", "F"), (String(repeating: "a", count: 80), String(repeating: "A", count: 64)),
        ]
    )
    func fieldNames(key: String, expected: String) {
        #expect(JournalLogHandler.fieldName(key) == expected)
    }

    @Test("Levels map to syslog priorities, so journalctl -p warning works")
    func priorities() {
        #expect(JournalLogHandler.priority(.debug) == 7)
        #expect(JournalLogHandler.priority(.info) == 6)
        #expect(JournalLogHandler.priority(.notice) == 5)
        #expect(JournalLogHandler.priority(.warning) == 4)
        #expect(JournalLogHandler.priority(.error) == 3)
        #expect(JournalLogHandler.priority(.critical) == 2)
    }

    @Test("The journal is used only when JOURNAL_STREAM names standard error")
    func journalStream() {
        #expect(!JournalLogHandler.standardErrorIsJournal(nil))
        #expect(!JournalLogHandler.standardErrorIsJournal("garbage"))
        #expect(!JournalLogHandler.standardErrorIsJournal("1:2"))
        #expect(JournalLogHandler(identifier: "x", logLevel: .info, environment: ["JOURNAL_STREAM": "1:2"]) == nil)
    }
}
