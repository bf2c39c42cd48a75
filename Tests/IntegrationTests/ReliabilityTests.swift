import CThreadControl
import Foundation
import Platform
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

private func agentSessions(_ status: String) -> String {
    #"claude_agent_sessions{pod="unknown",repository="unknown",status="\#(status)"}"#
}

private func registryEntry(pid: Int32, status: String, start: String, updatedMilliseconds: String) -> String {
    #"{"pid":\#(pid),"sessionId":"s-\#(pid)","cwd":"/repo","status":"\#(status)","statusUpdatedAt":\#(updatedMilliseconds),"procStart":"\#(start)"}"#
}

private func nowMilliseconds() -> String { String(Int64(Date().timeIntervalSince1970 * 1000)) }

/// Whether this machine lets the tests make user and mount namespaces (root, or unprivileged user namespaces).
private let namespacesAvailable: Bool = {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    probe.arguments = ["--user", "--map-root-user", "--mount", "--pid", "--fork", "/bin/true"]
    probe.standardError = FileHandle.nullDevice
    guard (try? probe.run()) != nil else { return false }
    probe.waitUntilExit()
    return probe.terminationStatus == 0
}()

@Suite("Reliability: hostile registry files, a stuck actor's health, connection floods, mounts", .serialized)
struct ReliabilityTests {
    @Test(
        "A registry file with statusUpdatedAt 1e300 (and other extreme numbers) crashes neither --once nor the daemon"
    )
    func extremeNumbers() async throws {
        let tree = try TemporaryTree()
        let numbers = ["1e300", "-1e300", "9.3e21", "1.7976931348623157e308", "99999999999999999999"]
        for (index, number) in numbers.enumerated() {
            try tree.append(
                ".claude/sessions/\(4000 + index).json",
                registryEntry(pid: Int32(4000 + index), status: "busy", start: "1", updatedMilliseconds: number)
            )
        }
        let (status, output, error) = try runExporter([
            "--once", "--claude-dir", tree.claude, "--happy-dir", tree.happy,
        ])
        #expect(status == 0, "stderr: \(error)")
        #expect(metricSamples(output)[Series.healthy] == 1)
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        try tree.append(
            ".claude/sessions/4999.json",
            registryEntry(pid: 4999, status: "busy", start: "1", updatedMilliseconds: "1e300")
        )
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        try await exporter.waitForMetrics("alive after another such file") { $0[Series.sessions] == 1 }
    }

    @Test("FIFOs and regular files swapped over a registry file for 5 s never freeze the state actor")
    func fifoSwapRace() async throws {
        let tree = try TemporaryTree()
        let sessions = tree.claude + "/sessions"
        try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: true)
        // A symbolic link to a FIFO from the start, too: never followed.
        #expect(mkfifo(sessions + "/.target", 0o600) == 0)
        #expect(symlink(sessions + "/.target", sessions + "/77.json") == 0)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "0.2",
        ])
        let entry = registryEntry(pid: 4242, status: "busy", start: "1", updatedMilliseconds: nowMilliseconds())
        let target = sessions + "/4242.json"
        let deadline = Date().addingTimeInterval(5)
        var swaps = 0
        while Date() < deadline {
            // The race the old reader lost: stat sees a regular file, open finds a FIFO.
            try entry.write(toFile: sessions + "/.regular", atomically: false, encoding: .utf8)
            rename(sessions + "/.regular", target)
            unlink(sessions + "/.fifo")
            #expect(mkfifo(sessions + "/.fifo", 0o600) == 0)
            rename(sessions + "/.fifo", target)
            swaps += 1
        }
        #expect(swaps > 100)
        // Alive: a new session is counted by its event, and the actor still answers the health check.
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        try await exporter.waitForMetrics("a new session counted after the swaps", timeout: 15) {
            $0[Series.sessions] == 1
        }
        let health = try #require(try RawHTTPClient.get("/health", port: exporter.port))
        #expect(health.status == 200, "\(health.body)")
        #expect(
            exporter.log.contains("cannot read session registry file") || exporter.log.contains("not a regular file")
        )
    }

    @Test("The Claude directory replaced by a regular file: claude_exporter_healthy 0 and /health 503")
    func claudeBecomesAFile() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        try tree.remove(".claude")
        try tree.append(".claude", "not a directory\n")
        try await exporter.waitForMetrics("unhealthy") { $0[Series.healthy] == 0 && $0[Series.sessions] == 0 }
        let health = try #require(try RawHTTPClient.get("/health", port: exporter.port))
        #expect(health.status == 503)
        #expect(health.body.contains("cannot be read"))
        try tree.remove(".claude")
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        try await exporter.waitForMetrics("healthy again") { $0[Series.healthy] == 1 && $0[Series.sessions] == 1 }
    }

    @Test(
        "600 idle connections against the 512 cap, reconnecting when closed, let every scrape through",
        arguments: [false, true]
    )
    func connectionFlood(keepAlive: Bool) async throws {
        let tree = try TemporaryTree()
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let flood = ConnectionFlood(port: exporter.port, connections: 600, sendOneRequest: keepAlive)
        flood.start()
        defer { flood.stop() }
        _ = await waitUntil(timeout: 20) { flood.reconnections > 100 }
        var served = 0
        for _ in 0..<20 {
            if let response = try? RawHTTPClient.get("/metrics", port: exporter.port), response.status == 200 {
                served += 1
            }
        }
        #expect(served == 20, "\(served) of 20 scrapes; \(flood.reconnections) flood reconnections")
    }

    @Test("4,000 dead-pid registry files created while running cost little CPU; 2,000 of 60 KiB little memory")
    func registryCost() async throws {
        let tree = try TemporaryTree()
        let sessions = tree.claude + "/sessions"
        try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: true)
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "LOG_LEVEL": "info",
        ])
        let pid = exporter.pid
        let before = usage(of: pid)
        // Dead pids: above the kernel's pid_max, so no process can have them.
        for index in 0..<4000 {
            let dead = Int32(4_194_305 + index)
            try registryEntry(pid: dead, status: "busy", start: "1", updatedMilliseconds: nowMilliseconds())
                .write(toFile: sessions + "/\(dead).json", atomically: false, encoding: .utf8)
        }
        try await exporter.waitForMetrics("4,000 entries counted", timeout: 60) { $0[Series.files("status")] == 4000 }
        let afterCreate = usage(of: pid)
        let padding = String(repeating: "x", count: 60 * 1024)
        for index in 0..<2000 {
            let dead = Int32(4_194_305 + index)
            let text = #"{"pid":\#(dead),"status":"idle","procStart":"1","cwd":"\#(padding)"}"#
            try text.write(toFile: sessions + "/\(dead).json", atomically: false, encoding: .utf8)
        }
        try await exporter.waitForMetrics("still 4,000 entries", timeout: 60) { $0[Series.files("status")] == 4000 }
        try await Task.sleep(for: .seconds(1))
        let after = usage(of: pid)
        print(
            "registry cost: 4,000 files \(afterCreate.cpuSeconds - before.cpuSeconds) s CPU; 2,000 x 60 KiB RSS \(before.rssBytes >> 20) -> \(after.rssBytes >> 20) MiB"
        )
        // Measured before the fix: 58.5 s of CPU and +119 MB. Generous bounds for a slow, shared machine.
        #expect(afterCreate.cpuSeconds - before.cpuSeconds < 10)
        #expect(after.rssBytes - before.rssBytes < 32 << 20)
    }

    @Test(
        "As pid 1 of its own namespace, a registry status ten years ahead is live once, then ages out",
        .enabled(if: namespacesAvailable)
    )
    func futureStatusInSidecar() async throws {
        let tree = try TemporaryTree()
        let tenYears: Int64 = 10 * 365 * 86_400 * 1000
        try tree.append(
            ".claude/sessions/4242.json",
            registryEntry(
                pid: 4242,
                status: "busy",
                start: "1",
                updatedMilliseconds: String(Int64(Date().timeIntervalSince1970 * 1000) + tenYears)
            )
        )
        let exporter = try await ExporterProcess(
            // 15 s: long enough to be seen busy on a loaded machine, short enough to see it age out.
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "IDLE_TIMEOUT_MINUTES": "0.25"],
            prefix: ["/usr/bin/unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc"]
        )
        try await exporter.waitForMetrics("busy at first") { $0[agentSessions("busy")] == 1 }
        try await exporter.waitForMetrics("aged out after the 15 s timeout", timeout: 40) {
            $0[agentSessions("busy")] == 0 && $0[Series.active] == 0
        }
    }

    @Test("A registry file naming the exporter itself never makes it busy")
    func ownProcess() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let pid = exporter.pid
        try tree.append(
            ".claude/sessions/\(pid).json",
            registryEntry(pid: pid, status: "busy", start: try startTicks(pid), updatedMilliseconds: nowMilliseconds())
        )
        try await exporter.waitForMetrics("the file counted as an entry") { $0[Series.files("status")] == 1 }
        #expect(try exporter.metrics()[agentSessions("busy")] == 0)
    }

    @Test(
        "A tmpfs mounted over a watched project folder is watched at once, not at the next rescan",
        .enabled(if: namespacesAvailable)
    )
    func mountOverWatchedFolder() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        // The exporter in a mount namespace of its own (owned by a user namespace), so the test may mount.
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "3600"],
            prefix: ["/usr/bin/unshare", "--user", "--map-root-user", "--mount"]
        )
        try await exporter.waitForMetrics("one session") { $0[Series.sessions] == 1 }
        let folder = tree.projects + "/-r"
        let script = "mount -t tmpfs cme-test \"$0\" && echo '{}' > \"$0\"/\(uuid()).jsonl"
        let enter = Process()
        enter.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        enter.arguments = [
            "--target", "\(exporter.pid)", "--user", "--mount", "--preserve-credentials", "/bin/sh", "-c", script,
            folder,
        ]
        try enter.run()
        enter.waitUntilExit()
        try #require(enter.terminationStatus == 0, "mount in the exporter's namespace failed")
        // The tmpfs hides the old transcript and holds one new one: still 1 session, now the new file's.
        try await exporter.waitForMetrics("the mount seen", timeout: 10) {
            $0["claude_exporter_rescans_total"] ?? 0 >= 2
        }
        #expect(exporter.log.contains("mounts changed"))
        let append = Process()
        append.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        append.arguments = [
            "--target", "\(exporter.pid)", "--user", "--mount", "--preserve-credentials", "/bin/sh", "-c",
            "echo '{}' > \"$0\"/\(uuid()).jsonl", folder,
        ]
        try append.run()
        append.waitUntilExit()
        try await exporter.waitForMetrics("a session written into the tmpfs counted by its event", timeout: 10) {
            $0[Series.sessions] == 2
        }
    }

    @Test("A stuck state actor makes /health 503 within its bound, and 200 again once it runs")
    func stuckActor() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        let exporter = try await ExporterProcess(environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy])
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(exporter.pid)/task")
        let state = try #require(
            tasks.compactMap(Int32.init).first { tid in
                let comm = try? String(contentsOfFile: "/proc/\(exporter.pid)/task/\(tid)/comm", encoding: .utf8)
                return comm == "state\n"
            },
            "no thread named state"
        )
        let freeze = ThreadFreeze(tid: state)
        try #require(freeze.stopped, "cannot stop the state thread with ptrace")
        // The HTTP thread still answers, from the last snapshot; health must not claim all is well.
        let stuck = await waitUntil(timeout: 60) {
            (try? RawHTTPClient.get("/health", port: exporter.port))??.status == 503
        }
        #expect(stuck, "/health still 200 with the state actor stopped")
        let health = try #require(try RawHTTPClient.get("/health", port: exporter.port))
        #expect(health.body.contains("has not answered"), "\(health.body)")
        #expect(try exporter.metrics()[Series.healthy] == 0)
        freeze.release()
        let recovered = await waitUntil(timeout: 30) {
            (try? RawHTTPClient.get("/health", port: exporter.port))??.status == 200
        }
        #expect(recovered)
    }
}

/// Keeps one thread of another process stopped with ptrace until released. Attaching, waiting and detaching
/// happen on a thread of its own, since a tracer is a thread, and Swift's tasks may change threads.
private final class ThreadFreeze: Sendable {
    private final class State: Sendable {
        let value = Locked<(stopped: Bool?, released: Bool)>((nil, false))
    }

    private let state = State()
    private let thread: PlatformThread

    init(tid: Int32) {
        let state = state
        thread = PlatformThread(name: "thread-freeze") {
            let stopped = cme_thread_stop(tid) == 0
            state.value.withLock { $0.stopped = stopped }
            guard stopped else { return }
            while !state.value.withLock({ $0.released }) { usleep(10_000) }
            _ = cme_thread_resume(tid)
        }
        while state.value.withLock({ $0.stopped }) == nil { usleep(1_000) }
    }

    var stopped: Bool { state.value.withLock { $0.stopped } ?? false }

    func release() {
        state.value.withLock { $0.released = true }
        thread.join()
    }

    deinit {
        state.value.withLock { $0.released = true }
    }
}
