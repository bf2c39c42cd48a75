/// Quotes text for people and for JSON: one escaper for configuration errors and both log formats.
public enum Quoting {
    public enum Style: Sendable {
        /// For messages and text logs: control characters shown as `\u{1}`.
        case readable
        /// A JSON string literal: control characters as `\u0001`.
        case json
    }

    /// `text` in double quotes, with quotes, backslashes and control characters escaped.
    public static func quoted(_ text: String, style: Style = .readable) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                let control = scalar.value < 0x20 || (style == .readable && scalar.value == 0x7F)
                guard control else {
                    result.unicodeScalars.append(scalar)
                    continue
                }
                let hex = String(scalar.value, radix: 16)
                switch style {
                case .readable: result += "\\u{\(hex)}"
                case .json: result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        return result + "\""
    }

    /// `text` as is when it is a plain word, quoted (readable) when it is empty or holds spaces, quotes,
    /// backslashes or control characters: for `key=value` log lines.
    public static func quotedIfNeeded(_ text: String) -> String {
        let plain = !text.isEmpty && !text.utf8.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }
        return plain ? text : quoted(text)
    }
}
