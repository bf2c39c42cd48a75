import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let session1 = "0b5e2c1a-1234-4abc-9def-0123456789ab"
private let session2 = "1b5e2c1a-1234-4abc-9def-0123456789ab"

@Suite("The real binary against a temporary tree")
struct ExporterIntegrationTests {
    @Test("Starts with no directories, picks them up later, and follows appends and deletes")
    func lifecycle() async throws {
        let tree = try TemporaryTree()
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let first = try exporter.metrics()
        #expect(first[Series.sessions] == 0)
        #expect(first[Series.active] == 0)
        #expect(first[Series.timestamp] == 0)
        #expect(first[Series.healthy] == 1)
        #expect(first[Series.files("transcripts")] == 0)
        #expect(try RawHTTPClient.get("/health", port: exporter.port)?.body == "OK")

        // mkdir -p and an immediate file: the folders are created faster than watches can be added.
        try tree.append(".claude/projects/-home-agent-repo/\(session1).jsonl")
        try await exporter.waitForMetrics("first session counted") {
            $0[Series.sessions] == 1 && $0[Series.active] == 1
        }
        let stamp = try #require(try exporter.metrics()[Series.timestamp])

        try await Task.sleep(for: .milliseconds(20))  // mtime granularity: make the next write visibly newer
        try tree.append(".claude/projects/-home-agent-repo/\(session1).jsonl")
        try await exporter.waitForMetrics("timestamp moved after an append") { ($0[Series.timestamp] ?? 0) > stamp }

        try tree.append(".claude/projects/-other/\(session2).jsonl")
        try await exporter.waitForMetrics("second project counted") { $0[Series.sessions] == 2 }

        try tree.remove(".claude/projects/-home-agent-repo/\(session1).jsonl")
        try await exporter.waitForMetrics("deleted session uncounted") { $0[Series.sessions] == 1 }

        try tree.remove(".claude/projects")
        try await exporter.waitForMetrics("projects/ deleted") { $0[Series.sessions] == 0 }
        #expect(await exporter.stop() == 0)
        #expect(exporter.log.contains("agent active"))
        #expect(exporter.log.contains("stopping signal=SIGTERM"))
    }

    @Test("Turns idle after IDLE_TIMEOUT_MINUTES and logs it when it happens")
    func idleFlip() async throws {
        let tree = try TemporaryTree()
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "IDLE_TIMEOUT_MINUTES": "0.02",
        ])
        try tree.append(".claude/history.jsonl")
        // The active window is only 1.2 s, shorter than a loaded test machine may stall a poller: the exporter's
        // own transition log proves it was active; the metrics must then say idle, and the log when.
        let active = await waitUntil { exporter.log.contains("agent active") }
        #expect(active, "no active transition in the log:\n\(exporter.log)")
        try await exporter.waitForMetrics("idle after 1.2 s") {
            $0[Series.active] == 0 && ($0[Series.timestamp] ?? 0) > 0
        }
        let logged = await waitUntil { exporter.log.contains("agent idle") }
        #expect(logged, "no idle transition in the log:\n\(exporter.log)")
        #expect(await exporter.stop(signal: SIGINT) == 0)
    }

    @Test("Happy's log noise is exported but does not make the agent active by default")
    func happyNoise() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(session1).jsonl")
        try tree.append(".happy/logs/2026-11-25.log")
        let base = ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "IDLE_TIMEOUT_MINUTES": "0.01"]
        let exporter = try await ExporterProcess(environment: base)
        try await exporter.waitForMetrics("idle") { $0[Series.active] == 0 }
        let before = try #require(try exporter.metrics()[Series.source("happy_logs")])
        try await Task.sleep(for: .milliseconds(20))
        try tree.append(".happy/logs/2026-11-25.log", "debug line\n")
        try await exporter.waitForMetrics("happy log activity seen") { ($0[Series.source("happy_logs")] ?? 0) > before }
        #expect(try exporter.metrics()[Series.active] == 0)
        #expect(try exporter.metrics()[Series.files("happy_logs")] == 1)

        var withHappy = base
        withHappy["ACTIVITY_SOURCES"] = "transcripts,history,happy_logs"
        withHappy["IDLE_TIMEOUT_MINUTES"] = "1"
        let driven = try await ExporterProcess(environment: withHappy)
        try tree.append(".happy/logs/2026-11-25.log", "debug line\n")
        try await driven.waitForMetrics("active from happy logs") { $0[Series.active] == 1 }
    }

    @Test("LOG_FORMAT=json: every log line is one JSON object with time, level, message and the metadata")
    func jsonLogs() async throws {
        let tree = try TemporaryTree()
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "LOG_FORMAT": "json",
        ])
        try tree.append(".claude/history.jsonl")
        let active = await waitUntil { exporter.log.contains(#""message":"agent active""#) }
        #expect(active, "log:\n\(exporter.log)")
        for line in exporter.log.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            #expect(object?["time"] != nil && object?["level"] != nil && object?["message"] != nil, "\(line)")
        }
        #expect(exporter.log.contains(#""source":"history""#))
    }

    @Test("--once prints the metrics and exits 0")
    func once() throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(session1).jsonl")
        try tree.append(".claude/projects/-r/agent-1.jsonl")
        let (status, output, _) = try runExporter(["--once", "--claude-dir", tree.claude, "--happy-dir", tree.happy])
        #expect(status == 0)
        let samples = metricSamples(output)
        #expect(samples[Series.sessions] == 1)
        #expect(samples[Series.files("transcripts")] == 2)
        #expect(output.contains("# TYPE claude_session_active gauge"))
    }

    @Test(
        "Bad configuration exits 78 and names the variable, the value and what is allowed",
        arguments: [
            (["IDLE_TIMEOUT_MINUTES": "ten"], [String](), "IDLE_TIMEOUT_MINUTES=\"ten\""),
            (["METRICS_PORT": "70000"], [], "METRICS_PORT=\"70000\""),
            (["ACTIVITY_SOURCES": "transcripts,logs"], [], "unknown source \"logs\""),
            (["LOG_LEVEL": "loud"], [], "LOG_LEVEL=\"loud\""),
            ([:], ["--update-interval-seconds=-5"], "--update-interval-seconds=\"-5\""),
            (["CLAUDE_DIR": "/etc/hostname"], [], "is not a directory"),
        ]
    )
    func badConfiguration(environment: [String: String], arguments: [String], message: String) throws {
        let (status, _, error) = try runExporter(arguments, environment: environment)
        #expect(status == 78)
        #expect(error.contains(message), "stderr was: \(error)")
    }

    @Test("An unknown option exits 64; --help and --version exit 0")
    func usage() throws {
        #expect(try runExporter(["--nope"]).0 == 64)
        let (helpStatus, help, _) = try runExporter(["--help"])
        #expect(helpStatus == 0)
        #expect(help.contains("--claude-dir") && help.contains("IDLE_TIMEOUT_MINUTES"))
        let (versionStatus, version, _) = try runExporter(["--version"])
        #expect(versionStatus == 0)
        #expect(version.hasPrefix("claude-metrics-exporter "))
    }

    @Test("A port in use is a clear error and a non-zero exit")
    func portInUse() async throws {
        let tree = try TemporaryTree()
        let first = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let (status, _, error) = try runExporter(
            [],
            environment: ["CLAUDE_DIR": tree.claude, "METRICS_PORT": "\(first.port)", "LISTEN_ADDRESS": "127.0.0.1"]
        )
        #expect(status == 1)
        #expect(error.contains("port \(first.port) is already in use"))
    }

    @Test("An unreadable Claude directory makes /health 503 and healthy 0")
    func unreadable() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(session1).jsonl")
        chmod(tree.root, 0o755)
        chmod(tree.claude, 0o000)
        defer { chmod(tree.claude, 0o755) }
        // root reads anything, so run the exporter as nobody when the tests run as root.
        let prefix = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "0.5"],
            prefix: prefix
        )
        #expect(try exporter.metrics()[Series.healthy] == 0)
        let health = try #require(try RawHTTPClient.get("/health", port: exporter.port))
        #expect(health.status == 503)
        chmod(tree.claude, 0o755)
        try await exporter.waitForMetrics("healthy again after the rescan", timeout: 20) {
            $0[Series.healthy] == 1 && $0[Series.sessions] == 1
        }
    }

    @Test("Endpoints: / links both, unknown paths 404, other methods 405 with Allow, HEAD without body")
    func endpoints() async throws {
        let tree = try TemporaryTree()
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let page = try #require(try RawHTTPClient.get("/", port: exporter.port))
        #expect(page.status == 200)
        #expect(page.body.contains("href=\"/metrics\"") && page.body.contains("href=\"/health\""))
        #expect(try RawHTTPClient.get("/nope", port: exporter.port)?.status == 404)
        let metrics = try #require(try RawHTTPClient.get("/metrics", port: exporter.port))
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let client = try RawHTTPClient(port: exporter.port)
        client.send("POST /metrics HTTP/1.1\r\nHost: x\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let post = try #require(client.readResponse())
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let head = try #require(client.readResponse(headOnly: true))
        #expect(head.status == 200)
        #expect(Int(head.headers["content-length"] ?? "0") ?? 0 > 1000)
    }

    @Test("Accept-Encoding: gzip gets gzip with Vary; an OpenMetrics Accept gets the 0.0.4 text, labelled so")
    func contentNegotiation() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(UUID().uuidString.lowercased()).jsonl")
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let client = try RawHTTPClient(port: exporter.port)
        // Prometheus's own Accept and Accept-Encoding, then the same without gzip, then HEAD with gzip.
        let accept =
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
            + "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
            + "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        client.send(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: \(accept)\r\nAccept-Encoding: gzip\r\n\r\n"
                + "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text\r\n"
                + "Accept-Encoding: identity\r\n\r\n"
                + "HEAD /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
        )
        let coded = try #require(client.readResponse())
        #expect(coded.status == 200)
        #expect(coded.headers["content-encoding"] == "gzip")
        #expect(coded.headers["vary"] == "Accept-Encoding")
        #expect(coded.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let text = String(decoding: try #require(try gunzip(coded.bytes)), as: UTF8.self)
        #expect(metricSamples(text)["claude_sessions_total{pod=\"unknown\",repository=\"unknown\"}"] == 1)
        #expect(!text.contains("# EOF"))

        let identity = try #require(client.readResponse())
        #expect(identity.headers["content-encoding"] == nil)
        #expect(identity.headers["vary"] == "Accept-Encoding")
        #expect(identity.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metricSamples(identity.body)["claude_sessions_total{pod=\"unknown\",repository=\"unknown\"}"] == 1)

        let head = try #require(client.readResponse(headOnly: true))
        #expect(head.headers["content-encoding"] == "gzip")
        let length = try #require(Int(head.headers["content-length"] ?? ""))
        #expect(length > 100 && length * 2 < identity.bytes.count, "gzip \(length) of \(identity.bytes.count) bytes")
    }
}
