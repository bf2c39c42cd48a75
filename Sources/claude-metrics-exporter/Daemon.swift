import ExporterCore
import FileWatching
import HTTPServer
import Logging
import Platform
import Systemd

#if canImport(Glibc)
import Glibc
#endif

/// Why the daemon could not start; the message is printed and the exit status is 1.
struct StartupError: Error, CustomStringConvertible {
    var description: String
}

/// The running exporter: its parts, started in order, and the loops that drive them, all owned here.
///
/// ``run()`` runs every loop as a child task of one task group and waits for SIGTERM or SIGINT (SIGHUP reloads);
/// then it cancels the loops (each sleep ends on cancellation; each stream's iteration ends), waits for all of
/// them, stops the HTTP server (responses in flight get their grace period), the inotify reader and the mount
/// monitor, and returns. Nothing is left running behind it, and no `exit` cuts anything short.
struct Daemon: Sendable {
    private let configuration: ExporterConfiguration
    private let store: SnapshotStore
    private let logger: Logger
    private let signals: UnixSignals
    private let notifier: SystemdNotifier?
    private let tracker: TrackerGroup
    private let reader: InotifyReader?
    private let mounts: MountTableMonitor?
    private let server: HTTPServer
    private let listener: Listener
    /// Token usage from the transcripts (`nil` with `USAGE_METRICS=off`), and what the activity side tells it.
    private let usage: UsageTracker?
    private let inbox: TranscriptInbox

    /// Binds the port, starts watching, runs the first full scan, then serves: connections made meanwhile wait
    /// in the backlog, so no scrape ever sees the empty state of a starting exporter.
    init(
        configuration: ExporterConfiguration,
        environment: [String: String],
        store: SnapshotStore,
        usageStore: UsageStore?,
        renderer: MetricsRenderer,
        version: String,
        revision: String,
        logger: Logger
    ) async throws(StartupError) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        signals = UnixSignals.handle([SIGTERM, SIGINT, SIGHUP])
        // Bind first: a port in use is reported before any scanning.
        notifier = SystemdNotifier(environment: environment)
        if let activated = SystemdNotifier.activationSocket() {
            // Socket activation: systemd bound the port and hands us the listening socket.
            listener = Listener(adopting: activated)
        } else {
            do {
                listener = try Listener.bind(host: configuration.listenAddress, port: configuration.metricsPort)
            } catch {
                throw StartupError(description: error.description)
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
        let inbox = TranscriptInbox()
        self.inbox = inbox
        usage = usageStore.map { usageStore in
            UsageTracker(
                claudeDirectories: configuration.allDirectories(of: .claude),
                codexDirectory: configuration.directory(of: .codex),
                fileSystem: LocalFileSystem(),
                store: usageStore,
                executor: ThreadExecutor(name: "usage"),
                logger: logger
            )
        }
        var transcripts: (@Sendable (TranscriptNotice) -> Void)?
        if usageStore != nil { transcripts = { inbox.post($0) } }
        tracker = TrackerGroup(
            configuration: configuration,
            fileSystem: LocalFileSystem(),
            registry: inotify,
            store: store,
            executor: ThreadExecutor(name: "state"),
            logger: logger,
            transcripts: transcripts
        )
        do {
            reader = try inotify.map { inotify throws(Errno) in try InotifyReader(inotify: inotify) }
        } catch {
            throw StartupError(description: "cannot start the inotify reader: \(error)")
        }
        reader?.start()
        do {
            mounts = try MountTableMonitor()
        } catch {
            // A file system mounted over a watched folder hides it from its watch; without the monitor only
            // the rescan notices.
            logger.warning(
                "cannot watch the mount table; a mount over a watched folder is seen only by the rescan",
                metadata: ["error": "\(error)"]
            )
            mounts = nil
        }

        var startMetadata: Logger.Metadata = [:]
        for root in RootDirectory.allCases {
            startMetadata["\(root.name)_dir"] = "\(configuration.allDirectories(of: root).joined(separator: ","))"
        }
        logger.info(
            "starting",
            metadata: startMetadata.merging([
                "version": "\(version)", "revision": "\(revision)",
                "idle_timeout_minutes": "\(configuration.idleTimeoutMinutes)",
                "activity_sources":
                    "\(ActivitySource.allCases.filter(configuration.activitySources.contains).map(\.rawValue).joined(separator: ","))",
                "update_interval_seconds": "\(configuration.rescanIntervalSeconds)",
                "pod": "\(configuration.podName)", "repository": "\(configuration.repositoryName)",
                "usage_metrics": "\(configuration.usageMetrics ? "on" : "off")",
            ]) { $1 }
        )
        // The mount table's baseline before the first scan (the monitor's descriptor is already open, so a
        // change from here on is reported): a mount landing during the scan is not taken for the baseline.
        if mounts != nil { await tracker.mountTableChanged(MountTableMonitor.mounts()) }
        await tracker.start()
        mounts?.start()

        let parked = ParkedRequestCount()
        let routes = Routes(
            store: store,
            usageStore: usageStore,
            renderer: renderer,
            rescanInterval: configuration.rescanIntervalSeconds,
            drainQuietSeconds: configuration.drainQuietSeconds,
            parked: parked,
            logger: logger,
            page: StatusPage.Context(
                // "unknown" is the labels' value when the variable is not set.
                podName: configuration.podName == "unknown" ? nil : configuration.podName,
                repositoryName: configuration.repositoryName == "unknown" ? nil : configuration.repositoryName,
                idleTimeoutSeconds: configuration.idleTimeoutSeconds,
                drivingSources: configuration.activitySources,
                directories: configuration.directoriesForDisplay,
                version: renderer.version,
                revision: renderer.revision
            )
        )
        do {
            server = try HTTPServer(listener: listener, logger: logger, parked: parked) { routes.reply(to: $0) }
            try server.start()
        } catch {
            throw StartupError(description: "cannot start the HTTP server: \(error)")
        }
        logger.info("listening", metadata: ["address": "\(listener.address)", "port": "\(listener.port)"])
        // Ready only now: the first full scan is done, the watches exist and the socket listens.
        notifier?.notify("READY=1\nSTATUS=\(statusLine())")
    }

    /// Runs until SIGTERM or SIGINT, then stops everything it started and returns.
    func run() async {
        await withTaskGroup(of: Void.self) { loops in
            loops.addTask { await heartbeat() }
            loops.addTask { await rescans() }
            if let reader { loops.addTask { await events(from: reader) } }
            if let mounts { loops.addTask { await mountChanges(from: mounts) } }
            if let notifier { loops.addTask { await statusLines(to: notifier) } }
            if let usage { loops.addTask { await usageReading(usage) } }
            await waitForStop()
            loops.cancelAll()
        }
        notifier?.notify("STOPPING=1")
        server.shutdown()
        reader?.stop()
        mounts?.stop()
        logger.info("stopped")
    }

    private func waitForStop() async {
        for await number in signals.signals {
            if number == SIGHUP {
                logger.info("reloading: watching and scanning everything again", metadata: ["signal": "SIGHUP"])
                notifier?.reloading()
                await tracker.reload()
                notifier?.notify("READY=1\nSTATUS=\(statusLine())")
                continue
            }
            logger.info("stopping", metadata: ["signal": "\(UnixSignals.name(number))"])
            return
        }
    }

    /// A round trip through the state actor every few seconds: the proof of life that /health checks (a stuck
    /// actor makes it fail, so a liveness probe restarts the exporter) and, under a systemd watchdog, the
    /// condition for each WATCHDOG=1.
    private func heartbeat() async {
        let watchdog = notifier?.watchdogInterval
        if let watchdog { logger.info("systemd watchdog on", metadata: ["interval": "\(watchdog)"]) }
        let interval = min(Duration.seconds(Health.heartbeatInterval), watchdog ?? .seconds(Health.heartbeatInterval))
        while !Task.isCancelled {
            await tracker.heartbeat()
            if watchdog != nil { notifier?.notify("WATCHDOG=1") }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// The fallback rescan every UPDATE_INTERVAL_SECONDS.
    private func rescans() async {
        while true {
            do { try await Task.sleep(for: .seconds(configuration.rescanIntervalSeconds)) } catch { return }
            await tracker.rescan()
        }
    }

    private func events(from reader: InotifyReader) async {
        for await batch in reader.events { await tracker.handle(batch) }
        if !Task.isCancelled {
            logger.error(
                "inotify stopped delivering events; changes are seen only by the rescan every UPDATE_INTERVAL_SECONDS"
            )
        }
    }

    /// The transcripts' history first (in the background: READY and scrapes never wait for it), then each change.
    private func usageReading(_ usage: UsageTracker) async {
        await usage.readHistory()
        for await _ in inbox.wakeUps {
            for notice in inbox.take() { await usage.handle(notice) }
        }
    }

    private func mountChanges(from mounts: MountTableMonitor) async {
        for await _ in mounts.changes { await tracker.mountTableChanged(MountTableMonitor.mounts()) }
    }

    /// The systemd status line, when something in it other than the age changed, at most once a second.
    private func statusLines(to notifier: SystemdNotifier) async {
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

    private func statusLine() -> String {
        StatusLine.text(
            store.snapshot,
            at: Timestamp.now(),
            idleTimeoutSeconds: configuration.idleTimeoutSeconds,
            sources: configuration.activitySources,
            directories: configuration.directoriesForDisplay
        )
    }
}
