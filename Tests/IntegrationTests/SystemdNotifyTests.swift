import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let session = "0b5e2c1a-1234-4abc-9def-0123456789ab"

private func monotonicMicroseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
}

/// libsystemd0 is part of every Debian system (apt needs it); the binary loads it at run time.
@Suite("sd_notify with a fake notification socket")
struct SystemdNotifyTests {
    @Test("READY only after the first scan, STATUS on changes, STOPPING on SIGTERM")
    func readyStatusStopping() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(session).jsonl")
        let socket = try NotifySocket()
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "NOTIFY_SOCKET": socket.path,
            "IDLE_TIMEOUT_MINUTES": "0.05",
        ])
        let ready = try #require(socket.receive(until: { $0.contains("READY=1") }, timeout: 10))
        #expect(ready.before.isEmpty, "notifications before READY: \(ready.before)")
        #expect(ready.match.contains("STATUS=active · 1 session · last activity "))
        #expect(ready.match.contains("(transcripts) · "))
        #expect(ready.match.hasSuffix(" watches") || ready.match.contains(" watches\n"))
        // READY means the first scan is done: the very next scrape is complete.
        #expect(try exporter.metrics()[Series.sessions] == 1)

        // The agent turns idle after 3 s: the status line says so.
        let idle = socket.receive(until: { $0.hasPrefix("STATUS=idle") }, timeout: 10)
        #expect(idle != nil)
        try tree.append(".claude/projects/-r/\(session).jsonl")
        let active = socket.receive(until: { $0.hasPrefix("STATUS=active") }, timeout: 10)
        #expect(active != nil)

        kill(exporter.process.processIdentifier, SIGTERM)
        #expect(socket.receive(until: { $0 == "STOPPING=1" }, timeout: 10) != nil)
        #expect(await exporter.stop() == 0)
    }

    @Test("WATCHDOG=1 at half of WATCHDOG_USEC")
    func watchdogCadence() async throws {
        let tree = try TemporaryTree()
        let socket = try NotifySocket()
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "NOTIFY_SOCKET": socket.path,
            "WATCHDOG_USEC": "400000",
        ])
        #expect(socket.receive(until: { $0.contains("READY=1") }, timeout: 10) != nil)
        // Counted over a window rather than timed one by one: a loaded test machine reads the socket late and
        // in bursts, but cannot change how many pings were sent.
        while socket.receive(timeout: 0) != nil {}  // what queued up before the window
        var pings = 0
        let window = Date().addingTimeInterval(3)
        while let remaining = Optional(window.timeIntervalSinceNow), remaining > 0 {
            if socket.receive(timeout: remaining) == "WATCHDOG=1" { pings += 1 }
        }
        // Every 0.2 s: 15 in 3 s; fewer if the machine stalls, never more.
        #expect(pings >= 5 && pings <= 16, "\(pings) pings in 3 s")
        _ = exporter
    }

    @Test("No WATCHDOG=1 when WATCHDOG_PID is another process's")
    func watchdogOtherPid() async throws {
        let tree = try TemporaryTree()
        let socket = try NotifySocket()
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "NOTIFY_SOCKET": socket.path,
            "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1",
        ])
        #expect(socket.receive(until: { $0.contains("READY=1") }, timeout: 10) != nil)
        #expect(socket.receive(until: { $0 == "WATCHDOG=1" }, timeout: 1.5) == nil)
        _ = exporter
    }

    @Test("SIGHUP: RELOADING=1 with a sane MONOTONIC_USEC, then READY=1")
    func reload() async throws {
        let tree = try TemporaryTree()
        let socket = try NotifySocket()
        let exporter = try await ExporterProcess(environment: [
            "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "NOTIFY_SOCKET": socket.path,
        ])
        #expect(socket.receive(until: { $0.contains("READY=1") }, timeout: 10) != nil)
        let before = monotonicMicroseconds()
        kill(exporter.process.processIdentifier, SIGHUP)
        let reloading = try #require(socket.receive(until: { $0.hasPrefix("RELOADING=1") }, timeout: 10))
        let after = monotonicMicroseconds()
        let stamp = try #require(
            reloading.match.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }.flatMap {
                UInt64($0.dropFirst(15))
            }
        )
        #expect(stamp >= before && stamp <= after, "MONOTONIC_USEC \(stamp) not within [\(before), \(after)]")
        #expect(socket.receive(until: { $0.contains("READY=1") }, timeout: 10) != nil)
        #expect(exporter.log.contains("reloading"))
    }
}

@Suite("The binary's declared optional dependency")
struct DlopenNoteTests {
    @Test(
        "The .note.dlopen note names libsystemd.so.0 in the freedesktop.org format",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/objcopy"))
    )
    func dlopenNote() throws {
        let out = NSTemporaryDirectory() + "cme-note-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let objcopy = Process()
        objcopy.executableURL = URL(fileURLWithPath: "/usr/bin/objcopy")
        objcopy.arguments = ["-O", "binary", "--only-section=.note.dlopen", exporterBinary, out]
        try objcopy.run()
        objcopy.waitUntilExit()
        let note = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        try #require(note.count > 16, "no .note.dlopen section")
        func word(_ at: Int) -> UInt32 { note[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        #expect(word(0) == 4 && word(8) == 0x407c_0c0a)
        #expect(Array(note[12..<16]) == Array("FDO\0".utf8))
        let json = String(decoding: note[16..<(16 + Int(word(4)) - 1)], as: UTF8.self)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.first?["soname"] as? [String] == ["libsystemd.so.0"])
        #expect(parsed.first?["priority"] as? String == "recommended")
    }
}
