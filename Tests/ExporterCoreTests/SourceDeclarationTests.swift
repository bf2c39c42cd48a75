import FileWatching
import InMemoryLogging
import Logging
import Platform
import Testing

@testable import ExporterCore

private func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: seconds) }

@Suite("Sources are declarations")
struct SourceDeclarationTests {
    @Test("Every declaration has its own index, name and a root that is declared")
    func declarationsAreConsistent() {
        for source in ActivitySource.allCases {
            #expect(ActivitySource(rawValue: source.rawValue) == source)
            #expect(RootDirectory.allCases.contains(source.root))
        }
        #expect(Set(ActivitySource.allCases.map(\.rawValue)).count == ActivitySource.allCases.count)
        #expect(Set(RootDirectory.allCases.map(\.variable)).count == RootDirectory.allCases.count)
        // The static names point at the declarations of those names.
        let named: [(ActivitySource, String)] = [
            (.transcripts, "transcripts"), (.history, "history"), (.happyLogs, "happy_logs"), (.status, "status"),
            (.happyState, "happy_state"), (.codex, "codex"), (.gemini, "gemini"),
        ]
        for (source, name) in named { #expect(source.rawValue == name) }
        #expect(named.count == ActivitySource.allCases.count, "a declared source has no static name")
        #expect(RootDirectory.claude.variable == "CLAUDE_DIR" && RootDirectory.happy.variable == "HAPPY_DIR")
        #expect(ActivitySource(rawValue: "nope") == nil)
        #expect(ActivitySource.defaultDriving == [.transcripts, .history, .status, .happyState, .codex, .gemini])
        let roots: [(RootDirectory, String)] = [
            (.claude, "claude"), (.happy, "happy"), (.codex, "codex"), (.gemini, "gemini"),
        ]
        for (root, name) in roots { #expect(root.name == name) }
        #expect(roots.count == RootDirectory.allCases.count, "a declared root has no static name")
    }

    @Test("The configuration, --help and the metrics follow from the declarations")
    func everythingFollows() throws {
        let help = ExporterConfiguration.helpText
        for root in RootDirectory.allCases {
            #expect(help.contains(root.flag) && help.contains(root.variable) && help.contains(root.defaultPath))
            let configuration = try ExporterConfiguration(environment: [root.variable: "/x/\(root.name)"])
            #expect(configuration.directory(of: root) == "/x/\(root.name)")
            #expect(TrackerSettings(configuration).directory(of: root) == "/x/\(root.name)")
        }
        for source in ActivitySource.allCases {
            #expect(help.contains(source.rawValue))
            let configuration = try ExporterConfiguration(environment: ["ACTIVITY_SOURCES": source.rawValue])
            #expect(configuration.activitySources == [source])
        }
        let renderer = MetricsRenderer(
            podName: "p",
            repositoryName: "r",
            idleTimeoutSeconds: 600,
            drivingSources: ActivitySource.defaultDriving,
            version: "1",
            revision: "x",
            processStartTime: 0
        )
        let process = ProcessStatistics(
            residentMemoryBytes: 0,
            cpuSeconds: 0,
            openFileDescriptors: 0,
            maxFileDescriptors: 0
        )
        let text = renderer.render(ActivitySnapshot(startTime: .zero), now: at(1), process: process)
        for source in ActivitySource.allCases {
            #expect(text.contains("claude_activity_files{pod=\"p\",repository=\"r\",source=\"\(source.rawValue)\"} 0"))
            if let agent = source.agent {
                #expect(text.contains("claude_agent_transcripts{pod=\"p\",repository=\"r\",agent=\"\(agent)\"} 0"))
            }
            #expect(
                text.contains(
                    "claude_source_last_activity_timestamp_seconds{pod=\"p\",repository=\"r\",source=\"\(source.rawValue)\"} 0"
                )
            )
        }
    }

    @Test("Name rules")
    func nameRules() {
        #expect(NameRule.suffix(".log").matches("1.log"))
        #expect(!NameRule.suffix(".log").matches(".log") && !NameRule.suffix(".log").matches(".x.log"))
        #expect(!NameRule.suffix(".log").matches("a.log.tmp"))
        #expect(NameRule.named("history.jsonl").matches("history.jsonl"))
        #expect(!NameRule.named("history.jsonl").matches("history.jsonl.bak"))
        #expect(NameRule.digits(4).matches("2026") && !NameRule.digits(4).matches("202a"))
        #expect(!NameRule.digits(2).matches("123"))
        #expect(
            NameRule.anyVisible.matches("x") && !NameRule.anyVisible.matches(".x") && !NameRule.anyVisible.matches("")
        )
        let chats = NameRule.affixed(prefix: "session-", suffixes: [".json", ".jsonl"])
        #expect(chats.description == "session-*.json, session-*.jsonl")
        #expect(chats.matches("session-1.json") && chats.matches("session-1.jsonl"))
        #expect(!chats.matches("session-.json") && !chats.matches("session-1.json.tmp") && !chats.matches("x-1.json"))
        #expect(!chats.matches(".session-1.json") && !chats.matches("session-") && !chats.matches("session.json"))
    }
}

/// A ``PatternScanner`` on a fake tree, with a layout of dated folders (`sessions/YYYY/MM/DD/rollout-*.jsonl`) that no
/// built-in source has yet: the generic engine is what a new source declaration gets.
private struct PatternHarness {
    static let root = "/home/agent/.happy"
    let fileSystem = FakeFileSystem()
    let registry = FakeWatchRegistry()
    let clock = ManualClock()
    let context: ScanContext
    let scanner: PatternScanner

    init() {
        let clock = clock
        context = ScanContext(
            settings: TrackerSettings(claudeDirectory: "/c", happyDirectory: Self.root, idleTimeoutSeconds: 600),
            fileSystem: fileSystem,
            registry: registry,
            store: SnapshotStore(ActivitySnapshot(startTime: .zero)),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            clock: { clock.now }
        )
        let pattern = FilePattern(
            folders: [.named("sessions"), .matching(.digits(4)), .matching(.digits(2)), .matching(.digits(2))],
            files: NameRule("rollout-*.jsonl") { name in
                name.starts(with: "rollout-".utf8) && NameRule.suffix(".jsonl").matches(name)
            }
        )
        scanner = PatternScanner(source: .happyLogs, pattern: pattern, context: context)
    }

    var files: Int { context.tree.files[.happyLogs] }
    var newest: Activity? { context.tree.newest[.happyLogs] }

    func start() {
        _ = context.watch(.root(.happy), Self.root)
        scanner.scan(rootTrusted: false)
    }
}

@Suite("The generic pattern engine, on a layout of dated folders")
struct PatternScannerTests {
    @Test("Counts only matching files at the pattern's depth, and watches every folder on the way")
    func scanCountsAndWatches() {
        let harness = PatternHarness()
        let fs = harness.fileSystem
        let sessions = PatternHarness.root + "/sessions"
        fs.addFile("\(sessions)/2026/11/30/rollout-a.jsonl", modified: at(9_000))
        fs.addFile("\(sessions)/2026/12/01/rollout-b.jsonl", modified: at(9_500))
        fs.addFile("\(sessions)/2026/12/01/notes.txt", modified: at(9_990))
        fs.addFile("\(sessions)/2026/12/01/.rollout-c.jsonl", modified: at(9_990))
        fs.addFile("\(sessions)/2026/12/rollout-shallow.jsonl", modified: at(9_990))
        fs.addFile("\(sessions)/backup/12/01/rollout-d.jsonl", modified: at(9_990))
        fs.addFile("\(PatternHarness.root)/rollout-top.jsonl", modified: at(9_990))
        harness.start()
        #expect(harness.files == 2)
        #expect(harness.newest?.time == at(9_500))
        #expect(harness.newest?.path == "\(sessions)/2026/12/01/rollout-b.jsonl")
        let watched = harness.registry.watchedPaths
        for folder in ["", "/2026", "/2026/11", "/2026/11/30", "/2026/12", "/2026/12/01"] {
            #expect(watched.contains(sessions + folder), "\(sessions + folder) is not watched")
        }
        #expect(!watched.contains("\(sessions)/backup"))
    }

    @Test("A new day's folder is watched at once; appends, removals and a deleted day follow")
    func newDayAndRemovals() throws {
        let harness = PatternHarness()
        let fs = harness.fileSystem
        let sessions = PatternHarness.root + "/sessions"
        fs.addFile("\(sessions)/2026/12/01/rollout-a.jsonl", modified: at(9_000))
        harness.start()
        #expect(harness.files == 1)

        // Midnight: a new day folder, then a file in it.
        fs.addFile("\(sessions)/2026/12/02/rollout-b.jsonl", modified: at(9_800))
        harness.scanner.handle(name: "02", in: "sessions/2026/12", structural: true)
        #expect(harness.registry.watchedPaths.contains("\(sessions)/2026/12/02"))
        #expect(harness.files == 2)
        #expect(harness.newest?.time == at(9_800))

        fs.touch("\(sessions)/2026/12/02/rollout-b.jsonl", at(9_900))
        harness.scanner.handle(name: "rollout-b.jsonl", in: "sessions/2026/12/02", structural: false)
        #expect(harness.newest?.time == at(9_900))

        fs.remove("\(sessions)/2026/12/01/rollout-a.jsonl")
        harness.scanner.handle(name: "rollout-a.jsonl", in: "sessions/2026/12/01", structural: true)
        #expect(harness.files == 1)

        // A whole month deleted: its files and watches go.
        fs.remove("\(sessions)/2026/12")
        harness.scanner.handle(name: "12", in: "sessions/2026", structural: true)
        #expect(harness.files == 0)
        #expect(!harness.registry.watchedPaths.contains { $0.hasPrefix("\(sessions)/2026/12") })

        // The root gone: nothing is left.
        fs.addFile("\(sessions)/2027/01/01/rollout-c.jsonl", modified: at(9_950))
        harness.scanner.handle(name: "2027", in: "sessions", structural: true)
        #expect(harness.files == 1)
        harness.scanner.removeAll()
        #expect(harness.files == 0)
    }

    @Test("A rescan repairs what events missed, and a vanished folder's watch ending looks again")
    func rescanRepairs() {
        let harness = PatternHarness()
        let fs = harness.fileSystem
        let sessions = PatternHarness.root + "/sessions"
        harness.start()
        #expect(harness.files == 0)
        fs.addFile("\(sessions)/2026/12/02/rollout-a.jsonl", modified: at(9_100))
        fs.addFile("\(sessions)/2026/12/02/rollout-b.jsonl", modified: at(9_200))
        harness.scanner.scan(rootTrusted: false)
        #expect(harness.files == 2)
        fs.remove("\(sessions)/2026")
        harness.scanner.watchEnded("sessions/2026")
        #expect(harness.files == 0)
        #expect(!harness.registry.watchedPaths.contains { $0.hasPrefix("\(sessions)/2026") })
    }
}
