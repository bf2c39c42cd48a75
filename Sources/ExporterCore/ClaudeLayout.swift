/// The rules for what, in Claude Code's directory, is a session and what is a transcript (the names of the
/// simpler sources are in their declarations, ``ActivitySource``).
///
/// Everything is decided from names alone, so a rescan needs no reads and the rules can be tested
/// without a filesystem. Names starting with `.` never count (as a shell glob would not match them;
/// editors and atomic writers use such names for temporary files).
public enum ClaudeLayout {
    public static let projects = "projects"
    public static let history = "history.jsonl"
    public static let subagents = "subagents"
    public static let happyLogs = "logs"
    public static let sessions = "sessions"
    /// Registry files are a few hundred bytes; anything larger than this is skipped.
    public static let registryFileLimit = 64 * 1024

    /// A transcript: `*.jsonl` directly in a project folder or in a `subagents/` folder.
    public static func isTranscript(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.count > 6 && name[0] != UInt8(ascii: ".") && hasSuffix(name, jsonl)
    }

    /// A session transcript, counted by `claude_sessions_total`: `<uuid>.jsonl` (what Claude Code writes)
    /// or `session-*.jsonl` (the original design's name). Never `agent-*.jsonl` (subagents).
    public static func isSession(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard isTranscript(name) else { return false }
        if name.starts(with: sessionPrefix) { return true }
        return name.count == 42 && isUUID(UnsafeBufferPointer(rebasing: name[0..<36]))
    }

    /// A per-session folder, `projects/<slug>/<uuid>/`, which may hold `subagents/`.
    public static func isSessionDirectory(_ name: UnsafeBufferPointer<UInt8>) -> Bool { isUUID(name) }

    /// A session-registry file: `*.json` directly in `$CLAUDE_DIR/sessions/` (not hidden).
    public static func isRegistryFile(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.count > 5 && name[0] != UInt8(ascii: ".") && hasSuffix(name, json)
    }

    /// For listings that need no `stat` at all.
    public static func never(_ name: UnsafeBufferPointer<UInt8>) -> Bool { false }

    // The same rules for names held as `String` (inotify events, tests).
    public static func isTranscript(_ name: String) -> Bool { bytes(of: name, isTranscript) }
    public static func isSession(_ name: String) -> Bool { bytes(of: name, isSession) }
    public static func isSessionDirectory(_ name: String) -> Bool { bytes(of: name, isSessionDirectory) }
    public static func isRegistryFile(_ name: String) -> Bool { bytes(of: name, isRegistryFile) }
    public static func nameHash(_ name: String) -> UInt64 { bytes(of: name, nameHash) }

    private static let jsonl = Array(".jsonl".utf8)
    private static let json = Array(".json".utf8)
    private static let sessionPrefix = Array("session-".utf8)

    private static func bytes<Result>(of name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var name = name
        return name.withUTF8(body)
    }

    private static func hasSuffix(_ name: UnsafeBufferPointer<UInt8>, _ suffix: [UInt8]) -> Bool {
        guard name.count >= suffix.count else { return false }
        let offset = name.count - suffix.count
        for index in 0..<suffix.count where name[offset + index] != suffix[index] { return false }
        return true
    }

    /// `8-4-4-4-12` hexadecimal digits, either case.
    public static func isUUID(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 36 else { return false }
        for index in 0..<36 {
            let byte = bytes[index]
            if index == 8 || index == 13 || index == 18 || index == 23 {
                if byte != UInt8(ascii: "-") { return false }
            } else if hexDigits[Int(byte)] == 0 {
                return false
            }
        }
        return true
    }

    private static let hexDigits: [UInt8] = (0...255).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            1
        default: 0
        }
    }

    /// A stable 64-bit FNV-1a hash of a file name: what the state keeps per file instead of the name,
    /// so 100,000 files cost under 2 MB.
    public static func nameHash(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}

/// Fixed folder names of the other agents' layouts (their sources are declared in ``ActivitySource``).
public enum AgentLayout {
    /// `$CODEX_DIR/sessions/`: the rollouts, by day.
    public static let codexSessions = "sessions"
    /// `$GEMINI_DIR/tmp/`: a folder per project.
    public static let geminiTemporary = "tmp"
    /// `$GEMINI_DIR/tmp/<project>/chats/`: the project's chat sessions.
    public static let geminiChats = "chats"
}
