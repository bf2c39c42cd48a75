import FileWatching
import InMemoryLogging
import Logging
import Platform
import Testing

@testable import ExporterCore

private func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: seconds) }

/// The declared `codex` or `gemini` source's scanner on a fake tree, with a clock far from the fake files' default
/// times (1,000 s), so that what the tests do not touch is older than the one-day watch window.
private struct AgentHarness {
    static let codex = "/home/agent/.codex"
    static let gemini = "/home/agent/.gemini"
    static let epoch: Int64 = 1_000_000
    let source: ActivitySource
    let fileSystem = FakeFileSystem()
    let registry = FakeWatchRegistry()
    let clock = ManualClock(Timestamp(seconds: Self.epoch))
    let logs = InMemoryLogHandler()
    let context: ScanContext
    let scanner: PatternScanner

    init(_ source: ActivitySource) {
        self.source = source
        let clock = clock
        var settings = TrackerSettings(claudeDirectory: "/c", happyDirectory: "/h", idleTimeoutSeconds: 600)
        settings.directories[RootDirectory.codex.index] = Self.codex
        settings.directories[RootDirectory.gemini.index] = Self.gemini
        context = ScanContext(
            settings: settings,
            fileSystem: fileSystem,
            registry: registry,
            store: SnapshotStore(ActivitySnapshot(startTime: .zero)),
            logger: Logger(label: "test") { [logs] _ in logs },
            clock: { clock.now }
        )
        guard case .files(let pattern) = source.layout else { fatalError("\(source) is not a files source") }
        scanner = PatternScanner(source: source, pattern: pattern, context: context)
    }

    var root: String { context.path(of: source.root) }
    var files: Int { context.tree.files[source] }
    var newest: Activity? { context.tree.newest[source] }
    var watched: Set<String> { Set(registry.watchedPaths) }

    func start() {
        fileSystem.addDirectory(root)
        _ = context.watch(.root(source.root), root)
        scanner.scan(rootTrusted: false)
    }

    /// A periodic rescan that trusts the watches in place.
    func rescan() {
        context.statEverything = false
        scanner.scan(rootTrusted: true)
        context.statEverything = true
    }

    func seconds(_ offset: Int64) -> Timestamp { at(Self.epoch + offset) }
}

@Suite("Codex's rollouts: sessions/YYYY/MM/DD/rollout-*.jsonl")
struct CodexSourceTests {
    @Test("The declaration: its root, its setting with CODEX_HOME as the fallback, default driving, optional")
    func declaration() throws {
        #expect(ActivitySource.codex.root == .codex && ActivitySource.codex.agent == "codex")
        #expect(RootDirectory.codex.variable == "CODEX_DIR" && RootDirectory.codex.fallbackVariable == "CODEX_HOME")
        #expect(RootDirectory.codex.defaultPath == "/home/agent/.codex")
        #expect(ActivitySource.defaultDriving.contains(.codex) && !ActivitySource.codex.expectsRoot)
        let fallback = try ExporterConfiguration(environment: ["CODEX_HOME": "/srv/codex"])
        #expect(fallback.directory(of: .codex) == "/srv/codex")
        let both = try ExporterConfiguration(environment: ["CODEX_HOME": "/srv/codex", "CODEX_DIR": "/x/codex"])
        #expect(both.directory(of: .codex) == "/x/codex")
        #expect(throws: ConfigurationError.self) { try ExporterConfiguration(environment: ["CODEX_DIR": "codex"]) }
    }

    @Test("Counts rollouts at the day's depth only; other names, hidden files and other depths do not count")
    func layout() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let sessions = AgentHarness.codex + "/sessions"
        fs.addFile("\(sessions)/2026/12/01/rollout-2026-12-01T09-00-00-\(uuidLike(1)).jsonl", modified: at(5_000))
        fs.addFile("\(sessions)/2026/12/02/rollout-2026-12-02T09-00-00-\(uuidLike(2)).jsonl", modified: at(6_000))
        fs.addFile("\(sessions)/2026/12/02/.rollout-tmp.jsonl", modified: at(9_000))
        fs.addFile("\(sessions)/2026/12/02/rollout-x.json", modified: at(9_000))
        fs.addFile("\(sessions)/2026/12/02/history.jsonl", modified: at(9_000))
        fs.addFile("\(sessions)/2026/12/rollout-shallow.jsonl", modified: at(9_000))
        fs.addFile("\(AgentHarness.codex)/history.jsonl", modified: at(9_000))
        fs.addFile("\(AgentHarness.codex)/log/codex-tui.log", modified: at(9_000))
        harness.start()
        #expect(harness.files == 2)
        #expect(harness.newest?.time == at(6_000))
    }

    @Test("Only recent day folders are watched; old ones are listed by each rescan and watched again when written")
    func boundedWatches() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let sessions = AgentHarness.codex + "/sessions"
        // A year of old days, and one recent.
        for day in 1...28 {
            fs.addFile("\(sessions)/2025/11/\(twoDigits(day))/rollout-\(day).jsonl", modified: at(2_000))
        }
        fs.addFile("\(sessions)/2026/12/02/rollout-now.jsonl", modified: harness.seconds(-60))
        harness.start()
        #expect(harness.files == 29)
        let watched = harness.watched
        for folder in ["", "/2025", "/2025/11", "/2026", "/2026/12", "/2026/12/02"] {
            #expect(watched.contains(sessions + folder), "\(sessions + folder) is not watched")
        }
        #expect(!watched.contains { $0.hasPrefix("\(sessions)/2025/11/") }, "an old day is watched")

        // An old rollout resumed (appended): the next rescan sees it, and watches its day from then on.
        fs.touch("\(sessions)/2025/11/03/rollout-3.jsonl", harness.seconds(5))
        harness.clock.advance(seconds: 10)
        harness.rescan()
        #expect(harness.newest?.time == harness.seconds(5))
        #expect(harness.watched.contains("\(sessions)/2025/11/03"))
        #expect(harness.files == 29)

        // A day later nothing there is recent: the watches go, the files stay counted.
        harness.clock.advance(seconds: 2 * 86_400)
        harness.rescan()
        #expect(!harness.watched.contains("\(sessions)/2025/11/03"))
        #expect(!harness.watched.contains("\(sessions)/2026/12/02"))
        #expect(harness.watched.contains("\(sessions)/2026/12"), "a month folder is always watched")
        #expect(harness.files == 29)
    }

    @Test("A rollout resumed in an unwatched day: the rescan that finds it tells the token-usage reader")
    func resumedRolloutTellsUsage() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let old = AgentHarness.codex + "/sessions/2025/11/03/rollout-3.jsonl"
        fs.addFile(old, modified: at(2_000))
        harness.start()
        harness.context.transcriptsListed = false
        harness.rescan()
        #expect(!harness.context.transcriptsListed, "nothing changed")
        fs.touch(old, harness.seconds(5))
        harness.clock.advance(seconds: 10)
        harness.rescan()
        #expect(harness.context.transcriptsListed, "appended while unwatched: no event told the reader")
    }

    @Test("Midnight on New Year's Eve: the new year, month and day folders are watched as they appear")
    func dayRollover() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let sessions = AgentHarness.codex + "/sessions"
        fs.addFile("\(sessions)/2026/12/31/rollout-a.jsonl", modified: harness.seconds(-30))
        harness.start()
        #expect(harness.watched.contains("\(sessions)/2026/12/31"))

        // Codex creates the whole path at once (create_dir_all), then the rollout in it.
        harness.clock.advance(seconds: 60)
        fs.addDirectory("\(sessions)/2027/01/01", modified: harness.clock.now)
        harness.scanner.handle(name: "2027", in: "sessions", structural: true)
        for folder in ["/2027", "/2027/01", "/2027/01/01"] {
            #expect(harness.watched.contains(sessions + folder), "\(sessions + folder) is not watched at once")
        }
        fs.addFile("\(sessions)/2027/01/01/rollout-b.jsonl", modified: harness.clock.now)
        harness.scanner.handle(name: "rollout-b.jsonl", in: "sessions/2027/01/01", structural: true)
        #expect(harness.files == 2)
        #expect(harness.newest?.time == harness.clock.now)
        #expect(harness.newest?.path == "\(sessions)/2027/01/01/rollout-b.jsonl")

        // Last year's session goes on writing into its own day's folder, which stays watched.
        harness.clock.advance(seconds: 5)
        fs.touch("\(sessions)/2026/12/31/rollout-a.jsonl", harness.clock.now)
        harness.scanner.handle(name: "rollout-a.jsonl", in: "sessions/2026/12/31", structural: false)
        #expect(harness.newest?.path == "\(sessions)/2026/12/31/rollout-a.jsonl")
    }
}

@Suite("Gemini CLI's chats: tmp/<project>/chats/session-*.json(l)")
struct GeminiSourceTests {
    @Test("The declaration: its root and setting, default driving, optional")
    func declaration() throws {
        #expect(ActivitySource.gemini.root == .gemini && ActivitySource.gemini.agent == "gemini")
        #expect(
            RootDirectory.gemini.variable == "GEMINI_DIR" && RootDirectory.gemini.defaultPath == "/home/agent/.gemini"
        )
        #expect(ActivitySource.defaultDriving.contains(.gemini) && !ActivitySource.gemini.expectsRoot)
        let configuration = try ExporterConfiguration(environment: ["GEMINI_DIR": "/srv/gemini"])
        #expect(configuration.directory(of: .gemini) == "/srv/gemini")
        #expect(throws: ConfigurationError.self) { try ExporterConfiguration(environment: ["GEMINI_DIR": " "]) }
    }

    @Test("Counts chat files (.json and .jsonl) in each project's chats/; the rest of tmp/ does not count")
    func layout() {
        let harness = AgentHarness(.gemini)
        let fs = harness.fileSystem
        let tmp = AgentHarness.gemini + "/tmp"
        fs.addFile("\(tmp)/0a1b2c/chats/session-2026-12-01T09-00-abcd1234.json", modified: at(5_000))
        fs.addFile("\(tmp)/my-repo/chats/session-2026-12-02T09-00-ef567890.jsonl", modified: at(6_000))
        fs.addFile("\(tmp)/my-repo/logs.json", modified: at(9_000))
        fs.addFile("\(tmp)/my-repo/shell_history", modified: at(9_000))
        fs.addFile("\(tmp)/my-repo/chats/session-x.json.tmp", modified: at(9_000))
        fs.addFile("\(tmp)/my-repo/chats/.session-x.json", modified: at(9_000))
        fs.addFile("\(tmp)/my-repo/checkpoints/session-old.json", modified: at(9_000))
        fs.addFile("\(AgentHarness.gemini)/settings.json", modified: at(9_000))
        harness.start()
        #expect(harness.files == 2)
        #expect(harness.newest?.time == at(6_000))
    }

    @Test("A rewrite by rename (temporary file, then rename over the chat) is activity and keeps the count")
    func rewriteByRename() {
        let harness = AgentHarness(.gemini)
        let fs = harness.fileSystem
        let chats = AgentHarness.gemini + "/tmp/proj/chats"
        let chat = chats + "/session-2026-12-02T09-00-abcd1234.json"
        fs.addFile(chat, modified: harness.seconds(-10))
        harness.start()
        #expect(harness.files == 1 && harness.watched.contains(chats))

        harness.clock.advance(seconds: 30)
        // The temporary file: not a chat.
        fs.addFile(chat + ".tmp", modified: harness.clock.now)
        harness.scanner.handle(
            name: "session-2026-12-02T09-00-abcd1234.json.tmp",
            in: "tmp/proj/chats",
            structural: true
        )
        #expect(harness.newest?.time == harness.seconds(-10))
        // The rename over the chat: IN_MOVED_FROM for the temporary name, IN_MOVED_TO for the chat's.
        fs.remove(chat + ".tmp")
        fs.addFile(chat, modified: harness.clock.now)
        harness.scanner.handle(
            name: "session-2026-12-02T09-00-abcd1234.json.tmp",
            in: "tmp/proj/chats",
            structural: true
        )
        harness.scanner.handle(name: "session-2026-12-02T09-00-abcd1234.json", in: "tmp/proj/chats", structural: true)
        #expect(harness.files == 1)
        #expect(harness.newest?.time == harness.clock.now)
    }

    @Test("Only recent projects are watched; a new project is watched as soon as it appears")
    func boundedWatches() {
        let harness = AgentHarness(.gemini)
        let fs = harness.fileSystem
        let tmp = AgentHarness.gemini + "/tmp"
        for project in 0..<50 {
            fs.addFile("\(tmp)/old-\(project)/chats/session-\(project).json", modified: at(2_000))
        }
        harness.start()
        #expect(harness.files == 50)
        #expect(harness.watched == [AgentHarness.gemini, tmp], "old projects are watched")

        fs.addDirectory("\(tmp)/new-project", modified: harness.clock.now)
        harness.scanner.handle(name: "new-project", in: "tmp", structural: true)
        #expect(harness.watched.contains("\(tmp)/new-project"))
        fs.addDirectory("\(tmp)/new-project/chats", modified: harness.clock.now)
        harness.scanner.handle(name: "chats", in: "tmp/new-project", structural: true)
        #expect(harness.watched.contains("\(tmp)/new-project/chats"))
        fs.addFile("\(tmp)/new-project/chats/session-new.json", modified: harness.clock.now)
        harness.scanner.handle(name: "session-new.json", in: "tmp/new-project/chats", structural: true)
        #expect(harness.files == 51 && harness.newest?.time == harness.clock.now)

        // An old project's chat written again: found by the next rescan, then watched.
        harness.clock.advance(seconds: 10)
        fs.touch("\(tmp)/old-7/chats/session-7.json", harness.clock.now)
        harness.rescan()
        #expect(harness.newest?.path == "\(tmp)/old-7/chats/session-7.json")
        #expect(harness.watched.isSuperset(of: ["\(tmp)/old-7", "\(tmp)/old-7/chats"]))
        #expect(harness.watched.count == 6)
    }
}

@Suite("Watch limits: a tree that keeps growing folders is listed, not watched without end")
struct PatternWatchLimitTests {
    @Test("The ranking: a folder with a session file before an empty one, then the more recent; the least makes room")
    func ranking() {
        var recent = RecentFolders(capacity: 2)
        let empty = { (seconds: Int64) in RecentFolders.Rank(holdsFiles: false, time: at(seconds)) }
        let holding = { (seconds: Int64) in RecentFolders.Rank(holdsFiles: true, time: at(seconds)) }
        #expect(recent.admit("a", holding(10)) == .admitted && recent.admit("b", empty(50)) == .admitted)
        #expect(recent.admit("c", empty(40)) == .refused, "not above the least (b)")
        #expect(recent.admit("c", empty(60)) == .replacing(letGo: "b"))
        #expect(recent.admit("d", empty(99)) == .replacing(letGo: "c"), "an empty folder never replaces a")
        #expect(recent.admit("e", empty(100)) == .replacing(letGo: "d"))
        // A file written below e raises it above a; the next newcomer with a file replaces a.
        recent.noteFile(in: "e", at: at(120))
        #expect(recent.admit("f", holding(110)) == .replacing(letGo: "a"))
        #expect(recent.contains("e") && recent.contains("f") && recent.count == 2)
        recent.remove("e")
        #expect(recent.admit("g", empty(1)) == .admitted, "room again")
        recent.keep { $0 == "g" }
        #expect(recent.count == 1 && recent.contains("g"))
    }

    @Test("Hundreds of recent Gemini projects: the 64 most recent are watched; a new one at once, the oldest let go")
    func recentProjects() {
        let harness = AgentHarness(.gemini)
        let fs = harness.fileSystem
        let tmp = AgentHarness.gemini + "/tmp"
        let limit = PatternScanner.recentFoldersWatched
        for project in 0..<300 {
            let time = harness.seconds(Int64(project) - 3_000)
            fs.addDirectory("\(tmp)/p\(project)", modified: time)
            fs.addFile("\(tmp)/p\(project)/chats/session-\(project).json", modified: time)
        }
        harness.start()
        #expect(harness.files == 300)
        let newest = Set((300 - limit..<300).map { "\(tmp)/p\($0)" })
        let projects = { harness.watched.filter { $0.hasPrefix(tmp + "/") && !$0.hasSuffix("/chats") } }
        #expect(projects() == newest, "not the \(limit) most recent projects")
        #expect(harness.watched.count == 2 + 2 * limit)
        #expect(harness.registry.attempts == harness.watched.count, "a watch added only to be let go at once")

        // Nothing changed: a rescan keeps the same watches, without adding or removing one.
        let attempts = harness.registry.attempts
        harness.rescan()
        #expect(harness.registry.attempts == attempts && projects() == newest && harness.files == 300)

        // A new project, still empty, does not take the watch of a project with chats (empty folders cannot push
        // sessions out); the rescan that finds its first chat watches it, and lets go of the least recent.
        harness.clock.advance(seconds: 10)
        fs.addDirectory("\(tmp)/fresh", modified: harness.clock.now)
        harness.scanner.handle(name: "fresh", in: "tmp", structural: true)
        #expect(!projects().contains("\(tmp)/fresh"))
        fs.addFile("\(tmp)/fresh/chats/session-fresh.json", modified: harness.clock.now)
        harness.rescan()
        #expect(projects().contains("\(tmp)/fresh") && harness.watched.contains("\(tmp)/fresh/chats"))
        #expect(!projects().contains("\(tmp)/p\(300 - limit)") && projects().count == limit)

        // A chat of an unwatched project written again: the next rescan counts it and watches its project.
        harness.clock.advance(seconds: 10)
        fs.touch("\(tmp)/p3/chats/session-3.json", harness.clock.now)
        harness.rescan()
        #expect(harness.newest?.path == "\(tmp)/p3/chats/session-3.json")
        #expect(projects().contains("\(tmp)/p3") && harness.watched.contains("\(tmp)/p3/chats"))
        #expect(projects().count == limit && harness.files == 301)

        // Deleting projects forgets their chats, watched or not.
        fs.remove("\(tmp)/p3")
        fs.remove("\(tmp)/p4")
        harness.rescan()
        #expect(harness.files == 299 && !harness.watched.contains("\(tmp)/p3"))
    }

    @Test("Empty folders, or folders dated in the future, never take the watch of the day a session writes in")
    func hostileFolders() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let sessions = AgentHarness.codex + "/sessions"
        let today = "\(sessions)/2026/12/03"
        fs.addFile("\(today)/rollout-now.jsonl", modified: harness.seconds(-600))
        for day in 1...28 {
            fs.addDirectory("\(sessions)/3000/01/\(twoDigits(day))", modified: harness.seconds(86_400 * 365))
        }
        // More than the limit of folders holding a rollout dated next year: not recent either.
        for month in 5...7 {
            for day in 1...28 {
                let path = "\(sessions)/2999/\(twoDigits(month))/\(twoDigits(day))/rollout-x.jsonl"
                fs.addFile(path, modified: harness.seconds(86_400 * 365))
            }
        }
        harness.start()
        #expect(harness.watched.contains(today))
        #expect(!harness.watched.contains("\(sessions)/3000/01/01"), "a folder dated next year is not recent")
        #expect(!harness.watched.contains { $0.hasPrefix("\(sessions)/2999/05/") }, "nor one holding a file so dated")
        harness.rescan()
        #expect(harness.watched.contains(today))
        // Empty folders made now, more than the limit: they fill the free watches, never today's.
        for month in 2...4 {
            for day in 1...28 {
                fs.addDirectory("\(sessions)/3000/\(twoDigits(month))/\(twoDigits(day))", modified: harness.clock.now)
            }
            fs.addDirectory("\(sessions)/3000/\(twoDigits(month))", modified: harness.clock.now)
            harness.scanner.handle(name: twoDigits(month), in: "sessions/3000", structural: true)
        }
        #expect(harness.watched.contains(today))
        harness.rescan()
        #expect(harness.watched.contains(today))
        #expect(harness.watched.filter { $0.hasPrefix("\(sessions)/3000/0") && $0.count == today.count }.count <= 63)
    }

    @Test("A tree of unreadable folders: the first few logged one by one, the rest in one line, the root always")
    func unreadableFolders() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let sessions = AgentHarness.codex + "/sessions"
        for day in 1...28 {
            fs.addDirectory("\(sessions)/2026/11/\(twoDigits(day))")
            fs.setReadable("\(sessions)/2026/11/\(twoDigits(day))", false)
        }
        harness.start()
        harness.rescan()
        let lines = { harness.logs.entries.filter { $0.level == .warning }.map(\.message.description) }
        #expect(lines().filter { $0.hasPrefix("cannot read directory") }.count == ScanContext.unreadableLoggedOneByOne)
        #expect(lines().filter { $0.hasPrefix("more directories cannot be read") }.count == 1)
        fs.setReadable(sessions, false)
        harness.rescan()
        let last = harness.logs.entries.last { $0.level == .warning }
        #expect(last?.message.description.hasPrefix("cannot read directory") == true)
        #expect(last?.metadata["path"]?.description == sessions)
    }

    @Test("More folders than the watch limit: the newest are watched, every rollout still counts, and is seen")
    func folderLimit() {
        let harness = AgentHarness(.codex)
        let fs = harness.fileSystem
        let sessions = AgentHarness.codex + "/sessions"
        // Empty year and month folders, more than the limit, and today's rollout.
        for year in 1_000..<1_600 { fs.addDirectory("\(sessions)/\(year)/01") }
        fs.addFile("\(sessions)/2026/12/02/rollout-now.jsonl", modified: harness.seconds(-60))
        harness.start()
        #expect(harness.files == 1)
        // Folders above the days leave room for the recent days; the newest names come first.
        let above = PatternScanner.foldersWatched - PatternScanner.recentFoldersWatched
        #expect(harness.watched.count == 1 + above, "the root (the tracker's), then the limit, sessions/ among them")
        for folder in ["/2026", "/2026/12", "/2026/12/02", "/1599", "/1599/01"] {
            #expect(harness.watched.contains(sessions + folder), "\(sessions + folder) is not watched")
        }
        #expect(!harness.watched.contains("\(sessions)/1000"))
        let attempts = harness.registry.attempts
        harness.rescan()
        #expect(harness.registry.attempts == attempts, "a rescan retries what the limit refused")

        // A rollout in a folder that is not watched: counted by the next rescan, its day watched from then on.
        let year = (1_000..<1_600).last { !harness.watched.contains("\(sessions)/\($0)/01") } ?? 0
        harness.clock.advance(seconds: 10)
        fs.addFile("\(sessions)/\(year)/01/07/rollout-late.jsonl", modified: harness.clock.now)
        harness.rescan()
        #expect(harness.files == 2 && harness.newest?.path == "\(sessions)/\(year)/01/07/rollout-late.jsonl")
        #expect(harness.watched.contains("\(sessions)/\(year)/01/07"))

        // Removing folders frees watches for the others: the 300 years left and their months, the late day, 2026.
        for year in 1_300..<1_600 { fs.remove("\(sessions)/\(year)") }
        harness.rescan()
        #expect(harness.watched.count == 2 + 600 + 1 + 3 && harness.files == 2)
    }
}

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

private func uuidLike(_ value: Int) -> String { "019ad2c4-0000-7000-8000-\(String(repeating: "0", count: 11))\(value)" }
