/// What the tracker needs to know from the configuration.
public struct TrackerSettings: Sendable {
    /// The path of each ``RootDirectory``, by its index.
    public var directories: [String]
    /// The roots this tracker watches and scans (every one, but for a tracker of one more directory of a root
    /// whose setting is a list: see ``TrackerGroup``).
    public var roots = RootDirectory.allCases
    /// The roots whose setting lists more than one directory: one of them missing is said as a notice, not a
    /// warning (the others may hold the agent's files).
    public var listedRoots: Set<RootDirectory> = []
    /// For a tracker of a further directory of a list: the directories listed before it (one that is the same
    /// directory through a symbolic link is counted there, not here).
    public var earlierDirectories: [String] = []
    public var idleTimeoutSeconds: Double
    /// The sources that make the agent active (`ACTIVITY_SOURCES`).
    public var drivingSources: Set<ActivitySource>
    /// Session folders (`projects/<slug>/<uuid>/`) with nothing newer than this are not watched, which
    /// keeps the watch count bounded by recent sessions (see ``ProjectsScanner``).
    public var sessionWatchWindowSeconds: Double

    public init(
        claudeDirectory: String,
        happyDirectory: String,
        idleTimeoutSeconds: Double,
        drivingSources: Set<ActivitySource> = ActivitySource.defaultDriving,
        sessionWatchWindowSeconds: Double = 24 * 3600
    ) {
        var directories = RootDirectory.allCases.map(\.defaultPath)
        directories[RootDirectory.claude.index] = claudeDirectory
        directories[RootDirectory.happy.index] = happyDirectory
        self.directories = directories
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.drivingSources = drivingSources
        self.sessionWatchWindowSeconds = sessionWatchWindowSeconds
    }

    public init(_ configuration: ExporterConfiguration) {
        self.directories = configuration.directories
        self.idleTimeoutSeconds = configuration.idleTimeoutSeconds
        self.drivingSources = configuration.activitySources
        self.sessionWatchWindowSeconds = 24 * 3600
    }

    public func directory(of root: RootDirectory) -> String { directories[root.index] }

    /// The settings of each tracker a configuration needs: one for every root, then one for each further
    /// directory of a root whose setting is a list (`CLAUDE_DIR=/a,/b`: the second watches `/b` alone).
    public static func all(_ configuration: ExporterConfiguration) -> [TrackerSettings] {
        var main = TrackerSettings(configuration)
        main.listedRoots = Set(RootDirectory.allCases.filter { !configuration.moreDirectories[$0.index].isEmpty })
        var all = [main]
        for root in RootDirectory.allCases {
            var earlier = [configuration.directory(of: root)]
            for path in configuration.moreDirectories[root.index] {
                var more = main
                more.directories[root.index] = path
                more.roots = [root]
                more.earlierDirectories = earlier
                earlier.append(path)
                all.append(more)
            }
        }
        return all
    }
}

/// Why a full scan runs.
public enum ScanReason: String, Sendable {
    case startup
    case periodic
    case overflow
    case reload
}

/// The folder that holds `path` (`/` for a top-level path, `.` for a bare name).
func parentPath(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// The last component of `path`.
func lastComponent(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
