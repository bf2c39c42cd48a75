import FileWatching
import Logging
import Platform

/// Keeps the ``SourceLayout/sessionRegistry`` source up to date: watches `$CLAUDE_DIR/sessions/`, reads the files
/// whose modification time changed (the ``SessionRegistryMonitor`` decides what they mean), and puts the live view
/// into the snapshot.
final class RegistryScanner {
    private let context: ScanContext
    private(set) var monitor: SessionRegistryMonitor

    init(context: ScanContext, processes: any ProcessTable) {
        self.context = context
        self.monitor = SessionRegistryMonitor(
            directory: Self.path(context),
            freshness: context.settings.idleTimeoutSeconds,
            fileSystem: context.fileSystem,
            processes: processes,
            logger: context.logger
        )
    }

    private static func path(_ context: ScanContext) -> String {
        context.path(of: .claude) + "/" + ClaudeLayout.sessions
    }

    private var path: String { Self.path(context) }

    /// Whether a live entry needs the periodic liveness check.
    var hasLiveEntries: Bool { monitor.hasLiveEntries }

    /// Watches `sessions/` and reads the registry files whose modification time changed since last read.
    func scan(into snapshot: inout ActivitySnapshot) {
        guard context.watch(.sessions, path) != .vanished else { return removeAll(from: &snapshot) }
        var present: Set<UInt64> = []
        var changed: [(name: String, modified: Timestamp)] = []
        do {
            // Links are never followed here (a registry file is never a link, and a stat through one could hang).
            try context.fileSystem.forEachEntry(
                in: path,
                followingLinks: false,
                wantsStatus: ClaudeLayout.isRegistryFile
            ) {
                entry in
                guard ClaudeLayout.isRegistryFile(entry.nameBytes) else { return }
                present.insert(ClaudeLayout.nameHash(entry.nameBytes))
                // A FIFO or a link is listed as "other": read (and refused) once, so that it is logged.
                let modified = entry.status?.modified ?? .zero
                // Bounded: past twice the tracked limit, names are only counted as present.
                if entry.kind != .directory, changed.count < 2 * SessionRegistryMonitor.maximumFiles,
                    monitor.wantsReading(entry.name, modified: modified)
                {
                    changed.append((entry.name, modified))
                }
            }
        } catch {
            if error.isMissing { return removeAll(from: &snapshot) }
            context.logUnreadable(path, error)
            return
        }
        monitor.synchronize(present: present, changed: changed, now: context.clock())
        monitor.checkLiveness(now: context.clock())
        update(&snapshot)
    }

    /// `sessions/` (or the Claude directory) is gone.
    func removeAll(from snapshot: inout ActivitySnapshot) {
        context.unwatch(.sessions)
        monitor.removeAll()
        update(&snapshot)
    }

    /// `sessions` appeared or went in the Claude directory.
    func folderChanged(_ snapshot: inout ActivitySnapshot) {
        if context.isDirectory(path) { scan(into: &snapshot) } else { removeAll(from: &snapshot) }
    }

    /// An inotify event for `name` in `sessions/`.
    func handle(name: String, _ snapshot: inout ActivitySnapshot) {
        guard ClaudeLayout.isRegistryFile(name) else { return }
        monitor.read(name, now: context.clock())
        update(&snapshot)
    }

    /// The liveness check (a process that dies without removing its file stops counting within a tick).
    func tick(_ snapshot: inout ActivitySnapshot) {
        monitor.checkLiveness(now: context.clock())
        update(&snapshot)
    }

    /// Puts the registry's live view into the snapshot, and counts a busy or waiting process as activity now.
    private func update(_ snapshot: inout ActivitySnapshot) {
        let live = monitor.live
        snapshot.agentSessions = live.counts
        snapshot.liveSessions = live.sessions
        snapshot.statusActive = live.active != nil
        context.tree.setFiles(monitor.entryFiles, for: .status)
        if let active = live.active { context.observe(.status, context.clock(), active.file, fromEvent: true) }
    }
}
