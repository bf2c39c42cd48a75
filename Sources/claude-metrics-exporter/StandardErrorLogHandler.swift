import ExporterCore
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// One line per entry on standard error, in the `LOG_FORMAT` asked for:
/// - text: `2026-11-25T22:49:05.123Z info agent active source=transcripts`, metadata keys sorted so lines
///   compare and grep well, values with spaces or quotes quoted;
/// - json: `{"time":"2026-11-25T22:49:05.123Z","level":"info","message":"agent active","source":"transcripts"}`,
///   one object per line for Kubernetes log pipelines.
struct StandardErrorLogHandler: LogHandler {
    var logLevel: Logger.Level
    var format: LogFormat
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Self.timestamp()
        var line: String
        switch format {
        case .text:
            line = time + " " + event.level.rawValue + " " + event.message.description
            for key in merged.keys.sorted() { line += " " + key + "=" + Self.quotedIfNeeded("\(merged[key]!)") }
        case .json:
            line =
                "{\"time\":" + Self.jsonString(time) + ",\"level\":" + Self.jsonString(event.level.rawValue)
                + ",\"message\":" + Self.jsonString(event.message.description)
            for key in merged.keys.sorted() where !["time", "level", "message"].contains(key) {
                line += "," + Self.jsonString(key) + ":" + Self.jsonString("\(merged[key]!)")
            }
            line += "}"
        }
        StandardError.write(line + "\n")
    }

    private static func quotedIfNeeded(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.utf8.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }
        guard needsQuotes else { return value }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    result += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// A JSON string literal.
    static func jsonString(_ text: String) -> String {
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

    /// UTC, ISO 8601 with milliseconds, without Foundation's formatters.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(spec.tv_nsec / 1_000_000), 3) + "Z"
    }
}
