/// A directory an agent keeps its state in, declared once: the configuration takes its setting, flag, default and
/// `--help` line from here, and the tracker watches and scans it (awaiting it while it does not exist).
public struct RootDirectory: Sendable, Hashable, CustomStringConvertible {
    /// Short name, used in logs (`claude`, `happy`).
    public let name: String
    /// Position in ``allCases``: values per root are stored by it.
    public let index: Int
    /// The environment variable that sets it, e.g. `CLAUDE_DIR`.
    public let variable: String
    /// A second variable read when ``variable`` is unset (the agent's own name for it).
    public let fallbackVariable: String?
    public let flag: String
    public let defaultPath: String
    /// What it is, for `--help`: "Claude Code's directory".
    public let summary: String

    public static let claude = RootDirectory(
        name: "claude",
        index: 0,
        variable: "CLAUDE_DIR",
        fallbackVariable: "CLAUDE_CONFIG_DIR",
        flag: "--claude-dir",
        defaultPath: "/home/agent/.claude",
        summary: "Claude Code's directory"
    )
    public static let happy = RootDirectory(
        name: "happy",
        index: 1,
        variable: "HAPPY_DIR",
        fallbackVariable: "HAPPY_HOME_DIR",
        flag: "--happy-dir",
        defaultPath: "/home/agent/.happy",
        summary: "Happy CLI's directory"
    )

    /// Every root, in ``index`` order.
    public static let allCases: [RootDirectory] = [claude, happy]

    public var description: String { name }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.index == rhs.index }
    public func hash(into hasher: inout Hasher) { hasher.combine(index) }
}

/// Where activity is read from, declared once: the tracker, the watches, `ACTIVITY_SOURCES` and its `--help`
/// text, and the per-source metrics all follow from ``allCases``. Adding a source is one declaration here
/// (a root and a layout) plus its tests.
///
/// The ``rawValue`` is the `source` label and the word in `ACTIVITY_SOURCES`: a contract with users' rules.
public struct ActivitySource: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    /// Position in ``allCases``: values per source are stored by it (``PerSource``).
    public let index: Int
    /// The directory it lives under.
    public let root: RootDirectory
    /// Which folders under the root hold its files, and which files count.
    public let layout: SourceLayout
    /// Whether it is in the default `ACTIVITY_SOURCES` (drives the contract metrics).
    public let drivesByDefault: Bool

    /// Transcript files of sessions and subagents: `projects/<slug>/*.jsonl` and
    /// `projects/<slug>/<uuid>/subagents/*.jsonl`.
    public static let transcripts = ActivitySource(
        rawValue: "transcripts",
        index: 0,
        root: .claude,
        layout: .claudeProjects,
        drivesByDefault: true
    )
    /// `$CLAUDE_DIR/history.jsonl`: one line per prompt typed.
    public static let history = ActivitySource(
        rawValue: "history",
        index: 1,
        root: .claude,
        layout: .files(FilePattern(folders: [], files: .named(ClaudeLayout.history))),
        drivesByDefault: true
    )
    /// `$HAPPY_DIR/logs/*.log`. Happy writes these every few seconds even while the agent is idle,
    /// so by default this source is exported but does not drive activity.
    public static let happyLogs = ActivitySource(
        rawValue: "happy_logs",
        index: 2,
        root: .happy,
        layout: .files(FilePattern(folders: [.named(ClaudeLayout.happyLogs)], files: .suffix(".log"))),
        drivesByDefault: false
    )
    /// Claude Code's live session registry, `$CLAUDE_DIR/sessions/<pid>.json`: a running Claude Code process
    /// whose status is `busy` or `waiting` is activity for as long as it stays so.
    public static let status = ActivitySource(
        rawValue: "status",
        index: 3,
        root: .claude,
        layout: .sessionRegistry,
        drivesByDefault: true
    )

    /// Every source, in ``index`` order (the order of the per-source metrics).
    public static let allCases: [ActivitySource] = [transcripts, history, happyLogs, status]

    /// The sources that drive the contract metrics unless `ACTIVITY_SOURCES` says otherwise.
    public static let defaultDriving = Set(allCases.filter(\.drivesByDefault))

    /// The sources that live under `root`.
    public static func sources(under root: RootDirectory) -> [ActivitySource] { allCases.filter { $0.root == root } }

    /// The source named `rawValue` (the `source` label), if any.
    public init?(rawValue: String) {
        guard let source = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = source
    }

    init(rawValue: String, index: Int, root: RootDirectory, layout: SourceLayout, drivesByDefault: Bool) {
        self.rawValue = rawValue
        self.index = index
        self.root = root
        self.layout = layout
        self.drivesByDefault = drivesByDefault
    }

    public var description: String { rawValue }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.index == rhs.index }
    public func hash(into hasher: inout Hasher) { hasher.combine(index) }
}

/// How a source's files are found under its root.
public enum SourceLayout: Sendable {
    /// Files that match a pattern, in folders reached from the root by fixed or matching names: their modification
    /// times are the activity and they are counted (``PatternScanner`` does the work for every such source).
    case files(FilePattern)
    /// Claude Code's `projects/` tree: transcripts counted as sessions, and per-session `subagents/` folders watched
    /// only while recent (``ProjectsScanner``).
    case claudeProjects
    /// Claude Code's `sessions/` registry, whose files are read (``RegistryScanner``).
    case sessionRegistry
}

/// Folders below a root, then files in the last of them: `logs/*.log` is `folders: [.named("logs")]`,
/// `files: .suffix(".log")`. Every folder on the way is watched.
public struct FilePattern: Sendable {
    public enum Step: Sendable {
        /// A folder of exactly this name.
        case named(String)
        /// Every folder whose name the rule accepts.
        case matching(NameRule)
    }

    public var folders: [Step]
    public var files: NameRule

    public init(folders: [Step], files: NameRule) {
        self.folders = folders
        self.files = files
    }
}

/// Which names count, decided from the name alone. Names starting with `.` never match a ``suffix(_:)`` or
/// ``anyVisible`` rule (editors and atomic writers use such names for temporary files).
public struct NameRule: Sendable {
    /// Whether a name (its bytes) matches.
    public let matches: @Sendable (UnsafeBufferPointer<UInt8>) -> Bool
    /// How the rule reads in the README and logs (`*.log`).
    public let description: String

    public init(_ description: String, _ matches: @escaping @Sendable (UnsafeBufferPointer<UInt8>) -> Bool) {
        self.description = description
        self.matches = matches
    }

    public func matches(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { matches($0) }
    }

    /// Exactly `name`.
    public static func named(_ name: String) -> NameRule {
        let bytes = Array(name.utf8)
        return NameRule(name) { $0.elementsEqual(bytes) }
    }

    /// Ends with `suffix`, has something before it, and is not hidden.
    public static func suffix(_ suffix: String) -> NameRule {
        let bytes = Array(suffix.utf8)
        return NameRule("*" + suffix) { name in
            name.count > bytes.count && name[0] != UInt8(ascii: ".")
                && name[(name.count - bytes.count)...].elementsEqual(bytes)
        }
    }

    /// Any name that is not hidden.
    public static let anyVisible = NameRule("*") { name in !name.isEmpty && name[0] != UInt8(ascii: ".") }

    /// Exactly `count` decimal digits (a year, month or day folder).
    public static func digits(_ count: Int) -> NameRule {
        NameRule(String(repeating: "N", count: count)) { name in
            name.count == count && name.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        }
    }
}

/// One value per ``ActivitySource``, stored by the source's index (no dictionary on the scrape path).
public struct PerSource<Value: Sendable>: Sendable {
    private var values: [Value]

    public init(repeating value: Value) {
        values = Array(repeating: value, count: ActivitySource.allCases.count)
    }

    public subscript(source: ActivitySource) -> Value {
        get { values[source.index] }
        set { values[source.index] = newValue }
    }
}

extension PerSource: Equatable where Value: Equatable {}
