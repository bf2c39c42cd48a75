import FileWatching
import InMemoryLogging
import Logging
import Platform
import Testing

@testable import ExporterCore

private let first = "/home/agent/.claude"
private let second = "/home/agent/.config/claude"
private let uuid1 = "0b5e2c1a-1234-4abc-9def-0123456789ab"
private let uuid2 = "1b5e2c1a-1234-4abc-9def-0123456789ab"
private let uuid3 = "2b5e2c1a-1234-4abc-9def-0123456789ab"
private let groupExecutor = ThreadExecutor(name: "test-group")

private func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: seconds) }

private let statusContext = StatusPage.Context(
    podName: nil,
    repositoryName: nil,
    idleTimeoutSeconds: 600,
    drivingSources: ActivitySource.defaultDriving,
    directories: RootDirectory.allCases.map(\.defaultPath),
    version: "1.2.3",
    revision: "abc"
)

@Suite("CLAUDE_DIR as a list")
struct ClaudeDirectoryListConfigurationTests {
    @Test("The default lists ~/.claude and ~/.config/claude; a list is split, trimmed and de-duplicated")
    func lists() throws {
        let defaults = try ExporterConfiguration(environment: [:])
        #expect(defaults.allDirectories(of: .claude) == [first, second])
        #expect(ExporterConfiguration.helpText.contains("default /home/agent/.claude,/home/agent/.config/claude"))
        let one = try ExporterConfiguration(environment: ["CLAUDE_DIR": "/srv/claude/"])
        #expect(one.allDirectories(of: .claude) == ["/srv/claude"])
        let list = try ExporterConfiguration(environment: ["CLAUDE_DIR": " /a , /b/,/a"])
        #expect(list.allDirectories(of: .claude) == ["/a", "/b"])
        #expect(list.claudeDirectory == "/a")
        #expect(list.directoriesForDisplay[RootDirectory.claude.index] == "/a,/b")
        let fallback = try ExporterConfiguration(environment: ["CLAUDE_CONFIG_DIR": "/x,/y"])
        #expect(fallback.allDirectories(of: .claude) == ["/x", "/y"])
        let flag = try ExporterConfiguration(environment: ["CLAUDE_DIR": "/a,/b"], flags: ["--claude-dir": "/c"])
        #expect(flag.allDirectories(of: .claude) == ["/c"])
        // Only Claude's setting is a list: elsewhere a comma is part of the path.
        let happy = try ExporterConfiguration(environment: ["HAPPY_DIR": "/a,/b"])
        #expect(happy.allDirectories(of: .happy) == ["/a,/b"])
    }

    @Test("A bad entry names the setting, the whole value and what is wrong")
    func badEntries() {
        let cases: [(String, String)] = [
            ("/a,,/b", "without empty entries"),
            ("/a,", "without empty entries"),
            ("/a,relative", "\"relative\" is not an absolute path"),
            (" , ", "without empty entries"),
            ((1...17).map { "/d\($0)" }.joined(separator: ","), "at most 16 directories"),
        ]
        for (value, reason) in cases {
            do {
                _ = try ExporterConfiguration(environment: ["CLAUDE_DIR": value])
                Issue.record("\(value) accepted")
            } catch {
                #expect(error.setting == "CLAUDE_DIR" && error.value == value && error.exitCode == 78)
                #expect(error.allowed.contains(reason), "\(error.allowed)")
            }
        }
    }

    @Test("Every directory of the list is checked: one that is a file stops the exporter")
    func checked() throws {
        let fs = FakeFileSystem()
        fs.addFile("/b")
        let configuration = try ExporterConfiguration(environment: ["CLAUDE_DIR": "/a,/b"])
        #expect(
            throws: ConfigurationError(
                setting: "CLAUDE_DIR",
                value: "/b",
                allowed: "it exists but is not a directory; expected a directory (it need not exist yet)"
            )
        ) { try configuration.checkDirectories(using: fs) }
    }

    @Test("One tracker per further directory, watching only that root")
    func settings() throws {
        let configuration = try ExporterConfiguration(environment: ["CLAUDE_DIR": "/a,/b,/c"])
        let all = TrackerSettings.all(configuration)
        #expect(all.count == 3)
        #expect(all[0].roots == RootDirectory.allCases && all[0].directory(of: .claude) == "/a")
        #expect(all[1].roots == [.claude] && all[1].directory(of: .claude) == "/b")
        #expect(all[2].directory(of: .claude) == "/c")
        #expect(all.allSatisfy { $0.listedRoots == [.claude] })
        let single = try ExporterConfiguration(environment: ["CLAUDE_DIR": "/a"])
        #expect(TrackerSettings.all(single).count == 1 && TrackerSettings.all(single)[0].listedRoots.isEmpty)
    }
}

/// A group of trackers over a fake tree with two Claude directories.
private struct GroupHarness {
    let fileSystem = FakeFileSystem()
    let registry = FakeWatchRegistry()
    let clock = ManualClock()
    let processes = FakeProcessTable()
    let logs = InMemoryLogHandler()
    let store: SnapshotStore
    let group: TrackerGroup

    init() throws {
        var handler = logs
        handler.logLevel = .debug
        let logger = Logger(label: "test") { _ in handler }
        let clock = clock
        var configuration = try ExporterConfiguration(environment: [
            "CLAUDE_DIR": "\(first),\(second)", "HAPPY_DIR": "/home/agent/.happy",
        ])
        configuration.idleTimeoutMinutes = 10
        store = TrackerGroup.store(for: configuration, startTime: at(9_000))
        group = TrackerGroup(
            configuration: configuration,
            fileSystem: fileSystem,
            registry: registry,
            store: store,
            executor: groupExecutor,
            logger: logger,
            processes: processes,
            clock: { clock.now }
        )
    }

    var snapshot: ActivitySnapshot { store.snapshot }

    func event(_ directory: String, _ name: String, _ mask: InotifyMask) throws -> InotifyEvent {
        let descriptor = try #require(registry.descriptor(directory), "\(directory) is not watched")
        return InotifyEvent(descriptor: descriptor, mask: mask, name: name)
    }

    func registryFile(_ directory: String, pid: Int32, session: String, status: String) {
        processes.start(pid, ticks: 77)
        fileSystem.writeFile(
            "\(directory)/sessions/\(pid).json",
            #"{"pid":\#(pid),"sessionId":"\#(session)","cwd":"/w","status":"\#(status)","procStart":"77"}"#,
            modified: at(9_900)
        )
    }
}

@Suite("Two Claude directories: sessions, sources and the registry are their union")
struct ClaudeDirectoryListTrackerTests {
    @Test("Counts add up, the newest activity of either wins, events in either are seen")
    func union() async throws {
        let harness = try GroupHarness()
        let fs = harness.fileSystem
        fs.addFile("\(first)/projects/-repo/\(uuid1).jsonl", modified: at(9_500))
        fs.addFile("\(first)/projects/-repo/\(uuid2).jsonl", modified: at(9_400))
        fs.addFile("\(second)/projects/-repo/\(uuid3).jsonl", modified: at(9_700))
        fs.addFile("\(second)/history.jsonl", modified: at(9_300))
        await harness.group.start()
        var snapshot = harness.snapshot
        #expect(snapshot.sessions == 3)
        #expect(snapshot.files[.transcripts] == 3 && snapshot.files[.history] == 1)
        #expect(snapshot.newest[.transcripts]?.path == "\(second)/projects/-repo/\(uuid3).jsonl")
        #expect(snapshot.directoriesPresent[RootDirectory.claude.index])

        // A change in the first directory, then a new session in the second.
        harness.clock.advance(seconds: 100)
        fs.touch("\(first)/projects/-repo/\(uuid1).jsonl", harness.clock.now)
        await harness.group.handle([try harness.event("\(first)/projects/-repo", "\(uuid1).jsonl", .modify)])
        #expect(harness.snapshot.newest[.transcripts]?.path == "\(first)/projects/-repo/\(uuid1).jsonl")
        let fresh = "4b5e2c1a-1234-4abc-9def-0123456789ab"
        fs.addFile("\(second)/projects/-repo/\(fresh).jsonl", modified: harness.clock.now)
        await harness.group.handle([try harness.event("\(second)/projects/-repo", "\(fresh).jsonl", .create)])
        snapshot = harness.snapshot
        #expect(snapshot.sessions == 4)
        let status = snapshot.status(at: harness.clock.now, idleTimeoutSeconds: 600, sources: [.transcripts])
        #expect(status.active && status.timestamp == harness.clock.now.secondsSinceEpoch)
        #expect(snapshot.events == 2, "each event counted once, not once per tracker")
    }

    @Test("Live registry entries of both directories are listed and counted once each")
    func registries() async throws {
        let harness = try GroupHarness()
        harness.registryFile(first, pid: 101, session: uuid1, status: "idle")
        harness.registryFile(second, pid: 202, session: uuid2, status: "busy")
        await harness.group.start()
        let snapshot = harness.snapshot
        #expect(snapshot.liveSessions.map(\.pid) == [101, 202])
        #expect(snapshot.agentSessions(.busy) == 1 && snapshot.agentSessions(.idle) == 1)
        #expect(snapshot.statusActive)
    }

    @Test("A missing directory of the list is a notice; the root is present while any of them is")
    func missingOne() async throws {
        let harness = try GroupHarness()
        harness.fileSystem.addDirectory(first)
        await harness.group.start()
        #expect(harness.snapshot.directoriesPresent[RootDirectory.claude.index])
        let waiting = harness.logs.entries.filter { $0.message.description.hasPrefix("waiting for \(second)") }
        #expect(waiting.count == 1 && waiting.first?.level == .notice)
        #expect(!harness.logs.entries.contains { $0.level >= .warning && $0.message.description.contains(".claude") })
        // The status page gives each directory of the list its own row and state.
        let page = StatusPage.html(harness.snapshot, at: harness.clock.now, statusContext)
        #expect(page.contains("<td class=\"p\">\(first)</td><td>present</td>"))
        #expect(page.contains("<td class=\"p\">\(second)</td><td>waiting for it to be created</td>"))

        // It appears: watched and counted from then on.
        harness.fileSystem.addFile("\(second)/projects/-r/\(uuid3).jsonl", modified: harness.clock.now)
        await harness.group.handle([try harness.event("/home/agent", ".config", [.create, .isDirectory])])
        #expect(harness.snapshot.sessions == 1)
        #expect(harness.registry.watchedPaths.contains("\(second)/projects/-r"))
    }

    @Test("Both missing: the root is absent, and the status line names the list")
    func bothMissing() async throws {
        let harness = try GroupHarness()
        harness.fileSystem.addDirectory("/home/agent")
        await harness.group.start()
        let snapshot = harness.snapshot
        #expect(!snapshot.directoriesPresent[RootDirectory.claude.index])
        #expect(StatusLine.missingRoots(snapshot, sources: [.transcripts]) == [.claude])
    }

    @Test("None of the list exists: one warning naming the whole list")
    func noneExists() async throws {
        let harness = try GroupHarness()
        harness.fileSystem.addDirectory("/home/agent")
        await harness.group.start()
        let warnings = harness.logs.entries.filter { $0.level == .warning }.map { $0.message.description }
        #expect(warnings.contains { $0.hasPrefix("none of the directories exists: waiting for \(first),\(second)") })
    }

    @Test("A directory of the list that is another through a symbolic link counts once")
    func symlinkedDuplicate() async throws {
        let harness = try GroupHarness()
        harness.fileSystem.addFile("\(first)/projects/-repo/\(uuid1).jsonl", modified: at(9_500))
        harness.fileSystem.addFile("\(second)/projects/-repo/\(uuid1).jsonl", modified: at(9_500))
        harness.fileSystem.resolve(second, to: first)
        await harness.group.start()
        #expect(harness.snapshot.sessions == 1)
        #expect(!harness.registry.watchedPaths.contains { $0.hasPrefix(second) })
        #expect(
            harness.logs.entries.contains {
                $0.message.description == "\(second) is the same directory as \(first); counted once"
            }
        )
        await harness.group.rescan()
        #expect(harness.snapshot.sessions == 1)
    }

    @Test("A further directory that cannot be looked at (its parent not searchable) is logged, not unhealthy")
    func unsearchable() async throws {
        let harness = try GroupHarness()
        harness.fileSystem.addDirectory(first)
        harness.fileSystem.denySearch(second)
        await harness.group.start()
        #expect(harness.snapshot.healthy)
        #expect(harness.logs.entries.contains { $0.level == .warning && "\($0.metadata["path"] ?? "")" == second })
    }

    @Test("A watch two trackers share, removed by one: the other is told (IN_IGNORED) and watches again")
    func sharedWatchRemoved() async throws {
        let harness = try GroupHarness()
        harness.fileSystem.addDirectory(first)
        await harness.group.start()
        // Both await folders in /home/agent: .config (for the second directory), .happy, .codex, .gemini.
        let shared = try #require(harness.registry.descriptor("/home/agent"))
        harness.fileSystem.addDirectory(second)
        await harness.group.handle([try harness.event("/home/agent", ".config", [.create, .isDirectory])])
        #expect(harness.snapshot.directoriesPresent[RootDirectory.claude.index])
        if harness.registry.descriptor("/home/agent") == nil {
            // The second tracker no longer needed it and removed the kernel's watch: the kernel says so.
            await harness.group.handle([InotifyEvent(descriptor: shared, mask: .ignored, name: nil)])
        }
        harness.fileSystem.addDirectory("/home/agent/.codex/sessions")
        await harness.group.handle([try harness.event("/home/agent", ".codex", [.create, .isDirectory])])
        #expect(harness.snapshot.directoriesPresent[RootDirectory.codex.index], "the main tracker lost its watch")
    }
}
