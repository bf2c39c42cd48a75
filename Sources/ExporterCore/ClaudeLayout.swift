/// The rules for what, in Claude Code's and Happy's directories, is a session and what is activity.
///
/// Everything is decided from names alone, so a rescan needs no reads and the rules can be tested
/// without a filesystem. Names starting with `.` never count (as a shell glob would not match them;
/// editors and atomic writers use such names for temporary files).
public enum ClaudeLayout {
    public static let projects = "projects"
    public static let history = "history.jsonl"
    public static let subagents = "subagents"
    public static let happyLogs = "logs"

    /// A transcript: `*.jsonl` directly in a project folder or in a `subagents/` folder.
    public static func isTranscript(_ name: String) -> Bool {
        hasSuffix(name, ".jsonl") && name.utf8.count > 6 && name.utf8.first != UInt8(ascii: ".")
    }

    /// `history.jsonl`, the one file directly in the Claude directory that is activity.
    public static func isHistory(_ name: String) -> Bool { name == history }

    /// For listings that need no `stat` at all.
    public static func never(_ name: String) -> Bool { false }

    /// A session transcript, counted by `claude_sessions_total`: `<uuid>.jsonl` (what Claude Code writes)
    /// or `session-*.jsonl` (the original design's name). Never `agent-*.jsonl` (subagents).
    public static func isSession(_ name: String) -> Bool {
        guard isTranscript(name) else { return false }
        if hasPrefix(name, "session-") { return true }
        return isUUID(name.utf8.dropLast(6))
    }

    /// A per-session folder, `projects/<slug>/<uuid>/`, which may hold `subagents/`.
    public static func isSessionDirectory(_ name: String) -> Bool { isUUID(name.utf8) }

    /// A Happy log: `*.log` directly in `$HAPPY_DIR/logs`.
    public static func isHappyLog(_ name: String) -> Bool {
        hasSuffix(name, ".log") && name.utf8.count > 4 && name.utf8.first != UInt8(ascii: ".")
    }

    /// `8-4-4-4-12` hexadecimal digits, either case.
    public static func isUUID(_ bytes: some Collection<UInt8>) -> Bool {
        guard bytes.count == 36 else { return false }
        for (offset, byte) in bytes.enumerated() {
            switch offset {
            case 8, 13, 18, 23:
                if byte != UInt8(ascii: "-") { return false }
            default:
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                    UInt8(ascii: "A")...UInt8(ascii: "F"):
                    break
                default: return false
                }
            }
        }
        return true
    }

    /// A stable 64-bit FNV-1a hash of a file name: what the state keeps per file instead of the name,
    /// so 100,000 files cost under 2 MB.
    public static func nameHash(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func hasSuffix(_ name: String, _ suffix: String) -> Bool {
        name.utf8.count >= suffix.utf8.count && name.utf8.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
    }

    static func hasPrefix(_ name: String, _ prefix: String) -> Bool {
        name.utf8.starts(with: prefix.utf8)
    }
}
