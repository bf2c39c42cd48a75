import Logging
import Platform

/// One JSON object per line on standard error (`LOG_FORMAT=json`), for Kubernetes log pipelines:
/// `{"time":"2026-11-25T22:49:05.123Z","level":"info","message":"agent active","source":"transcripts"}`.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line =
            "{\"time\":" + Self.quoted(TextLogHandler.timestamp()) + ",\"level\":" + Self.quoted(event.level.rawValue)
            + ",\"message\":" + Self.quoted(event.message.description)
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() where !["time", "level", "message"].contains(key) {
            line += "," + Self.quoted(key) + ":" + Self.quoted("\(merged[key]!)")
        }
        StandardError.write(line + "}\n")
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
