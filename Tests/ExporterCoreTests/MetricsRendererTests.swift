import Foundation
import Platform
import Testing
import TokenUsage

@testable import ExporterCore

private func renderer(pod: String = "agent-0", repository: String = "org/repo") -> MetricsRenderer {
    MetricsRenderer(
        podName: pod,
        repositoryName: repository,
        idleTimeoutSeconds: 600,
        drivingSources: [.transcripts, .history],
        version: "1.2.3",
        revision: "abc",
        processStartTime: 1_700_000_000.5
    )
}

private let process = ProcessStatistics(
    residentMemoryBytes: 5_242_880,
    cpuSeconds: 0.25,
    openFileDescriptors: 9,
    maxFileDescriptors: 1024
)

private func sampleSnapshot() -> ActivitySnapshot {
    var snapshot = ActivitySnapshot(startTime: Timestamp(seconds: 1_700_000_000))
    snapshot.newest[.transcripts] = Activity(
        time: Timestamp(seconds: 1_700_000_100, nanoseconds: 500_000_000),
        path: "/t"
    )
    snapshot.newest[.history] = Activity(time: Timestamp(seconds: 1_700_000_050), path: "/h")
    snapshot.newest[.happyLogs] = Activity(time: Timestamp(seconds: 1_700_000_190), path: "/l")
    snapshot.files = PerSource(repeating: 0)
    snapshot.files[.transcripts] = 4
    snapshot.files[.history] = 1
    snapshot.files[.happyLogs] = 2
    snapshot.sessions = 3
    snapshot.watches = 7
    snapshot.events = 42
    snapshot.rescans = 2
    snapshot.lastScanDuration = 0.125
    return snapshot
}

/// Parses sample lines into `series -> value`, failing on anything malformed.
func parseSamples(_ text: String) -> [String: String] {
    var samples: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else {
            Issue.record("malformed sample line: \(line)")
            continue
        }
        samples[String(line[..<space])] = String(line[line.index(after: space)...])
    }
    return samples
}

@Suite("The Prometheus text exposition")
struct MetricsRendererTests {
    @Test("The contract metrics, exactly")
    func contract() {
        let text = renderer().render(
            sampleSnapshot(),
            now: Timestamp(seconds: 1_700_000_190, nanoseconds: 500_000_000),
            process: process
        )
        let expectedPrefix = """
            # HELP claude_last_activity_timestamp_seconds Unix time of the newest activity among the sources in ACTIVITY_SOURCES (0 before any activity file exists).
            # TYPE claude_last_activity_timestamp_seconds gauge
            claude_last_activity_timestamp_seconds{pod="agent-0",repository="org/repo"} 1700000100.5
            # HELP claude_session_active 1 if the newest activity is younger than IDLE_TIMEOUT_MINUTES, else 0.
            # TYPE claude_session_active gauge
            claude_session_active{pod="agent-0",repository="org/repo"} 1
            # HELP claude_sessions_total Claude Code session transcripts (projects/<slug>/<uuid>.jsonl or session-*.jsonl). A gauge despite its suffix, kept for compatibility.
            # TYPE claude_sessions_total gauge
            claude_sessions_total{pod="agent-0",repository="org/repo"} 3
            # HELP claude_minutes_since_last_activity Minutes since the newest activity (since the exporter started when no activity file exists yet).
            # TYPE claude_minutes_since_last_activity gauge
            claude_minutes_since_last_activity{pod="agent-0",repository="org/repo"} 1.5
            # HELP claude_exporter_healthy 1 while the Claude directory can be read or does not exist yet; 0 when it exists but cannot be read.
            # TYPE claude_exporter_healthy gauge
            claude_exporter_healthy{pod="agent-0"} 1

            """
        #expect(text.hasPrefix(expectedPrefix))
        let samples = parseSamples(text)
        #expect(
            samples[
                #"claude_source_last_activity_timestamp_seconds{pod="agent-0",repository="org/repo",source="happy_logs"}"#
            ] == "1700000190"
        )
        #expect(samples[#"claude_activity_files{pod="agent-0",repository="org/repo",source="transcripts"}"#] == "4")
        #expect(samples[#"claude_activity_files{pod="agent-0",repository="org/repo",source="history"}"#] == "1")
        #expect(samples[#"claude_exporter_build_info{version="1.2.3",revision="abc"}"#] == "1")
        #expect(samples["claude_exporter_watches"] == "7")
        #expect(samples["claude_exporter_events_total"] == "42")
        #expect(samples["claude_exporter_rescans_total"] == "2")
        #expect(samples["claude_exporter_watch_errors_total"] == "0")
        #expect(samples["claude_exporter_inotify_overflows_total"] == "0")
        #expect(samples["claude_exporter_scan_duration_seconds"] == "0.125")
        #expect(samples["process_resident_memory_bytes"] == "5242880")
        #expect(samples["process_cpu_seconds_total"] == "0.25")
        #expect(samples["process_open_fds"] == "9")
        #expect(samples["process_max_fds"] == "1024")
        #expect(samples["process_start_time_seconds"] == "1700000000.5")
        #expect(text.hasSuffix("\n"))
    }

    @Test("Idle after the timeout; unhealthy shows 0")
    func idle() {
        var snapshot = sampleSnapshot()
        snapshot.healthy = false
        let samples = parseSamples(
            renderer().render(
                snapshot,
                now: Timestamp(seconds: 1_700_000_700, nanoseconds: 500_000_000),
                process: process
            )
        )
        #expect(samples[#"claude_session_active{pod="agent-0",repository="org/repo"}"#] == "0")
        #expect(samples[#"claude_minutes_since_last_activity{pod="agent-0",repository="org/repo"}"#] == "10")
        #expect(samples[#"claude_exporter_healthy{pod="agent-0"}"#] == "0")
    }

    @Test("Label values are escaped; nothing a name contains can break the format")
    func escaping() {
        let text = renderer(pod: "a\"b\\c\nd", repository: "r").render(sampleSnapshot(), now: .zero, process: process)
        #expect(text.contains(#"claude_exporter_healthy{pod="a\"b\\c\nd"} 1"#))
        #expect(!text.contains("c\nd"))
    }

    @Test("Values: integers without fraction, shortest round-trip decimals, special values")
    func values() {
        #expect(MetricsRenderer.formatValue(0) == "0")
        #expect(MetricsRenderer.formatValue(-3) == "-3")
        #expect(MetricsRenderer.formatValue(1.5) == "1.5")
        #expect(MetricsRenderer.formatValue(1e-5) == "1e-05")
        #expect(MetricsRenderer.formatValue(.nan) == "NaN")
        #expect(MetricsRenderer.formatValue(.infinity) == "+Inf")
        #expect(MetricsRenderer.formatValue(-.infinity) == "-Inf")
        #expect(MetricsRenderer.formatValue(1e20) == "1e+20")
    }

    /// Token usage as published once the history is read: two models, one odd name, one live session.
    private func sampleUsage(ready: Bool = true) -> UsageSnapshot {
        var usage = UsageSnapshot()
        usage.ready = ready
        var opus = UsageLedger.ModelUsage()
        opus.tokens = TokenCounts(input: 10, output: 2000, cacheCreation: 300, cacheRead: 40_000)
        opus.messages = 7
        var odd = UsageLedger.ModelUsage()
        odd.tokens = TokenCounts(output: 1)
        odd.messages = 1
        usage.models = [
            UsageSnapshot.Model(name: "claude-opus-4-5", usage: opus),
            UsageSnapshot.Model(name: "my \"model\"", usage: odd),
        ]
        usage.skipped = [3, 0, 1]
        usage.liveContexts = ["0b5e2c1a-1234-4abc-9def-0123456789ab": 40_310]
        usage.bytesRead = 123_456
        return usage
    }

    @Test("Token usage: the counters only once ready, labels escaped, nothing at all when off")
    func usageFamilies() {
        let now = Timestamp(seconds: 1_700_000_190)
        let off = renderer().render(sampleSnapshot(), now: now, process: process)
        #expect(!off.contains("claude_exporter_usage_ready") && !off.contains("claude_tokens_total"))
        let reading = renderer().render(sampleSnapshot(), now: now, process: process, usage: sampleUsage(ready: false))
        #expect(reading.contains("claude_exporter_usage_ready{pod=\"agent-0\"} 0\n"))
        #expect(!reading.contains("claude_tokens_total") && !reading.contains("claude_session_context_tokens"))
        let text = renderer().render(sampleSnapshot(), now: now, process: process, usage: sampleUsage())
        let labels = #"pod="agent-0",repository="org/repo""#
        for expected in [
            #"claude_exporter_usage_ready{pod="agent-0"} 1"#,
            #"claude_tokens_total{\#(labels),model="claude-opus-4-5",type="input"} 10"#,
            #"claude_tokens_total{\#(labels),model="claude-opus-4-5",type="output"} 2000"#,
            #"claude_tokens_total{\#(labels),model="claude-opus-4-5",type="cache_creation"} 300"#,
            #"claude_tokens_total{\#(labels),model="claude-opus-4-5",type="cache_read"} 40000"#,
            #"claude_tokens_total{\#(labels),model="my \"model\"",type="output"} 1"#,
            #"claude_assistant_messages_total{\#(labels),model="claude-opus-4-5"} 7"#,
            #"claude_session_context_tokens{\#(labels),session_id="0b5e2c1a-1234-4abc-9def-0123456789ab"} 40310"#,
            #"claude_exporter_transcript_lines_skipped_total{pod="agent-0",reason="malformed"} 3"#,
            #"claude_exporter_transcript_lines_skipped_total{pod="agent-0",reason="too_long"} 1"#,
            #"claude_exporter_transcript_bytes_read_total{pod="agent-0"} 123456"#,
        ] {
            #expect(text.contains(expected + "\n"), "missing: \(expected)")
        }
    }

    @Test("promtool accepts the output; only the two contract names are linted")
    func promtool() throws {
        let text = renderer().render(
            sampleSnapshot(),
            now: Timestamp(seconds: 1_700_000_190),
            process: process,
            usage: sampleUsage()
        )
        #expect(text.contains("claude_tokens_total"))
        let output = try runPromtool(text)
        let findings = output.split(separator: "\n").filter { !$0.isEmpty }
        // claude_sessions_total is a gauge named like a counter (kept for compatibility), and
        // claude_minutes_since_last_activity is not in base units: both are the original contract.
        #expect(findings.count <= 2, "unexpected promtool findings: \(output)")
        for finding in findings {
            #expect(
                finding.contains("claude_sessions_total") || finding.contains("claude_minutes_since_last_activity"),
                "unexpected promtool finding: \(finding)"
            )
        }
    }
}

/// Pipes `text` to `promtool check metrics` and returns what it printed. promtool is required:
/// `make test` and `.ci/run` install it (Debian package `prometheus`).
func runPromtool(_ text: String) throws -> String {
    let candidates: [String] = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
    let promtool = try #require(
        candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
        "promtool not found: apt-get install prometheus (make test does it)"
    )
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    // Exit status 3 means lint findings only; anything else non-zero is a parse error.
    #expect(process.terminationStatus == 0 || process.terminationStatus == 3, "promtool failed: \(printed)")
    return printed
}
