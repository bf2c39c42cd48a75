import FileWatching
import Platform

/// The scanner of every source, and the one place that picks it by the source's ``SourceLayout``: a new layout is a
/// case here (and its scanner), not a special case in each of the tracker's scans and event paths.
final class SourceParts {
    let projects: ProjectsScanner
    let registry: RegistryScanner
    let happy: HappyStateScanner
    /// The scanner of each ``SourceLayout/files(_:)`` source, by source index.
    private let patterns: [PatternScanner?]

    init(context: ScanContext, processes: any ProcessTable) {
        projects = ProjectsScanner(context: context)
        registry = RegistryScanner(context: context, processes: processes)
        happy = HappyStateScanner(context: context, processes: processes)
        patterns = ActivitySource.allCases.map { source in
            guard case .files(let pattern) = source.layout else { return nil }
            return PatternScanner(source: source, pattern: pattern, context: context)
        }
    }

    /// Scans `source` (its root exists and is watched; `rootTrusted`: the watch predates this scan).
    func scan(_ source: ActivitySource, rootTrusted: Bool, _ snapshot: inout ActivitySnapshot) {
        switch source.layout {
        case .claudeProjects: projects.scan()
        case .sessionRegistry: registry.scan(into: &snapshot)
        case .happyProcesses: happy.scan(into: &snapshot)
        case .files: patterns[source.index]?.scan(rootTrusted: rootTrusted)
        }
    }

    /// `source`'s root is gone: forgets everything of it.
    func removeAll(_ source: ActivitySource, _ snapshot: inout ActivitySnapshot) {
        switch source.layout {
        case .claudeProjects: projects.removeAll()
        case .sessionRegistry: registry.removeAll(from: &snapshot)
        case .happyProcesses: happy.removeAll(from: &snapshot)
        case .files: patterns[source.index]?.removeAll()
        }
    }

    /// An event for `name` directly in the root of `source`.
    func rootEvent(_ name: String, of source: ActivitySource, structural: Bool, _ snapshot: inout ActivitySnapshot) {
        switch source.layout {
        case .claudeProjects:
            if name == ClaudeLayout.projects && structural { projects.projectsChanged() }
        case .sessionRegistry:
            if name == ClaudeLayout.sessions && structural { registry.folderChanged(&snapshot) }
        case .happyProcesses:
            if name == ClaudeLayout.happyLogs && structural { happy.folderChanged(&snapshot) }
        case .files:
            patterns[source.index]?.handle(name: name, in: "", structural: structural)
        }
    }

    /// An event for `name` in a folder watched for `source` (a ``WatchedDirectory/folder(_:_:)`` role).
    func folderEvent(
        _ name: String,
        in folder: String,
        of source: ActivitySource,
        structural: Bool,
        _ snapshot: inout ActivitySnapshot
    ) {
        switch source.layout {
        case .happyProcesses: happy.handle(name: name, &snapshot)
        case .files: patterns[source.index]?.handle(name: name, in: folder, structural: structural)
        case .claudeProjects, .sessionRegistry: break  // their folders have roles of their own
        }
    }

    /// The watch of a folder of `source` ended (deleted, moved, unmounted).
    func folderWatchEnded(_ folder: String, of source: ActivitySource, _ snapshot: inout ActivitySnapshot) {
        switch source.layout {
        case .happyProcesses: happy.folderChanged(&snapshot)
        case .files: patterns[source.index]?.watchEnded(folder)
        case .claudeProjects, .sessionRegistry: break
        }
    }

    /// Whether a live process (a registry entry, a Happy process) needs the 1-second liveness check.
    var hasLiveProcesses: Bool { registry.hasLiveEntries || happy.hasLiveProcesses }

    /// The liveness check.
    func tick(_ snapshot: inout ActivitySnapshot) {
        registry.tick(&snapshot)
        happy.tick(&snapshot)
    }
}
