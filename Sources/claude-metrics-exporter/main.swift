import CBuildInfo
import ExporterCore
import FileWatching
import HTTPServer
import Logging
import Platform
import Systemd

#if canImport(Glibc)
import Glibc
#endif

// Wiring only: parse the configuration, bootstrap logging, then either print one scrape (--once) or run the
// daemon until a signal stops it. Nothing below calls exit() once the daemon has started: it returns.

let version = "0.1.0"
let revision = String(cString: exporter_revision())

func fail(_ message: String, status: Int32) -> Never {
    StandardError.write("claude-metrics-exporter: \(message)\n")
    exit(status)
}

let environment = ProcessEnvironment.current()
let invocation: Invocation
do {
    invocation = try ExporterConfiguration.parse(
        arguments: Array(CommandLine.arguments.dropFirst()),
        environment: environment
    )
} catch {
    fail(error.description, status: error.exitCode)
}

let configuration: ExporterConfiguration
let once: Bool
switch invocation {
case .help:
    print(ExporterConfiguration.helpText, terminator: "")
    exit(0)
case .version:
    print("claude-metrics-exporter \(version) (\(revision))")
    exit(0)
case .once(let value):
    (configuration, once) = (value, true)
case .run(let value):
    (configuration, once) = (value, false)
}

do {
    try configuration.checkDirectories(using: LocalFileSystem())
} catch {
    fail(error.description, status: error.exitCode)
}

// --once is for cron jobs and textfile collectors: only warnings, unless debugging was asked for.
let logLevel = once && configuration.logLevel != .debug ? max(configuration.logLevel, .warning) : configuration.logLevel
let logFormat = configuration.logFormat
LoggingSystem.bootstrap { _ in
    // Under systemd, structured journal entries; elsewhere one line per entry on standard error.
    if let journal = JournalLogHandler(
        identifier: "claude-metrics-exporter",
        logLevel: logLevel,
        environment: environment
    ) {
        return journal
    }
    return StandardErrorLogHandler(logLevel: logLevel, format: logFormat)
}
let logger = Logger(label: "claude-metrics-exporter")

let store = TrackerGroup.store(for: configuration, startTime: Timestamp.now())
let usageStore = configuration.usageMetrics ? UsageStore() : nil
let renderer = MetricsRenderer(
    configuration: configuration,
    version: version,
    revision: revision,
    processStartTime: ProcessStatistics.startTime() ?? Timestamp.now().secondsSinceEpoch
)

if once {
    let tracker = TrackerGroup(
        configuration: configuration,
        fileSystem: LocalFileSystem(),
        registry: nil,
        store: store,
        executor: ThreadExecutor(name: "state"),
        logger: logger
    )
    await tracker.start()
    if let usageStore {
        let usage = UsageTracker(
            claudeDirectories: configuration.allDirectories(of: .claude),
            codexDirectory: configuration.directory(of: .codex),
            fileSystem: LocalFileSystem(),
            store: usageStore,
            executor: ThreadExecutor(name: "usage"),
            logger: logger
        )
        await usage.readHistory()
        await usage.handle(.liveSessions(Set(store.snapshot.liveSessions.map(\.sessionID))))
    }
    print(
        renderer.render(
            store.snapshot,
            now: Timestamp.now(),
            process: ProcessStatistics.current(),
            usage: usageStore?.snapshot
        ),
        terminator: ""
    )
    // The live registry entries, for a person reading along; stdout stays pure exposition format.
    for session in store.snapshot.liveSessions {
        StandardError.write(
            "live session: pid \(session.pid) status \(session.rawStatus) session \(session.sessionID) cwd \(session.cwd)\n"
        )
    }
} else {
    let daemon: Daemon
    do {
        daemon = try await Daemon(
            configuration: configuration,
            environment: environment,
            store: store,
            usageStore: usageStore,
            renderer: renderer,
            version: version,
            revision: revision,
            logger: logger
        )
    } catch {
        fail(error.description, status: 1)
    }
    await daemon.run()
}
