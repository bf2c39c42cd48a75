import FileWatching
import Foundation
import InMemoryLogging
import Logging
import Platform
import Testing

@testable import ExporterCore

private let claude = "/home/agent/.claude"
private let happy = "/home/agent/.happy"
private let logs = happy + "/logs"
private let happyExecutor = ThreadExecutor(name: "test-happy")

private func signal(_ line: String) -> HappyLog.Signal? {
    Array(line.utf8).withUnsafeBytes { HappyLog.signal($0) }
}

@Suite("Happy's log lines")
struct HappyLogTests {
    @Test("Both Claude prefixes, with the trailing space Happy's logger leaves")
    func claudeModes() {
        #expect(
            signal("[14:05:09.123] [claudeRemote] Thinking state changed to: true ")
                == .thinking(true, mode: "claude remote")
        )
        #expect(
            signal("[14:05:09.123] [claudeRemote] Thinking state changed to: false ")
                == .thinking(false, mode: "claude remote")
        )
        #expect(
            signal("[00:00:00.000] [ClaudeLocal] Thinking state changed to: true")
                == .thinking(true, mode: "claude local")
        )
        #expect(
            signal("[24:00:01.999] [ClaudeLocal] Thinking state changed to: false \r")
                == .thinking(false, mode: "claude local")
        )
    }

    @Test("Codex and Gemini lines; the keep-alive that DEBUG adds")
    func otherModes() {
        #expect(signal("[14:05:09.123] thinking started ") == .thinking(true, mode: "codex"))
        #expect(signal("[14:05:09.123] thinking completed ") == .thinking(false, mode: "codex"))
        #expect(signal("[14:05:09.123] [gemini] Status changed: running ") == .thinking(true, mode: "gemini"))
        #expect(signal("[14:05:09.123] [gemini] Status changed: error - quota ") == .thinking(false, mode: "gemini"))
        #expect(signal("[14:05:09.123] [gemini] Status changed: idle ") == .thinking(false, mode: "gemini"))
        #expect(signal("[14:05:09.123] [API] Sending keep alive message: true ") == .keepAlive(thinking: true))
        #expect(signal("[14:05:09.123] [API] Sending keep alive message: false ") == .keepAlive(thinking: false))
    }

    @Test("Anything else counts nothing: JSON block lines, the phrase mid-line, a bad timestamp, a bad value")
    func noise() {
        #expect(signal(#"  "text": "[claudeRemote] Thinking state changed to: true""#) == nil)
        #expect(signal("   [14:05:09.123] [claudeRemote] Thinking state changed to: true ") == nil)
        #expect(signal("[14:05:09.123] user said [claudeRemote] Thinking state changed to: true ") == nil)
        #expect(signal("[14:05:09] [claudeRemote] Thinking state changed to: true ") == nil)
        #expect(signal("[14:05:09.123] [claudeRemote] Thinking state changed to: maybe ") == nil)
        #expect(signal("[14:05:09.123] [claudeRemote] Thinking state changed to: true, really") == nil)
        #expect(signal("[14:05:09.123] thinking started because of x") == nil)
        #expect(signal("[14:05:09.123] [API] Sending keep alive message: ") == nil)
        #expect(signal("") == nil)
    }

    @Test("The pid comes from a per-process log's name; the daemon's log and other names have none")
    func pids() {
        #expect(HappyLog.pid(inLogName: "2025-01-02-14-05-09-pid-1234.log") == 1234)
        #expect(HappyLog.pid(inLogName: "2025-01-02-14-05-09-pid-1234-daemon.log") == nil)
        #expect(HappyLog.pid(inLogName: "2025-01-02-14-05-09.log") == nil)
        #expect(HappyLog.pid(inLogName: "x-pid-.log") == nil)
        #expect(HappyLog.pid(inLogName: "x-pid-12a.log") == nil)
        #expect(HappyLog.pid(inLogName: "x-pid-99999999999.log") == nil)
        #expect(HappyLog.pid(inLogName: "x-pid-0.log") == nil)
        #expect(HappyLog.pid(inLogName: "x-pid-7.log.bak") == nil)
    }
}

/// A tracker over a fake tree and a fake process table.
private struct HappyHarness {
    let fileSystem = FakeFileSystem()
    let registry = FakeWatchRegistry()
    let clock = ManualClock(Timestamp(seconds: 1_000_000))
    let logs = InMemoryLogHandler()
    let store = SnapshotStore(ActivitySnapshot(startTime: Timestamp(seconds: 999_000)))
    let processes: FakeProcessTable
    let tracker: ActivityTracker

    init(seesOtherProcesses: Bool = true) {
        processes = FakeProcessTable(seesOtherProcesses: seesOtherProcesses)
        let handler = logs
        let clock = clock
        fileSystem.addDirectory(claude + "/projects")
        tracker = ActivityTracker(
            settings: TrackerSettings(claudeDirectory: claude, happyDirectory: happy, idleTimeoutSeconds: 600),
            fileSystem: fileSystem,
            registry: registry,
            store: store,
            executor: happyExecutor,
            logger: Logger(label: "test") { _ in handler },
            processes: processes,
            clock: { clock.now }
        )
    }

    var snapshot: ActivitySnapshot { store.snapshot }

    /// The agent's status with the default sources, now.
    var status: ActivityStatus {
        snapshot.status(at: clock.now, idleTimeoutSeconds: 600, sources: ActivitySource.defaultDriving)
    }

    func changed(_ name: String) async {
        guard let descriptor = registry.descriptor(HappyStateTests.logs) else {
            Issue.record("logs/ is not watched: \(registry.watchedPaths.sorted())")
            return
        }
        await tracker.handle([InotifyEvent(descriptor: descriptor, mask: .modify, name: name)])
    }

    func messages() -> [String] { logs.entries.map(\.message.description) }
}

@Suite("Happy's thinking state, followed in its logs")
struct HappyStateTests {
    static let logs = happy + "/logs"
    private let name = "2026-12-02-10-00-00-pid-4242.log"
    private var path: String { Self.logs + "/" + name }
    private func line(_ text: String) -> String { "[10:00:00.000] \(text) \n" }

    @Test(
        "Thinking is activity now, whatever the files' times; a JSON block saying otherwise and a partial line do not count"
    )
    func thinkingThenDone() async {
        let harness = HappyHarness()
        harness.processes.start(4242, ticks: 1)
        harness.fileSystem.writeFile(
            path,
            line("[API MACHINE] Keep-alive started (20s interval)")
                + line("[claudeRemote] Thinking state changed to: true")
        )
        await harness.tracker.start()
        #expect(harness.snapshot.happyThinking)
        #expect(
            harness.snapshot.happyProcesses == [
                HappyProcess(pid: 4242, log: path, thinking: true, mode: "claude remote")
            ]
        )
        #expect(harness.snapshot.files[.happyState] == 1)
        harness.clock.advance(seconds: 3600)
        #expect(harness.status.active && harness.status.source == .happyState)
        #expect(
            Drain.evaluate(
                harness.snapshot,
                at: harness.clock.now,
                quietSeconds: 30,
                sources: ActivitySource.defaultDriving
            ) != .ready
        )

        // debugLargeJson's block: lines that start with spaces, holding the words.
        harness.fileSystem.appendFile(
            path,
            line("[claudeRemote] Message:")
                + "  {\n    \"text\": \"[claudeRemote] Thinking state changed to: false\"\n  }\n"
        )
        await harness.changed(name)
        #expect(harness.snapshot.happyThinking)
        // A partial line waits for its newline.
        harness.fileSystem.appendFile(path, "[10:00:09.000] [claudeRemote] Thinking state changed to: fal")
        await harness.changed(name)
        #expect(harness.snapshot.happyThinking)
        harness.fileSystem.appendFile(path, "se \n")
        await harness.changed(name)
        #expect(!harness.snapshot.happyThinking)
        #expect(harness.snapshot.happyProcesses.map(\.thinking) == [false])
        // The idle timeout counts from that line.
        #expect(harness.status.active && harness.status.secondsSince == 0)
        harness.clock.advance(seconds: 601)
        #expect(!harness.status.active)
        #expect(harness.messages().contains("Happy agent thinking"))
        #expect(harness.messages().contains("Happy agent stopped thinking"))
    }

    @Test(
        "A crash while thinking stops counting at the next liveness check; the daemon's log and dead pids are never read"
    )
    func crash() async {
        let harness = HappyHarness()
        harness.processes.start(4242, ticks: 1)
        harness.fileSystem.writeFile(path, line("[ClaudeLocal] Thinking state changed to: true"))
        harness.fileSystem.writeFile(
            Self.logs + "/2026-12-01-pid-77-daemon.log",
            line("[ClaudeLocal] Thinking state changed to: true")
        )
        harness.fileSystem.writeFile(
            Self.logs + "/2026-12-01-pid-78.log",
            line("[ClaudeLocal] Thinking state changed to: true")
        )
        await harness.tracker.start()
        #expect(harness.snapshot.happyProcesses.map(\.pid) == [4242])
        harness.processes.exit(4242)
        await harness.tracker.rescan()
        #expect(!harness.snapshot.happyThinking)
        #expect(harness.snapshot.happyProcesses.isEmpty)
        #expect(harness.messages().contains("no longer following a thinking Happy process"))
    }

    @Test("Without /proc, the log's age decides: the idle timeout, or 10 s once keep-alive lines were seen")
    func noProcessTable() async {
        let harness = HappyHarness(seesOtherProcesses: false)
        harness.fileSystem.writeFile(
            path,
            line("[claudeRemote] Thinking state changed to: true"),
            modified: harness.clock.now
        )
        await harness.tracker.start()
        #expect(harness.snapshot.happyThinking)
        harness.clock.advance(seconds: 601)
        await harness.tracker.rescan()
        #expect(!harness.snapshot.happyThinking)
        // With keep-alives (DEBUG), silence for more than 10 s is a process gone.
        harness.fileSystem.appendFile(path, line("[API] Sending keep alive message: true"), modified: harness.clock.now)
        await harness.changed(name)
        #expect(harness.snapshot.happyThinking)
        harness.clock.advance(seconds: 11)
        await harness.tracker.rescan()
        #expect(!harness.snapshot.happyThinking)
    }

    @Test("A reused pid's old log, this process, pid 1: never followed; of two logs of one process, the newest speaks")
    func wrongProcesses() async {
        let harness = HappyHarness()
        // FakeProcessTable's start ticks are wall-clock seconds: 4242 started after the old log was last written.
        harness.processes.start(4242, ticks: 999_500)
        harness.processes.start(1, ticks: 1)
        harness.processes.start(999_999, ticks: 1)  // the exporter itself (FakeProcessTable's own pid)
        harness.fileSystem.writeFile(
            path,
            line("[claudeRemote] Thinking state changed to: true"),
            modified: Timestamp(seconds: 999_000)
        )
        harness.fileSystem.writeFile(Self.logs + "/x-pid-1.log", line("[claudeRemote] Thinking state changed to: true"))
        harness.fileSystem.writeFile(
            Self.logs + "/x-pid-999999.log",
            line("[claudeRemote] Thinking state changed to: true")
        )
        await harness.tracker.start()
        #expect(harness.snapshot.happyProcesses.isEmpty)
        #expect(!harness.snapshot.happyThinking)
        // The process's own, newer log: followed; the old one stays out.
        let newer = Self.logs + "/2026-12-02-11-00-00-pid-4242.log"
        harness.fileSystem.writeFile(
            newer,
            line("[ClaudeLocal] Thinking state changed to: false"),
            modified: Timestamp(seconds: 999_900)
        )
        await harness.tracker.rescan()
        #expect(harness.snapshot.happyProcesses.map(\.log) == [newer])
        #expect(!harness.snapshot.happyThinking)
    }

    @Test("Without /proc, a log dated in the future counts as written now, then ages")
    func futureTime() async {
        let harness = HappyHarness(seesOtherProcesses: false)
        harness.fileSystem.writeFile(
            path,
            line("[claudeRemote] Thinking state changed to: true"),
            modified: Timestamp(seconds: 4_000_000_000)
        )
        await harness.tracker.start()
        #expect(harness.snapshot.happyThinking)
        harness.clock.advance(seconds: 601)
        await harness.tracker.rescan()
        #expect(!harness.snapshot.happyThinking)
    }

    @Test("At most 64 processes: a newer log takes the place of the least recently written, with a warning")
    func bounded() async {
        let harness = HappyHarness()
        for pid in 5000..<5064 {
            harness.processes.start(Int32(pid), ticks: 1)
            harness.fileSystem.writeFile(
                Self.logs + "/a-pid-\(pid).log",
                line("thinking completed"),
                modified: Timestamp(seconds: 990_000 + Int64(pid))
            )
        }
        await harness.tracker.start()
        #expect(harness.snapshot.happyProcesses.count == 64)
        harness.processes.start(6000, ticks: 1)
        harness.fileSystem.writeFile(
            Self.logs + "/b-pid-6000.log",
            line("thinking started"),
            modified: harness.clock.now
        )
        await harness.changed("b-pid-6000.log")
        #expect(harness.snapshot.happyProcesses.count == 64)
        #expect(harness.snapshot.happyThinking)
        #expect(!harness.snapshot.happyProcesses.contains { $0.pid == 5000 })
        #expect(
            harness.logs.entries.contains {
                $0.level == .warning && $0.message.description.hasPrefix("more Happy processes")
            }
        )
    }

    @Test("A replaced log is read from its start; a long history is read only near its end")
    func replacedAndLong() async {
        let harness = HappyHarness()
        harness.processes.start(4242, ticks: 1)
        // More than the first-read window of noise after a thinking line: that old line is not read.
        let noise = String(repeating: line(String(repeating: "x", count: 200)), count: 6000)
        harness.fileSystem.writeFile(path, line("thinking started") + noise)
        await harness.tracker.start()
        #expect(harness.snapshot.happyProcesses.map(\.thinking) == [false])
        harness.fileSystem.replaceFile(path, line("[gemini] Status changed: running - tool"))
        await harness.changed(name)
        #expect(harness.snapshot.happyProcesses == [HappyProcess(pid: 4242, log: path, thinking: true, mode: "gemini")])
    }
}
