import CBuildInfo
import ExporterCore
import FileWatching
import HTTPServer
import Logging
import Platform
import Synchronization
import Systemd

#if canImport(Glibc)
import Glibc
#endif

// Wiring only: parse the configuration, bootstrap logging, start the pieces, wait for a signal.

let version = "0.1.0"
let revision = String(cString: exporter_revision())

func fail(_ message: String, status: Int32) -> Never {
    StandardError.write("claude-metrics-exporter: \(message)\n")
    exit(status)
}

let invocation: Invocation
do {
    invocation = try ExporterConfiguration.parse(
        arguments: Array(CommandLine.arguments.dropFirst()),
        environment: ProcessEnvironment.current()
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
Heap.useSingleArena()

let logLevel = once && configuration.logLevel != .debug ? max(configuration.logLevel, .warning) : configuration.logLevel
let logFormat = configuration.logFormat
let startupEnvironment = ProcessEnvironment.current()
LoggingSystem.bootstrap { _ in
    // Under systemd, structured journal entries; elsewhere one line per entry on standard error.
    if let journal = JournalLogHandler(
        identifier: "claude-metrics-exporter",
        logLevel: logLevel,
        environment: startupEnvironment
    ) {
        return journal
    }
    return StandardErrorLogHandler(logLevel: logLevel, format: logFormat)
}
let logger = Logger(label: "claude-metrics-exporter")

let signals = once ? nil : UnixSignals.handle([SIGTERM, SIGINT, SIGHUP])

let store = SnapshotStore(ActivitySnapshot(startTime: Timestamp.now()))
let renderer = MetricsRenderer(
    configuration: configuration,
    version: version,
    revision: revision,
    processStartTime: ProcessStatistics.startTime() ?? Timestamp.now().secondsSinceEpoch
)

if once {
    let tracker = ActivityTracker(
        settings: TrackerSettings(configuration),
        fileSystem: LocalFileSystem(),
        registry: nil,
        store: store,
        executor: ThreadExecutor(name: "state"),
        logger: logger
    )
    await tracker.start()
    print(renderer.render(store.snapshot, now: Timestamp.now(), process: ProcessStatistics.current()), terminator: "")
    // The live registry entries, for a person reading along; stdout stays pure exposition format.
    for session in store.snapshot.liveSessions {
        StandardError.write(
            "live session: pid \(session.pid) status \(session.rawStatus) session \(session.sessionID) cwd \(session.cwd)\n"
        )
    }
    exit(0)
}

// Bind first: a port in use is reported before any scanning. Connections wait in the backlog until the
// first scan is done, so no scrape ever sees the empty state of a starting exporter.
let notifier = SystemdNotifier(environment: startupEnvironment)
let listener: Listener
if let activated = SystemdNotifier.activationSocket() {
    // Socket activation: systemd bound the port and hands us the listening socket.
    listener = Listener(adopting: activated)
} else {
    do {
        listener = try Listener.bind(host: configuration.listenAddress, port: configuration.metricsPort)
    } catch {
        fail(error.description, status: 1)
    }
}

var inotify: Inotify?
do {
    inotify = try Inotify()
} catch {
    logger.error(
        "cannot create an inotify instance; changes are seen only by the rescan every UPDATE_INTERVAL_SECONDS",
        metadata: ["error": "\(error)", "fix": "raise fs.inotify.max_user_instances"]
    )
}

let tracker = ActivityTracker(
    settings: TrackerSettings(configuration),
    fileSystem: LocalFileSystem(),
    registry: inotify,
    store: store,
    executor: ThreadExecutor(name: "state"),
    logger: logger
)

let reader: InotifyReader?
do {
    reader = try inotify.map { inotify throws(Errno) in try InotifyReader(inotify: inotify) }
} catch {
    fail("cannot start the inotify reader: \(error)", status: 1)
}
reader?.start()

logger.info(
    "starting",
    metadata: [
        "version": "\(version)", "revision": "\(revision)",
        "claude_dir": "\(configuration.claudeDirectory)", "happy_dir": "\(configuration.happyDirectory)",
        "idle_timeout_minutes": "\(configuration.idleTimeoutMinutes)",
        "activity_sources":
            "\(ActivitySource.allCases.filter(configuration.activitySources.contains).map(\.rawValue).joined(separator: ","))",
        "update_interval_seconds": "\(configuration.rescanIntervalSeconds)",
        "pod": "\(configuration.podName)", "repository": "\(configuration.repositoryName)",
    ]
)
await tracker.start()

let routes = Routes(store: store, renderer: renderer, rescanInterval: configuration.rescanIntervalSeconds)
let server: HTTPServer
do {
    server = try HTTPServer(listener: listener, logger: logger) { routes.respond(to: $0) }
    try server.start()
} catch {
    fail("cannot start the HTTP server: \(error)", status: 1)
}
logger.info("listening", metadata: ["address": "\(listener.address)", "port": "\(listener.port)"])
// Startup's code will not run again: let the kernel take those clean, file-backed pages back now.
let releasedCode = CodePages.release()
logger.debug("released startup code pages", metadata: ["bytes": "\(releasedCode)"])

func statusLine() -> String {
    StatusLine.text(
        store.snapshot,
        at: Timestamp.now(),
        idleTimeoutSeconds: configuration.idleTimeoutSeconds,
        sources: configuration.activitySources
    )
}

if let notifier {
    // Ready only now: the first full scan is done, the watches exist and the socket listens.
    notifier.notify("READY=1\nSTATUS=\(statusLine())")
    // The status line, when something in it other than the age changed, at most once a second.
    Task {
        var last: [Int] = []
        while true {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            let key = StatusLine.key(
                store.snapshot,
                at: Timestamp.now(),
                idleTimeoutSeconds: configuration.idleTimeoutSeconds,
                sources: configuration.activitySources
            )
            if key != last {
                last = key
                notifier.notify("STATUS=\(statusLine())")
            }
        }
    }
}

// The heartbeat: a round trip through the state actor every few seconds, the proof of life that /health checks
// (a stuck actor makes it fail, so a liveness probe restarts the exporter) and, under a systemd watchdog, the
// condition for each WATCHDOG=1.
let watchdogInterval = notifier?.watchdogInterval
let heartbeatInterval = min(
    Duration.seconds(Health.heartbeatInterval),
    watchdogInterval ?? .seconds(Health.heartbeatInterval)
)
Task {
    while true {
        await tracker.heartbeat()
        if watchdogInterval != nil { notifier?.notify("WATCHDOG=1") }
        do { try await Task.sleep(for: heartbeatInterval) } catch { return }
    }
}
if let watchdogInterval { logger.info("systemd watchdog on", metadata: ["interval": "\(watchdogInterval)"]) }

let stopping = Mutex(false)
if let reader {
    Task {
        for await batch in reader.events { await tracker.handle(batch) }
        if !stopping.withLock({ $0 }) {
            logger.error(
                "inotify stopped delivering events; changes are seen only by the rescan every UPDATE_INTERVAL_SECONDS"
            )
        }
    }
}
// A file system mounted over a watched folder hides it from its watch: a change of the mount table sets the
// watches up again when a mount point near the roots came or went.
do {
    let mounts = try MountTableMonitor()
    await tracker.mountTableChanged(MountTableMonitor.mountPoints())
    mounts.start()
    Task {
        for await _ in mounts.changes { await tracker.mountTableChanged(MountTableMonitor.mountPoints()) }
    }
} catch {
    logger.warning(
        "cannot watch the mount table; a mount over a watched folder is seen only by the rescan",
        metadata: ["error": "\(error)"]
    )
}
let rescanInterval = configuration.rescanIntervalSeconds
Task {
    while true {
        do { try await Task.sleep(for: .seconds(rescanInterval)) } catch { return }
        await tracker.rescan()
    }
}

for await number in signals!.signals {
    if number == SIGHUP {
        logger.info("reloading: watching and scanning everything again", metadata: ["signal": "SIGHUP"])
        notifier?.reloading()
        await tracker.reload()
        notifier?.notify("READY=1\nSTATUS=\(statusLine())")
        continue
    }
    logger.info("stopping", metadata: ["signal": "\(UnixSignals.name(number))"])
    break
}
stopping.withLock { $0 = true }
notifier?.notify("STOPPING=1")
server.shutdown()
reader?.stop()
logger.info("stopped")
exit(0)
