/// What the tracker needs to know from the configuration.
public struct TrackerSettings: Sendable {
    /// The path of each ``RootDirectory``, by its index.
    public var directories: [String]
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
