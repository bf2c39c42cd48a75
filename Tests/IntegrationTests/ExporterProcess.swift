import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A temporary home directory with `.claude` and `.happy` paths inside (not created).
struct TemporaryTree: ~Copyable {
    let root: String
    var claude: String { root + "/.claude" }
    var happy: String { root + "/.happy" }
    var projects: String { claude + "/projects" }

    init() throws {
        root = NSTemporaryDirectory() + "cme-it-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes (appends to) a file, creating its folders (`mkdir -p`).
    func append(_ relative: String, _ text: String = "{}\n") throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        let fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0o644)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    func remove(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: root + "/" + relative)
    }
}

/// The release or debug binary next to the test bundle.
let exporterBinary: String = {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent().appendingPathComponent("claude-metrics-exporter").path
}()

/// The real exporter binary, started with an environment, talking on 127.0.0.1 on a free port.
final class ExporterProcess {
    let process = Process()
    let logPath: String
    private(set) var port = 0

    /// Starts the exporter and waits until it listens (its first scan is done by then).
    init(environment: [String: String], arguments: [String] = [], prefix: [String] = []) async throws {
        logPath = NSTemporaryDirectory() + "cme-log-\(UUID().uuidString).txt"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        if prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: exporterBinary)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [exporterBinary] + arguments
        }
        var env = ["METRICS_PORT": "0", "LISTEN_ADDRESS": "127.0.0.1", "LOG_LEVEL": "debug"]
        // Under make tsan the exporter is instrumented too: its sanitizer settings go with it.
        for name in ["TSAN_OPTIONS", "ASAN_OPTIONS"] {
            if let value = ProcessInfo.processInfo.environment[name] { env[name] = value }
        }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let listening = await waitUntil(timeout: 30) {
            // The text format (`port=N`) or the JSON one (`"port":"N"`).
            guard let line = log.split(separator: "\n").first(where: { $0.contains("listening") }),
                let range = line.range(of: #"port(=|":")(\d+)"#, options: .regularExpression)
            else { return !process.isRunning }
            port = Int(line[range].filter(\.isNumber)) ?? 0
            return true
        }
        try #require(listening && port > 0, "exporter did not start listening; log:\n\(log)")
    }

    /// The exporter's own pid: the process started, or its child when a prefix (strace) forks it.
    var pid: Int32 {
        let started = process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(started)/task/\(started)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { Int32($0) } ?? started
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// One scrape of /metrics, parsed.
    func metrics() throws -> [String: Double] {
        let response = try #require(try RawHTTPClient.get("/metrics", port: port), "no response; log:\n\(log)")
        #expect(response.status == 200)
        return metricSamples(response.body)
    }

    /// Waits (up to a generous deadline) until the metrics satisfy `condition`.
    func waitForMetrics(
        _ description: String,
        timeout: Double = 10,
        _ condition: ([String: Double]) -> Bool
    ) async throws {
        var last: [String: Double] = [:]
        let ok = await waitUntil(timeout: timeout) {
            // A failed poll is retried, not recorded: only the deadline decides.
            guard let response = try? RawHTTPClient.get("/metrics", port: port), response.status == 200 else {
                return false
            }
            last = metricSamples(response.body)
            return condition(last)
        }
        #expect(
            ok,
            "\(description) did not happen within \(timeout) s; last metrics: \(last.filter { $0.key.hasPrefix("claude_") })"
        )
    }

    /// Sends a signal and waits for the exit status.
    func stop(signal: Int32 = SIGTERM) async -> Int32 {
        kill(pid, signal)
        _ = await waitUntil(timeout: 10) { !process.isRunning }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        // A data race the instrumented exporter reported (make tsan) fails the test that started it.
        let log = log
        if log.contains("WARNING: ThreadSanitizer") || log.contains("ERROR: AddressSanitizer") {
            Issue.record("the exporter reported a sanitizer finding:\n\(log)")
        }
        if process.isRunning {
            // The exporter first: under a forking prefix (`unshare --fork`) it holds what Foundation waits on.
            let exporter = pid
            if exporter != process.processIdentifier { kill(exporter, SIGKILL) }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// Runs the binary to completion and returns its exit status, standard output and standard error.
func runExporter(
    _ arguments: [String],
    environment: [String: String] = [:],
    executable: String = exporterBinary
) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output, error)
}

/// Series names with the default labels.
enum Series {
    static let labels = #"{pod="unknown",repository="unknown"}"#
    static let active = "claude_session_active" + labels
    static let sessions = "claude_sessions_total" + labels
    static let timestamp = "claude_last_activity_timestamp_seconds" + labels
    static let healthy = #"claude_exporter_healthy{pod="unknown"}"#
    static func source(_ name: String) -> String {
        #"claude_source_last_activity_timestamp_seconds{pod="unknown",repository="unknown",source="\#(name)"}"#
    }
    static func files(_ name: String) -> String {
        #"claude_activity_files{pod="unknown",repository="unknown",source="\#(name)"}"#
    }
}

/// A fresh lower-case UUID, as Claude Code names sessions.
func uuid() -> String { UUID().uuidString.lowercased() }

/// The exporter's CPU time (user + system) and resident memory, from /proc.
func usage(of pid: Int32) -> (cpuSeconds: Double, rssBytes: Int) {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
    let ticks = fields.count > 13 ? (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) : 0
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first
    return (ticks / Double(sysconf(Int32(_SC_CLK_TCK))), (Int(rss ?? "0") ?? 0) * 1024)
}

/// Field 22 of /proc/<pid>/stat, read the way Claude Code records `procStart`.
func startTicks(_ pid: Int32) throws -> String {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    let afterName = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...]
    return String(afterName.split(separator: " ")[19])
}

/// A child process (`sleep`) that plays Claude Code: a real pid and start time, and its session-registry file
/// (`sessions/<pid>.json`) written as Claude Code writes it, a temporary file renamed over the entry.
final class FakeClaude {
    let process = Process()
    let sessionID: String
    private let sessions: String

    init(claudeDirectory: String, sessionID: String = "0b5e2c1a-1234-4abc-9def-0123456789ab") throws {
        self.sessionID = sessionID
        sessions = claudeDirectory + "/sessions"
        try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["120"]
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Writes the registry entry with `status` and the current time.
    func write(_ status: String) throws {
        let millis = Int64(Date().timeIntervalSince1970 * 1000)
        let json = """
            {"pid":\(pid),"sessionId":"\(sessionID)","cwd":"/home/agent/repo",\
            "status":"\(status)","statusUpdatedAt":\(millis),"updatedAt":\(millis),"procStart":"\(try startTicks(pid))",\
            "version":"2.1.140","kind":"interactive","entrypoint":"cli"}
            """
        let path = sessions + "/\(pid).json"
        try json.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        rename(path + ".tmp", path)
    }

    /// Ends the process as a crash would: SIGKILL, its file left behind.
    func crash() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    deinit { crash() }
}
