/// What a line of Happy's per-process log says about its agent (slopus/happy-cli `src/ui/logger.ts`: every
/// `logger.debug` call appends `[HH:MM:SS.mmm] <message> <args>\n` to `$HAPPY_HOME_DIR/logs/<local date-time>-pid-<pid>
/// .log`, in every run, not only in debug mode; with no arguments the line ends in a space).
///
/// Only whole lines that start with the timestamp and then one of the known messages count: `debugLargeJson` writes
/// a JSON block over many lines after its first, and those lines start with spaces, never with a timestamp.
enum HappyLog {
    /// One recognised line.
    enum Signal: Equatable, Sendable {
        /// The agent's thinking state changed (`mode` names which of Happy's modes said it).
        case thinking(Bool, mode: String)
        /// `[API] Sending keep alive message: <thinking>`: written every 2 s, but only when Happy runs with `DEBUG`
        /// set. It proves the process alive and repeats the current state.
        case keepAlive(thinking: Bool)
    }

    /// The messages, after `[HH:MM:SS.mmm] `, and the state each means.
    private static let messages: [(prefix: [UInt8], mode: String, value: Bool?)] = [
        // Remote mode, the agent run through the Agent SDK (`src/claude/claudeRemote.ts`).
        (Array("[claudeRemote] Thinking state changed to: ".utf8), "claude remote", nil),
        // Local mode, the agent in a terminal (`src/claude/claudeLocal.ts`).
        (Array("[ClaudeLocal] Thinking state changed to: ".utf8), "claude local", nil),
        // Codex (`src/codex/runCodex.ts`: on task_started, and on task_complete or turn_aborted).
        (Array("thinking started".utf8), "codex", true),
        (Array("thinking completed".utf8), "codex", false),
        // Gemini (`src/gemini/runGemini.ts`): `[gemini] Status changed: running|idle|stopped|error[ - detail]`.
        (Array("[gemini] Status changed: running".utf8), "gemini", true),
        (Array("[gemini] Status changed: idle".utf8), "gemini", false),
        (Array("[gemini] Status changed: stopped".utf8), "gemini", false),
        (Array("[gemini] Status changed: error".utf8), "gemini", false),
    ]
    private static let keepAlive = Array("[API] Sending keep alive message: ".utf8)

    /// The signal of one line (without its newline), or `nil` for any other line.
    static func signal(_ line: UnsafeRawBufferPointer) -> Signal? {
        // `[HH:MM:SS.mmm] `: 15 bytes. (Node may print the midnight hour as 24: any two digits are taken.)
        guard line.count > 15, line[0] == UInt8(ascii: "["), line[13] == UInt8(ascii: "]"),
            line[14] == UInt8(ascii: " ")
        else { return nil }
        for offset in [1, 2, 4, 5, 7, 8, 10, 11, 12] where !isDigit(line[offset]) { return nil }
        guard line[3] == UInt8(ascii: ":"), line[6] == UInt8(ascii: ":"), line[9] == UInt8(ascii: ".") else {
            return nil
        }
        let rest = UnsafeRawBufferPointer(rebasing: line[15...])
        if starts(rest, with: keepAlive) {
            guard let value = boolean(UnsafeRawBufferPointer(rebasing: rest[keepAlive.count...])) else { return nil }
            return .keepAlive(thinking: value)
        }
        for message in messages where starts(rest, with: message.prefix) {
            let tail = UnsafeRawBufferPointer(rebasing: rest[message.prefix.count...])
            if let value = message.value {
                // A fixed message: nothing may follow but spaces, or (Gemini) ` - <detail>`.
                guard onlySpaces(tail) || (message.mode == "gemini" && starts(tail, with: Array(" - ".utf8))) else {
                    continue
                }
                return .thinking(value, mode: message.mode)
            }
            guard let value = boolean(tail) else { return nil }
            return .thinking(value, mode: message.mode)
        }
        return nil
    }

    /// The pid in a per-process log's name (`<date-time>-pid-<pid>.log`); `nil` for the daemon's log
    /// (`…-daemon.log`, which runs no agent) and for any other name.
    static func pid(inLogName name: String) -> Int32? {
        let bytes = Array(name.utf8)
        let marker = Array("-pid-".utf8)
        guard name.hasSuffix(".log"), !name.hasSuffix("-daemon.log"), bytes.count > marker.count + 4 else {
            return nil
        }
        // The last `-pid-` in the name, then only digits up to `.log`.
        guard
            let start = (0...(bytes.count - marker.count - 4)).reversed().first(where: {
                bytes[$0..<($0 + marker.count)].elementsEqual(marker)
            })
        else { return nil }
        let digits = bytes[(start + marker.count)..<(bytes.count - 4)]
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy(isDigit),
            let pid = Int32(String(decoding: digits, as: UTF8.self)), pid > 0
        else { return nil }
        return pid
    }

    /// `true` or `false`, then only spaces.
    private static func boolean(_ text: UnsafeRawBufferPointer) -> Bool? {
        if starts(text, with: trueWord), onlySpaces(UnsafeRawBufferPointer(rebasing: text[4...])) { return true }
        if starts(text, with: falseWord), onlySpaces(UnsafeRawBufferPointer(rebasing: text[5...])) { return false }
        return nil
    }
    private static let trueWord = Array("true".utf8)
    private static let falseWord = Array("false".utf8)

    private static func starts(_ text: UnsafeRawBufferPointer, with prefix: [UInt8]) -> Bool {
        text.count >= prefix.count && zip(text, prefix).allSatisfy { $0 == $1 }
    }

    /// Spaces only (Happy's logger leaves one; a `\r` is tolerated).
    private static func onlySpaces(_ text: UnsafeRawBufferPointer) -> Bool {
        text.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
