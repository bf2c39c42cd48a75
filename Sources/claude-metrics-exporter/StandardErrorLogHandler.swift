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
            for key in merged.keys.sorted() { line += " " + key + "=" + Quoting.quotedIfNeeded("\(merged[key]!)") }
        case .json:
            line =
                "{\"time\":" + Self.json(time) + ",\"level\":" + Self.json(event.level.rawValue)
                + ",\"message\":" + Self.json(event.message.description)
            for key in merged.keys.sorted() where !["time", "level", "message"].contains(key) {
                line += "," + Self.json(key) + ":" + Self.json("\(merged[key]!)")
            }
            line += "}"
        }
        StandardError.write(line + "\n")
    }

    private static func json(_ text: String) -> String { Quoting.quoted(text, style: .json) }

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
