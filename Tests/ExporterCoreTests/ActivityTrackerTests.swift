import FileWatching
import InMemoryLogging
import Logging
import Platform
import Testing

@testable import ExporterCore

#if canImport(Glibc)
import Glibc
#endif

private let claude = "/home/agent/.claude"
private let happy = "/home/agent/.happy"
private let projects = claude + "/projects"
private let uuid1 = "0b5e2c1a-1234-4abc-9def-0123456789ab"
private let uuid2 = "1b5e2c1a-1234-4abc-9def-0123456789ab"
private let executor = ThreadExecutor(name: "test-state")

/// A tracker over a fake tree, with the fakes it uses.
private struct Harness {
    let fileSystem = FakeFileSystem()
    let registry = FakeWatchRegistry()
    let clock = ManualClock()
    let logs = InMemoryLogHandler()
    let store = SnapshotStore(ActivitySnapshot(startTime: Timestamp(seconds: 9_000)))
    let tracker: ActivityTracker

    init(sources: Set<ActivitySource> = ActivitySource.defaultDriving, registry watched: Bool = true) {
        var handler = logs
        handler.logLevel = .debug
        let logger = Logger(label: "test") { _ in handler }
        let clock = clock
        tracker = ActivityTracker(
            settings: TrackerSettings(
                claudeDirectory: claude,
                happyDirectory: happy,
                idleTimeoutSeconds: 600,
                drivingSources: sources
            ),
            fileSystem: fileSystem,
            registry: watched ? registry : nil,
            store: store,
            executor: executor,
            logger: logger,
            clock: { clock.now }
        )
    }

    var snapshot: ActivitySnapshot { store.snapshot }

    func event(_ directory: String, _ name: String?, _ mask: InotifyMask) -> InotifyEvent {
        guard let descriptor = registry.descriptor(directory) else {
            Issue.record("\(directory) is not watched; watched: \(registry.watchedPaths.sorted())")
            return InotifyEvent(descriptor: WatchDescriptor(-99), mask: mask, name: name)
        }
        return InotifyEvent(descriptor: descriptor, mask: mask, name: name)
    }

    func messages(_ level: Logger.Level) -> [String] {
        logs.entries.filter { $0.level == level }.map { $0.message.description }
    }
}

private func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: seconds) }

@Suite("The state actor on a fake tree")
struct ActivityTrackerTests {
    @Test("Counts sessions on both layouts and ignores every kind of noise")
    func countsAndNoise() async {
        let harness = Harness()
        let fs = harness.fileSystem
        fs.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(9_500))
        fs.addFile("\(projects)/-repo/session-old.jsonl", modified: at(9_400))
        fs.addFile("\(projects)/-repo/agent-1234.jsonl", modified: at(9_600))
        fs.addFile("\(projects)/-repo/\(uuid1)/subagents/agent-a1.jsonl", modified: at(9_700))
        fs.addFile("\(projects)/-repo/\(uuid1)/subagents/agent-a1.meta.json", modified: at(9_990))
        fs.addFile("\(projects)/-repo/\(uuid1)/tool-results/out.jsonl", modified: at(9_990))
        fs.addFile("\(projects)/-repo/\(uuid1)/deeper.jsonl", modified: at(9_990))
        fs.addFile("\(projects)/-other/\(uuid2).jsonl", modified: at(9_100))
        fs.addFile("\(projects)/-other/notes.txt", modified: at(9_990))
        fs.addFile("\(projects)/stray.jsonl", modified: at(9_990))
        for noise in [
            "debug/x.txt", "statsig/s", "todos/t.json", "shell-snapshots/s.sh", "session-env/e", "file-history/f",
            "ide/1.lock", "plans/p.md", "telemetry/t", "settings.json", "tool-results/r", "memory/m.md",
        ] {
            fs.addFile("\(claude)/\(noise)", modified: at(9_990))
        }
        fs.addFile("\(claude)/.claude.json", modified: at(9_990))
        fs.addFile("\(claude)/history.jsonl", modified: at(9_300))
        fs.addFile("\(happy)/logs/123.log", modified: at(9_995))
        fs.addFile("\(happy)/settings.json", modified: at(9_999))

        await harness.tracker.start()
        let snapshot = harness.snapshot
        #expect(snapshot.sessions == 3)
        #expect(snapshot.files[.transcripts] == 5)
        #expect(snapshot.files[.history] == 1)
        #expect(snapshot.files[.happyLogs] == 1)
        #expect(snapshot.newest[.transcripts]?.time == at(9_700))
        #expect(snapshot.newest[.history]?.time == at(9_300))
        #expect(snapshot.newest[.happyLogs]?.time == at(9_995))
        #expect(snapshot.healthy)
        #expect(snapshot.rescans == 1)
        let status = snapshot.status(at: harness.clock.now, idleTimeoutSeconds: 600, sources: [.transcripts, .history])
        #expect(status.timestamp == 9_700)
        #expect(status.active)
        #expect(status.source == .transcripts)
        #expect(
            harness.registry.watchedPaths == [
                claude, projects, "\(projects)/-repo", "\(projects)/-other", "\(projects)/-repo/\(uuid1)",
                "\(projects)/-repo/\(uuid1)/subagents", happy, "\(happy)/logs",
                // The parent of the missing Codex and Gemini directories, awaiting them.
                "/home/agent",
            ]
        )
    }

    @Test("Many project folders are listed on several threads with the same result")
    func parallelListing() async {
        let harness = Harness()
        for project in 0..<40 {
            for session in 0..<(project % 5) {
                harness.fileSystem.addFile(
                    "\(projects)/-p\(project)/session-\(session).jsonl",
                    modified: at(Int64(1_000 + project))
                )
            }
            harness.fileSystem.addFile("\(projects)/-p\(project)/agent-x.jsonl", modified: at(500))
        }
        await harness.tracker.start()
        #expect(harness.snapshot.sessions == (0..<40).reduce(0) { $0 + $1 % 5 })
        #expect(harness.snapshot.files[.transcripts] == harness.snapshot.sessions + 40)
        #expect(harness.snapshot.newest[.transcripts]?.time == at(1_039))
        #expect(harness.snapshot.newest[.transcripts]?.path == "\(projects)/-p39/session-0.jsonl")
    }

    @Test("Happy logs are exported but drive activity only when ACTIVITY_SOURCES names them")
    func happyLogsDoNotDriveByDefault() async {
        for (sources, active) in [
            (ActivitySource.defaultDriving, false), ([.transcripts, .history, .happyLogs], true),
        ] {
            let harness = Harness(sources: sources)
            harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(1_000))
            harness.fileSystem.addFile("\(happy)/logs/1.log", modified: at(9_990))
            await harness.tracker.start()
            let status = harness.snapshot.status(at: harness.clock.now, idleTimeoutSeconds: 600, sources: sources)
            #expect(status.active == active)
            #expect(harness.snapshot.newest[.happyLogs]?.time == at(9_990))
        }
    }

    @Test("No activity file yet: timestamp 0, idle, minutes since the exporter started")
    func nothingYet() async {
        let harness = Harness()
        await harness.tracker.start()
        let status = harness.snapshot.status(at: at(9_600), idleTimeoutSeconds: 600, sources: [.transcripts])
        #expect(status == ActivityStatus(timestamp: 0, active: false, secondsSince: 600, source: nil))
        #expect(harness.snapshot.files[.transcripts] == 0)
    }

    @Test("Appends, new files, deletes and renames update the state at once")
    func events() async {
        let harness = Harness()
        let fs = harness.fileSystem
        let repo = "\(projects)/-repo"
        fs.addFile("\(repo)/\(uuid1).jsonl", modified: at(5_000))
        await harness.tracker.start()
        #expect(harness.snapshot.sessions == 1)

        fs.touch("\(repo)/\(uuid1).jsonl", at(9_999))
        await harness.tracker.handle([harness.event(repo, "\(uuid1).jsonl", .modify)])
        #expect(harness.snapshot.newest[.transcripts]?.time == at(9_999))

        fs.addFile("\(repo)/\(uuid2).jsonl", modified: at(10_000))
        await harness.tracker.handle([harness.event(repo, "\(uuid2).jsonl", .create)])
        #expect(harness.snapshot.sessions == 2)

        // An atomic rewrite (temp file renamed over the transcript) does not count twice.
        fs.addFile("\(repo)/\(uuid2).jsonl", modified: at(10_000))
        await harness.tracker.handle([
            harness.event(repo, ".\(uuid2).jsonl.tmp", .create), harness.event(repo, ".\(uuid2).jsonl.tmp", .movedFrom),
            harness.event(repo, "\(uuid2).jsonl", .movedTo),
        ])
        #expect(harness.snapshot.sessions == 2)

        fs.remove("\(repo)/\(uuid1).jsonl")
        await harness.tracker.handle([harness.event(repo, "\(uuid1).jsonl", .delete)])
        #expect(harness.snapshot.sessions == 1)
        #expect(harness.snapshot.files[.transcripts] == 1)
        // The newest activity never goes backwards, even when its file is deleted.
        #expect(harness.snapshot.newest[.transcripts]?.time == at(10_000))
        #expect(harness.snapshot.events == 6)
    }

    @Test("A new project folder is watched and scanned at once (files may land before the watch)")
    func newProjectFolder() async {
        let harness = Harness()
        harness.fileSystem.addDirectory(projects)
        await harness.tracker.start()
        harness.fileSystem.addFile("\(projects)/-new/\(uuid1).jsonl", modified: at(9_999))
        await harness.tracker.handle([harness.event(projects, "-new", [.create, .isDirectory])])
        #expect(harness.snapshot.sessions == 1)
        #expect(harness.registry.watchedPaths.contains("\(projects)/-new"))

        harness.fileSystem.remove("\(projects)/-new")
        await harness.tracker.handle([
            harness.event("\(projects)/-new", "\(uuid1).jsonl", .delete),
            harness.event("\(projects)/-new", nil, .deleteSelf),
            harness.event("\(projects)/-new", nil, .ignored),
            harness.event(projects, "-new", [.delete, .isDirectory]),
        ])
        #expect(harness.snapshot.sessions == 0)
        #expect(!harness.registry.watchedPaths.contains("\(projects)/-new"))
    }

    @Test("A project folder moved out is forgotten and its watch removed; moved in with files, it counts")
    func projectMoved() async throws {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-a/\(uuid1).jsonl")
        await harness.tracker.start()
        let descriptor = try #require(harness.registry.descriptor("\(projects)/-a"))
        harness.fileSystem.remove("\(projects)/-a")
        await harness.tracker.handle([harness.event(projects, "-a", [.movedFrom, .isDirectory])])
        #expect(harness.snapshot.sessions == 0)
        #expect(harness.registry.descriptor("\(projects)/-a") == nil)
        // The moved directory still sends events under its old descriptor: they are ignored.
        await harness.tracker.handle([InotifyEvent(descriptor: descriptor, mask: .create, name: "\(uuid2).jsonl")])
        #expect(harness.snapshot.sessions == 0)

        harness.fileSystem.addFile("\(projects)/-b/\(uuid1).jsonl")
        harness.fileSystem.addFile("\(projects)/-b/\(uuid2).jsonl")
        await harness.tracker.handle([harness.event(projects, "-b", [.movedTo, .isDirectory])])
        #expect(harness.snapshot.sessions == 2)
    }

    @Test("Missing directories are awaited through their nearest parent and picked up when created")
    func missingRoots() async {
        let harness = Harness()
        harness.fileSystem.addDirectory("/home/agent")
        await harness.tracker.start()
        #expect(harness.registry.watchedPaths == ["/home/agent"])
        #expect(harness.snapshot.healthy)

        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(9_999))
        await harness.tracker.handle([harness.event("/home/agent", ".claude", [.create, .isDirectory])])
        #expect(harness.snapshot.sessions == 1)
        #expect(harness.registry.watchedPaths.contains(claude))
        #expect(harness.registry.watchedPaths.contains("/home/agent"))  // still waiting for .happy

        // The whole .claude deleted: counts drop at once, and the parent is watched again.
        harness.fileSystem.remove(claude)
        await harness.tracker.handle([harness.event(claude, nil, .deleteSelf)])
        #expect(harness.snapshot.sessions == 0)
        #expect(harness.snapshot.files[.history] == 0)
        #expect(!harness.registry.watchedPaths.contains(projects))
    }

    @Test("projects/ created later is picked up")
    func projectsLater() async {
        let harness = Harness()
        harness.fileSystem.addDirectory(claude)
        await harness.tracker.start()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.handle([harness.event(claude, "projects", [.create, .isDirectory])])
        #expect(harness.snapshot.sessions == 1)
    }

    @Test("Unreadable Claude directory: unhealthy, logged once; readable again: healthy")
    func unreadable() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        harness.fileSystem.setReadable(claude, false)
        await harness.tracker.start()
        #expect(!harness.snapshot.healthy)
        await harness.tracker.rescan()
        #expect(harness.messages(.error).filter { $0.contains("cannot be read") }.count == 1)
        harness.fileSystem.setReadable(claude, true)
        await harness.tracker.rescan()
        #expect(harness.snapshot.healthy)
        #expect(harness.snapshot.sessions == 1)
    }

    @Test("The Claude directory replaced by a regular file: unhealthy, logged once; a directory again: healthy")
    func claudeIsAFile() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.start()
        #expect(harness.snapshot.healthy && harness.snapshot.sessions == 1)
        harness.fileSystem.remove(claude)
        harness.fileSystem.addFile(claude)
        await harness.tracker.handle([harness.event(claude, nil, .deleteSelf)])
        #expect(!harness.snapshot.healthy)
        #expect(harness.snapshot.sessions == 0)
        await harness.tracker.rescan()
        await harness.tracker.rescan()
        #expect(harness.messages(.error).filter { $0.contains("cannot be read") }.count == 1)
        #expect(harness.messages(.notice).filter { $0.contains("readable again") }.isEmpty)
        // Its parent is watched, so a directory put back is seen by the event.
        harness.fileSystem.remove(claude)
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.handle([harness.event("/home/agent", ".claude", [.create, .isDirectory])])
        #expect(harness.snapshot.healthy && harness.snapshot.sessions == 1)
    }

    @Test("A mount on or near a watched path sets the watches up again; other mounts change nothing")
    func mountsChanged() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.start()
        func mounts(_ points: [String]) -> [MountTableMonitor.Mount] {
            points.enumerated().map { MountTableMonitor.Mount(id: $0.offset + 20, point: $0.element) }
        }
        let base = ["/", "/proc", "/home"]
        await harness.tracker.mountTableChanged(mounts(base))
        let attempts = harness.registry.attempts
        await harness.tracker.mountTableChanged(mounts(base + ["/mnt/usb", "/home/other"]))
        #expect(harness.registry.attempts == attempts)
        await harness.tracker.mountTableChanged(mounts(base + ["/mnt/usb", "\(projects)/-repo"]))
        #expect(harness.registry.attempts > attempts, "the watches were set up again")
        #expect(harness.messages(.info).contains { $0.contains("mounts changed") })
        let afterMount = harness.registry.attempts
        await harness.tracker.mountTableChanged(mounts(base + ["/mnt/usb", "\(projects)/-repo"]))
        #expect(harness.registry.attempts == afterMount)
        // A second mount stacked on the same point (another id) hides the first: a change too.
        var stacked = mounts(base + ["/mnt/usb", "\(projects)/-repo"])
        stacked.append(MountTableMonitor.Mount(id: 99, point: "\(projects)/-repo"))
        await harness.tracker.mountTableChanged(stacked)
        let afterStacked = harness.registry.attempts
        #expect(afterStacked > afterMount)
        // A mount over an ancestor (a volume mounted on /home/agent) counts too, and so does its removal.
        await harness.tracker.mountTableChanged(mounts(base + ["/home/agent"]))
        #expect(harness.registry.attempts > afterStacked)
    }

    @Test("Queue overflow: counted, and a full rescan restores the truth")
    func overflow() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.start()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid2).jsonl")
        harness.fileSystem.addFile("\(projects)/-new/session-1.jsonl")
        await harness.tracker.handle([.overflow])
        #expect(harness.snapshot.overflows == 1)
        #expect(harness.snapshot.rescans == 2)
        #expect(harness.snapshot.sessions == 3)
        #expect(harness.registry.watchedPaths.contains("\(projects)/-new"))
    }

    @Test("Watch limit reached: counted, logged once with the fix, retried only by rescans, which still count")
    func watchLimit() async throws {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        harness.registry.failWith(ENOSPC)
        await harness.tracker.start()
        #expect(harness.snapshot.watchErrors > 0)
        #expect(harness.snapshot.watches == 0)
        #expect(harness.snapshot.sessions == 1)
        // No retry loop: between rescans nothing tries again; a rescan tries each folder at most once.
        let afterStart = harness.registry.attempts
        try await Task.sleep(for: .milliseconds(300))
        #expect(harness.registry.attempts == afterStart)
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid2).jsonl")
        await harness.tracker.rescan()
        #expect(harness.snapshot.sessions == 2)
        #expect(harness.registry.attempts - afterStart <= afterStart, "a rescan retried more than a start does")
        let errors = harness.messages(.error).filter { $0.contains("watch limit") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("max_user_watches") == true)
        // Still failing an hour later: said again, with how often it recurred meanwhile.
        harness.clock.advance(seconds: 3601)
        await harness.tracker.rescan()
        let again = harness.logs.entries.filter { $0.level == .error && $0.message.description.contains("watch limit") }
        #expect(again.count == 2)
        #expect(Int(again.last?.metadata["since_last_logged"]?.description ?? "") ?? 0 > 0)

        harness.registry.failWith(nil)
        await harness.tracker.rescan()
        #expect(harness.snapshot.watches > 0)
    }

    @Test("Periodic rescan repairs drift and says so")
    func drift() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.start()
        harness.fileSystem.remove("\(projects)/-repo/\(uuid1).jsonl")  // no event delivered
        await harness.tracker.rescan()
        #expect(harness.snapshot.sessions == 0)
        #expect(harness.messages(.notice).contains { $0.contains("corrected counts") })
    }

    @Test("Periodic rescans trust watches: they stat only new names, and every tenth stats everything")
    func trustingRescans() async {
        let harness = Harness()
        let repo = "\(projects)/-repo"
        harness.fileSystem.addFile("\(repo)/\(uuid1).jsonl", modified: at(1_000))
        await harness.tracker.start()
        // A change in a watched folder without its event (as if lost): the cheap rescan does not stat it...
        harness.fileSystem.touch("\(repo)/\(uuid1).jsonl", at(2_000))
        // ...but a name it has not seen is stat'ed and counted.
        harness.fileSystem.addFile("\(repo)/\(uuid2).jsonl", modified: at(1_500))
        await harness.tracker.rescan()
        #expect(harness.snapshot.sessions == 2)
        #expect(harness.snapshot.newest[.transcripts]?.time == at(1_500))
        for _ in 2..<ActivityTracker.deepRescanEvery { await harness.tracker.rescan() }
        #expect(harness.snapshot.newest[.transcripts]?.time == at(1_500))
        await harness.tracker.rescan()
        #expect(harness.snapshot.newest[.transcripts]?.time == at(2_000))
    }

    @Test("A watched folder whose modification time has not changed is not listed again by a periodic rescan")
    func unchangedFolderSkipped() async throws {
        let harness = Harness()
        let repo = "\(projects)/-repo"
        harness.fileSystem.addFile("\(repo)/\(uuid1).jsonl", modified: at(1_000))
        harness.fileSystem.addFile("\(repo)/\(uuid2).jsonl", modified: at(1_000))
        await harness.tracker.start()
        // A file removed behind the exporter's back, and the folder's time put back as it was: the cheap
        // rescan cannot see it (it trusts the folder's time), the deep one does.
        let folderTime = try harness.fileSystem.status(of: repo).modified
        harness.fileSystem.remove("\(repo)/\(uuid2).jsonl")
        harness.fileSystem.touch(repo, folderTime)
        await harness.tracker.rescan()
        #expect(harness.snapshot.sessions == 2)
        for _ in 2...ActivityTracker.deepRescanEvery { await harness.tracker.rescan() }
        #expect(harness.snapshot.sessions == 1)
    }

    @Test("Folders without a watch are stat'ed on every rescan")
    func unwatchedFoldersStatted() async {
        let harness = Harness()
        let repo = "\(projects)/-repo"
        harness.fileSystem.addFile("\(repo)/\(uuid1).jsonl", modified: at(1_000))
        harness.registry.failWith(ENOSPC)
        await harness.tracker.start()
        harness.fileSystem.touch("\(repo)/\(uuid1).jsonl", at(2_000))
        await harness.tracker.rescan()
        #expect(harness.snapshot.newest[.transcripts]?.time == at(2_000))
    }

    @Test("A future modification time counts as now, once, and is logged once")
    func futureTime() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(50_000))
        await harness.tracker.start()
        #expect(harness.snapshot.newest[.transcripts]?.time == harness.clock.now)
        harness.clock.advance(seconds: 1_000)
        await harness.tracker.rescan()
        // Unchanged file: a rescan must not make it "now" again (that would keep the agent active forever).
        #expect(harness.snapshot.newest[.transcripts]?.time == at(10_000))
        #expect(harness.messages(.warning).filter { $0.contains("in the future") }.count == 1)
    }

    @Test("Subagent transcripts are activity and are watched while their session is recent")
    func subagents() async {
        let harness = Harness()
        let folder = "\(projects)/-repo/\(uuid1)"
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(9_000))
        harness.fileSystem.addDirectory(folder, modified: at(9_000))
        await harness.tracker.start()
        harness.fileSystem.addFile("\(folder)/subagents/agent-1.jsonl", modified: at(9_999))
        await harness.tracker.handle([harness.event(folder, "subagents", [.create, .isDirectory])])
        #expect(harness.snapshot.newest[.transcripts]?.time == at(9_999))
        #expect(harness.snapshot.files[.transcripts] == 2)
        #expect(harness.snapshot.sessions == 1)
        harness.fileSystem.touch("\(folder)/subagents/agent-1.jsonl", at(10_000))
        await harness.tracker.handle([harness.event("\(folder)/subagents", "agent-1.jsonl", .modify)])
        #expect(harness.snapshot.newest[.transcripts]?.time == at(10_000))
    }

    @Test("Old session folders are not watched until their transcript changes")
    func boundedWatches() async {
        let harness = Harness()
        let folder = "\(projects)/-repo/\(uuid1)"
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(100))
        harness.fileSystem.addFile("\(folder)/subagents/agent-1.jsonl", modified: at(100))
        harness.fileSystem.touch(folder, at(100))
        harness.clock.advance(seconds: 200_000)
        await harness.tracker.start()
        #expect(!harness.registry.watchedPaths.contains(folder))
        #expect(harness.snapshot.files[.transcripts] == 2)

        harness.fileSystem.touch("\(projects)/-repo/\(uuid1).jsonl", harness.clock.now)
        await harness.tracker.handle([harness.event("\(projects)/-repo", "\(uuid1).jsonl", .modify)])
        #expect(harness.registry.watchedPaths.contains(folder))
        #expect(harness.registry.watchedPaths.contains("\(folder)/subagents"))
    }

    @Test("Active to idle is logged when it happens, by a timer")
    func idleTransitionLogged() async throws {
        let fileSystem = FakeFileSystem()
        let handler = InMemoryLogHandler()
        let store = SnapshotStore(ActivitySnapshot(startTime: .now()))
        let tracker = ActivityTracker(
            // 2 s: the scan must see the file as fresh even on a loaded machine; the timer then turns it idle.
            settings: TrackerSettings(claudeDirectory: claude, happyDirectory: happy, idleTimeoutSeconds: 2),
            fileSystem: fileSystem,
            registry: nil,
            store: store,
            executor: executor,
            logger: Logger(label: "test") { _ in handler }
        )
        fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: .now())
        await tracker.start()
        #expect(handler.entries.contains { $0.message.description == "agent active" })
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        while !handler.entries.contains(where: { $0.message.description == "agent idle" }) {
            try #require(MonotonicClock.nanoseconds() < deadline, "no idle transition logged within 10 s")
            try await Task.sleep(for: .milliseconds(20))
        }
        let idle = handler.entries.first { $0.message.description == "agent idle" }
        #expect(idle?.metadata["source"] == "transcripts")
    }

    @Test("Reload drops every watch and sets them up again")
    func reload() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.start()
        let before = harness.registry.watchedPaths
        await harness.tracker.reload()
        #expect(harness.registry.watchedPaths == before)
        #expect(harness.snapshot.rescans == 2)
        #expect(harness.snapshot.sessions == 1)
    }

    @Test("--once: a scan without watches")
    func withoutWatches() async {
        let harness = Harness(registry: false)
        harness.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl")
        await harness.tracker.start()
        #expect(harness.snapshot.sessions == 1)
        #expect(harness.snapshot.watches == 0)
        #expect(harness.registry.watchedPaths.isEmpty)
    }
}

@Suite("The session registry in the tracker")
struct RegistryTrackerTests {
    private let sessions = claude + "/sessions"

    private func registryFile(pid: Int32, status: String, start: UInt64 = 7, updated: Int64 = 9_999_000) -> String {
        #"{"pid":\#(pid),"sessionId":"s\#(pid)","cwd":"/r","status":"\#(status)","statusUpdatedAt":\#(updated),"procStart":"\#(start)"}"#
    }

    private func harness(_ processes: FakeProcessTable) -> (Harness, ActivityTracker) {
        let harness = Harness()
        let tracker = ActivityTracker(
            settings: TrackerSettings(claudeDirectory: claude, happyDirectory: happy, idleTimeoutSeconds: 600),
            fileSystem: harness.fileSystem,
            registry: harness.registry,
            store: harness.store,
            executor: executor,
            logger: Logger(label: "test") { _ in harness.logs },
            processes: processes,
            clock: { harness.clock.now }
        )
        return (harness, tracker)
    }

    @Test("A live busy entry is activity now; idle and dead ones are not; statuses are counted")
    func busyIdleDead() async {
        let processes = FakeProcessTable()
        let (harness, tracker) = harness(processes)
        processes.start(10, ticks: 7)
        processes.start(11, ticks: 7)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "busy"))
        harness.fileSystem.writeFile("\(sessions)/11.json", registryFile(pid: 11, status: "idle"))
        harness.fileSystem.writeFile("\(sessions)/12.json", registryFile(pid: 12, status: "busy"))  // dead
        harness.fileSystem.writeFile("\(sessions)/pid-9.json", #"{"session_id":"old","cwd":"/r"}"#)
        await tracker.start()
        var snapshot = harness.store.snapshot
        #expect(snapshot.agentSessions(.busy) == 1)
        #expect(snapshot.agentSessions(.idle) == 1)
        #expect(snapshot.files[.status] == 3)
        #expect(snapshot.statusActive)
        let now = Timestamp(seconds: 123_456)
        #expect(snapshot.status(at: now, idleTimeoutSeconds: 600, sources: [.status]).timestamp == 123_456)
        #expect(!snapshot.status(at: now, idleTimeoutSeconds: 600, sources: [.transcripts]).active)

        // busy -> waiting -> idle, each by an event; then the process exits without removing its file.
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "waiting"))
        await tracker.handle([harness.event(sessions, "10.json", .modify)])
        snapshot = harness.store.snapshot
        #expect(snapshot.agentSessions(.waiting) == 1 && snapshot.statusActive)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "idle"))
        await tracker.handle([harness.event(sessions, "10.json", .modify)])
        snapshot = harness.store.snapshot
        #expect(snapshot.agentSessions(.idle) == 2 && !snapshot.statusActive)
        #expect(snapshot.newest[.status]?.time == harness.clock.now)
        processes.exit(10)
        await tracker.rescan()
        #expect(harness.store.snapshot.agentSessions(.idle) == 1)
        let logged = harness.logs.entries.filter { $0.message.description.hasPrefix("agent session") }
        #expect(logged.map { $0.metadata["status"]?.description } == ["busy", "idle", "waiting", "idle", "gone"])
        #expect(logged.first?.metadata["session_id"] == "s10")
    }

    @Test("A partial write keeps the entry read before; an oversized file is skipped with one warning")
    func partialAndHuge() async {
        let processes = FakeProcessTable()
        let (harness, tracker) = harness(processes)
        processes.start(10, ticks: 7)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "busy"))
        await tracker.start()
        harness.fileSystem.writeFile("\(sessions)/10.json", #"{"pid":10,"status":"id"#)
        await tracker.handle([harness.event(sessions, "10.json", .modify)])
        #expect(harness.store.snapshot.agentSessions(.busy) == 1)
        let huge = #"{"pid":10,"status":"idle","procStart":"7","pad":""# + String(repeating: "x", count: 70_000) + "\"}"
        harness.fileSystem.writeFile("\(sessions)/10.json", huge)
        await tracker.handle([harness.event(sessions, "10.json", .modify)])
        await tracker.handle([harness.event(sessions, "10.json", .modify)])
        #expect(harness.store.snapshot.agentSessions(.busy) == 0)
        let warnings = harness.logs.entries.filter { $0.level == .warning && $0.message.description.contains("64 KiB") }
        #expect(warnings.count == 1)
    }

    @Test("In a separate pid namespace, an entry is live only while its status is fresh")
    func invisiblePids() async {
        let processes = FakeProcessTable(seesOtherProcesses: false)
        let (harness, tracker) = harness(processes)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "busy", updated: 9_900_000))
        await tracker.start()
        #expect(harness.store.snapshot.statusActive)
        harness.clock.advance(seconds: 700)
        await tracker.rescan()
        #expect(!harness.store.snapshot.statusActive)
        #expect(harness.store.snapshot.agentSessions(.busy) == 0)
    }

    @Test("The registry folder appearing later and a deleted registry file are followed")
    func folderLifecycle() async {
        let processes = FakeProcessTable()
        let (harness, tracker) = harness(processes)
        harness.fileSystem.addDirectory(claude)
        await tracker.start()
        processes.start(10, ticks: 7)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "shell"))
        await tracker.handle([harness.event(claude, "sessions", [.create, .isDirectory])])
        #expect(harness.store.snapshot.agentSessions(.shell) == 1)
        harness.fileSystem.remove("\(sessions)/10.json")
        await tracker.handle([harness.event(sessions, "10.json", .delete)])
        #expect(harness.store.snapshot.agentSessions(.shell) == 0)
        #expect(harness.store.snapshot.files[.status] == 0)
    }

    @Test("Each live process counts once, whatever number of files name it; this exporter never counts")
    func oneCountPerProcess() async {
        let processes = FakeProcessTable(ownProcessID: 50)
        let (harness, tracker) = harness(processes)
        processes.start(10, ticks: 7)
        processes.start(50, ticks: 7)
        for copy in 0..<100 {
            harness.fileSystem.writeFile("\(sessions)/copy-\(copy).json", registryFile(pid: 10, status: "busy"))
        }
        // The newest status speaks for the process.
        harness.fileSystem.writeFile(
            "\(sessions)/10.json",
            registryFile(pid: 10, status: "waiting", updated: 9_999_500)
        )
        harness.fileSystem.writeFile("\(sessions)/50.json", registryFile(pid: 50, status: "busy"))
        await tracker.start()
        let snapshot = harness.store.snapshot
        #expect(snapshot.agentSessions(.busy) == 0)
        #expect(snapshot.agentSessions(.waiting) == 1)
        #expect(snapshot.liveSessions.map(\.pid) == [10])
        #expect(snapshot.files[.status] == 102)
        // Its newest file removed, the next newest speaks; all removed, it is gone.
        harness.fileSystem.remove("\(sessions)/10.json")
        await tracker.handle([harness.event(sessions, "10.json", .delete)])
        #expect(harness.store.snapshot.agentSessions(.busy) == 1)
        #expect(harness.store.snapshot.agentSessions(.waiting) == 0)
    }

    @Test("In a separate pid namespace, a status dated ten years ahead counts as now once, then ages")
    func futureStatusAges() async {
        let processes = FakeProcessTable(seesOtherProcesses: false)
        let (harness, tracker) = harness(processes)
        let tenYears: Int64 = 10 * 365 * 86_400 * 1000
        harness.fileSystem.writeFile(
            "\(sessions)/10.json",
            registryFile(pid: 10, status: "busy", updated: 9_999_000 + tenYears),
            modified: Timestamp(seconds: 9_999 + 10 * 365 * 86_400)
        )
        await tracker.start()
        #expect(harness.store.snapshot.statusActive)
        harness.clock.advance(seconds: 601)
        await tracker.rescan()
        #expect(!harness.store.snapshot.statusActive)
        #expect(harness.store.snapshot.agentSessions(.busy) == 0)
    }

    @Test("A registry event costs one read and one process look-up, however many files there are")
    func constantCostPerEvent() async {
        for count in [10, 1000] {
            let processes = FakeProcessTable()
            let (harness, tracker) = harness(processes)
            for pid in 0..<count {
                harness.fileSystem.writeFile(
                    "\(sessions)/\(100_000 + pid).json",
                    registryFile(pid: Int32(100_000 + pid), status: "busy")
                )
            }
            // No process is live, so no 1-second liveness check runs while the costs are counted.
            await tracker.start()
            #expect(harness.store.snapshot.files[.status] == count)
            let reads = harness.fileSystem.readCount
            let lookups = processes.lookupCount
            harness.fileSystem.writeFile("\(sessions)/11.json", registryFile(pid: 11, status: "busy"))
            await tracker.handle([harness.event(sessions, "11.json", .create)])
            #expect(harness.fileSystem.readCount - reads == 1, "\(count) files")
            #expect(processes.lookupCount - lookups == 1, "\(count) files")
            // A rescan reads no unchanged file, and looks up no dead process again.
            let before = (harness.fileSystem.readCount, processes.lookupCount)
            await tracker.rescan()
            #expect(harness.fileSystem.readCount == before.0)
            #expect(processes.lookupCount == before.1)
            // A live one is counted (and from now on looked up by each liveness check).
            processes.start(12, ticks: 7)
            harness.fileSystem.writeFile("\(sessions)/12.json", registryFile(pid: 12, status: "busy"))
            await tracker.handle([harness.event(sessions, "12.json", .create)])
            #expect(harness.store.snapshot.agentSessions(.busy) == 1)
        }
    }

    @Test("At most 4096 registry files are tracked; the rest is logged once")
    func boundedFiles() async {
        let processes = FakeProcessTable()
        let (harness, tracker) = harness(processes)
        let limit = 4096
        for pid in 0..<(limit + 10) {
            harness.fileSystem.writeFile(
                "\(sessions)/\(100_000 + pid).json",
                registryFile(pid: Int32(100_000 + pid), status: "idle")
            )
        }
        await tracker.start()
        await tracker.rescan()
        #expect(harness.store.snapshot.files[.status] == limit)
        let warnings = harness.logs.entries.filter { $0.message.description.contains("more files than are tracked") }
        #expect(warnings.count == 1)
        // Room again once files go: the next rescan takes the ones left out.
        for pid in 0..<20 { harness.fileSystem.remove("\(sessions)/\(100_000 + pid).json") }
        await tracker.rescan()
        #expect(harness.store.snapshot.files[.status] == limit - 10)
    }

    @Test("A failed process look-up keeps a live entry counted; the next check that can tell decides")
    func failedLookUp() async {
        let processes = FakeProcessTable()
        let (harness, tracker) = harness(processes)
        processes.start(10, ticks: 7)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "busy"))
        await tracker.start()
        processes.failLookUps(true)
        await tracker.rescan()
        #expect(harness.store.snapshot.agentSessions(.busy) == 1, "one failed look-up does not kill the entry")
        processes.failLookUps(false)
        await tracker.rescan()
        #expect(harness.store.snapshot.agentSessions(.busy) == 1)
        processes.exit(10)
        await tracker.rescan()
        #expect(harness.store.snapshot.agentSessions(.busy) == 0)
    }

    @Test("A non-regular registry file (a FIFO, a device) is no entry, and is logged once, not at every rescan")
    func specialFiles() async {
        let processes = FakeProcessTable()
        let (harness, tracker) = harness(processes)
        processes.start(10, ticks: 7)
        harness.fileSystem.writeFile("\(sessions)/10.json", registryFile(pid: 10, status: "busy"))
        await tracker.start()
        #expect(harness.store.snapshot.agentSessions(.busy) == 1)
        harness.fileSystem.replace("\(sessions)/10.json", kind: .other)
        await tracker.handle([harness.event(sessions, "10.json", .create)])
        #expect(harness.store.snapshot.agentSessions(.busy) == 0)
        #expect(harness.store.snapshot.files[.status] == 0)
        for _ in 0..<3 { await tracker.rescan() }
        #expect(
            harness.logs.entries.filter { $0.message.description.contains("cannot read session registry") }.count == 1
        )
    }
}

@Suite("Sources declared as file patterns, and the roots, through the tracker")
struct PatternSourceTrackerTests {
    @Test("history.jsonl in the Claude directory and Happy's logs/*.log follow their events")
    func patternEvents() async {
        let harness = Harness(sources: [.history, .happyLogs])
        harness.fileSystem.addDirectory(claude)
        harness.fileSystem.addDirectory(happy)
        await harness.tracker.start()
        #expect(harness.snapshot.files[.history] == 0 && harness.snapshot.files[.happyLogs] == 0)

        harness.fileSystem.addFile("\(claude)/history.jsonl", modified: at(9_950))
        await harness.tracker.handle([harness.event(claude, "history.jsonl", .create)])
        #expect(harness.snapshot.files[.history] == 1)
        #expect(harness.snapshot.newest[.history]?.time == at(9_950))
        harness.fileSystem.touch("\(claude)/history.jsonl", at(9_960))
        await harness.tracker.handle([harness.event(claude, "history.jsonl", .modify)])
        #expect(harness.snapshot.newest[.history]?.time == at(9_960))
        // Another name in the root is not history.
        harness.fileSystem.addFile("\(claude)/history.jsonl.bak", modified: at(9_990))
        await harness.tracker.handle([harness.event(claude, "history.jsonl.bak", .create)])
        #expect(harness.snapshot.newest[.history]?.time == at(9_960))

        // logs/ created inside the Happy directory: watched at once, then its files count.
        harness.fileSystem.addFile("\(happy)/logs/1.log", modified: at(9_970))
        await harness.tracker.handle([harness.event(happy, "logs", [.create, .isDirectory])])
        #expect(harness.snapshot.files[.happyLogs] == 1)
        harness.fileSystem.addFile("\(happy)/logs/2.log", modified: at(9_980))
        await harness.tracker.handle([harness.event("\(happy)/logs", "2.log", .create)])
        #expect(harness.snapshot.files[.happyLogs] == 2)
        #expect(harness.snapshot.newest[.happyLogs]?.time == at(9_980))
        harness.fileSystem.remove("\(happy)/logs/1.log")
        await harness.tracker.handle([harness.event("\(happy)/logs", "1.log", .delete)])
        #expect(harness.snapshot.files[.happyLogs] == 1)
        harness.fileSystem.remove("\(claude)/history.jsonl")
        await harness.tracker.handle([harness.event(claude, "history.jsonl", .delete)])
        #expect(harness.snapshot.files[.history] == 0)
    }

    @Test("A periodic rescan does not trust a root watch it has only just added: history is stat'ed")
    func newRootWatchIsNotTrusted() async {
        let harness = Harness()
        harness.fileSystem.addFile("\(claude)/history.jsonl", modified: at(9_000))
        // The first scan cannot watch anything (the watch limit), so it has no watch to trust later.
        harness.registry.failWith(ENOSPC)
        await harness.tracker.start()
        #expect(harness.snapshot.newest[.history]?.time == at(9_000))
        // Written while unwatched; then the watches work again and a plain periodic rescan adds them.
        harness.fileSystem.touch("\(claude)/history.jsonl", at(9_500))
        harness.registry.failWith(nil)
        await harness.tracker.rescan()
        #expect(harness.snapshot.newest[.history]?.time == at(9_500))
    }

    @Test("A missing root is said once, as a warning when its sources drive activity, and its metric follows")
    func missingRoots() async {
        let harness = Harness()
        harness.fileSystem.addDirectory("/home/agent")
        await harness.tracker.start()
        #expect(harness.snapshot.directoriesPresent.prefix(2) == [false, false])
        let said = {
            harness.logs.entries.filter { $0.level >= .notice && $0.message.description.hasPrefix("waiting for") }
        }
        let waiting = said()
        #expect(
            waiting.map { "\($0.level) \($0.message)" } == [
                "warning waiting for \(claude) to be created; set CLAUDE_DIR if Claude Code keeps it elsewhere",
                "notice waiting for \(happy) to be created; set HAPPY_DIR if Happy keeps it elsewhere",
                "notice waiting for /home/agent/.codex to be created; set CODEX_DIR if Codex keeps it elsewhere",
                "notice waiting for /home/agent/.gemini to be created; set GEMINI_DIR if Gemini CLI keeps it elsewhere",
            ]
        )
        await harness.tracker.rescan()
        #expect(said().count == 4)

        harness.fileSystem.addDirectory(claude)
        await harness.tracker.handle([harness.event("/home/agent", ".claude", [.create, .isDirectory])])
        #expect(harness.snapshot.directoriesPresent.prefix(2) == [true, false])
        #expect(harness.messages(.notice).contains("directory appeared; watching it"))
        let line = StatusLine.text(
            harness.snapshot,
            at: harness.clock.now,
            idleTimeoutSeconds: 600,
            sources: [.transcripts, .happyLogs],
            directories: [claude, happy]
        )
        #expect(line.contains("waiting for \(happy) (set HAPPY_DIR)") && !line.contains(claude))
    }

    @Test("A root replaced by a file is said to be no directory, never 'to be created'")
    func rootIsAFile() async {
        let harness = Harness()
        harness.fileSystem.addFile(claude)
        harness.fileSystem.addFile(happy)
        await harness.tracker.start()
        #expect(harness.snapshot.directoriesPresent.prefix(2) == [false, false])
        #expect(
            !harness.logs.entries.contains {
                $0.message.description.contains("to be created")
                    && ($0.message.description.contains(claude) || $0.message.description.contains(happy))
            }
        )
        #expect(harness.messages(.warning).contains("\(happy) is not a directory; waiting for a directory there"))
        #expect(harness.messages(.error).contains { $0.hasPrefix("Claude directory exists but cannot be read") })
    }

    @Test("The starting state is logged either way: idle with its age and source, or no activity yet")
    func initialState() async {
        let quiet = Harness()
        await quiet.tracker.start()
        #expect(quiet.messages(.info).contains("agent idle: no activity yet"))

        let old = Harness()
        old.fileSystem.addFile("\(projects)/-repo/\(uuid1).jsonl", modified: at(8_800))
        await old.tracker.start()
        let idle = old.logs.entries.filter { $0.message.description == "agent idle" }
        #expect(idle.count == 1)
        #expect(idle.first?.metadata["source"] == "transcripts")
        #expect(idle.first?.metadata["last_activity"] == "20 min ago")
    }
}
