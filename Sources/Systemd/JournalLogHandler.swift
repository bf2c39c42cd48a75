import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes structured entries to the journal (`sd_journal_sendv`), with `PRIORITY`,
/// `MESSAGE`, `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`, `SYSLOG_IDENTIFIER`, and each metadata key as an upper-case
/// field, so `journalctl -u claude-metrics-exporter SOURCE=transcripts` and `-p warning` work.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let identifier: String
    private let library: LibSystemd

    /// A handler when standard error is connected to the journal (`JOURNAL_STREAM` names its device and
    /// inode, as systemd sets it for services) and libsystemd is installed; otherwise `nil`.
    public init?(identifier: String, logLevel: Logger.Level, environment: [String: String]) {
        guard let library = LibSystemd.shared, Self.standardErrorIsJournal(environment["JOURNAL_STREAM"]) else {
            return nil
        }
        self.identifier = identifier
        self.logLevel = logLevel
        self.library = library
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = [
            "PRIORITY=\(Self.priority(event.level))",
            "MESSAGE=\(event.message)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "SYSLOG_IDENTIFIER=\(identifier)",
        ]
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for (key, value) in merged { fields.append("\(Self.fieldName(key))=\(value)") }
        // sd_journal_sendv takes (pointer, length) pairs; the strings stay alive for the call.
        let buffers = fields.map { Array($0.utf8) }
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        func send(_ index: Int) {
            guard index < buffers.count else {
                _ = library.journalSendv(vectors, Int32(vectors.count))
                return
            }
            buffers[index].withUnsafeBytes { bytes in
                vectors.append(
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                )
                send(index + 1)
            }
        }
        send(0)
    }

    /// The journal's (syslog's) priority for a level.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A metadata key as a journal field name: upper case, `[A-Z0-9_]` only, not starting with `_` or a digit,
    /// at most 64 characters, and never one of the fields the handler sets itself (those get `META_`).
    public static func fieldName(_ key: String) -> String {
        var name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                switch scalar {
                case "A"..."Z", "0"..."9", "_": Character(scalar)
                default: "_"
                }
            }
        )
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty || name.first!.isNumber { name = "F" + name }
        if reserved.contains(name) { name = "META_" + name }
        return String(name.prefix(64))
    }

    private static let reserved: Set<String> = [
        "MESSAGE", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "SYSLOG_IDENTIFIER", "MESSAGE_ID",
        "SYSLOG_FACILITY", "SYSLOG_PID", "ERRNO",
    ]

    /// Whether `JOURNAL_STREAM` (`<device>:<inode>`) names this process's standard error.
    static func standardErrorIsJournal(_ stream: String?) -> Bool {
        guard let stream, let colon = stream.firstIndex(of: ":"),
            let device = UInt64(stream[..<colon]), let inode = UInt64(stream[stream.index(after: colon)...])
        else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
