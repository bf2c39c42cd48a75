import FileWatching

/// A directory an agent keeps its state in, declared once: the configuration takes its setting, flag, default and
/// `--help` line from here, and the tracker watches and scans it (awaiting it while it does not exist).
///
/// A value is a small handle (an index into ``declarations``), so the watch table and the per-event paths copy a
/// word, not the declaration.
public struct RootDirectory: Sendable, Hashable, CustomStringConvertible {
    /// Position in ``allCases`` and ``declarations``: values per root are stored by it.
    public let index: Int

    struct Declaration: Sendable {
        /// Short name, used in logs and as the `directory` label (`claude`, `happy`).
        var name: String
        /// The environment variable that sets it, e.g. `CLAUDE_DIR`.
        var variable: String
        /// A second variable read when ``variable`` is unset (the agent's own name for it).
        var fallbackVariable: String?
        var flag: String
        var defaultPath: String
        /// What it is, for `--help`: "Claude Code's directory".
        var summary: String
        /// Whose directory it is, for the message while it is missing: "Claude Code".
        var agent: String
        /// Whether a directory that exists but cannot be listed makes the exporter unhealthy.
        var unreadableIsUnhealthy: Bool
        /// More directories of the same agent by default: the setting then takes a comma-separated list, and the
        /// sources under the root are the union over every directory of the list.
        var moreDefaultPaths: [String]? = nil
    }

    /// The roots, by index. Adding one is an entry here, and a static name below.
    static let declarations: [Declaration] = [
        Declaration(
            name: "claude",
            variable: "CLAUDE_DIR",
            fallbackVariable: "CLAUDE_CONFIG_DIR",
            flag: "--claude-dir",
            defaultPath: "/home/agent/.claude",
            summary: "Claude Code's directory",
            agent: "Claude Code",
            unreadableIsUnhealthy: true,
            // Claude Code 1.0.30 moved its data to `~/.config/claude` and later versions use `~/.claude` again;
            // ccusage reads both (and a comma-separated `CLAUDE_CONFIG_DIR`).
            moreDefaultPaths: ["/home/agent/.config/claude"]
        ),
        Declaration(
            name: "happy",
            variable: "HAPPY_DIR",
            fallbackVariable: "HAPPY_HOME_DIR",
            flag: "--happy-dir",
            defaultPath: "/home/agent/.happy",
            summary: "Happy CLI's directory",
            agent: "Happy",
            unreadableIsUnhealthy: false
        ),
        // Codex CLI keeps its state in `$CODEX_HOME` (openai/codex `codex-rs/core/src/config`: default `~/.codex`).
        Declaration(
            name: "codex",
            variable: "CODEX_DIR",
            fallbackVariable: "CODEX_HOME",
            flag: "--codex-dir",
            defaultPath: "/home/agent/.codex",
            summary: "Codex CLI's directory",
            agent: "Codex",
            unreadableIsUnhealthy: false
        ),
        // Gemini CLI keeps its state in `~/.gemini` (google-gemini/gemini-cli `packages/core/src/utils/paths.ts`).
        Declaration(
            name: "gemini",
            variable: "GEMINI_DIR",
            flag: "--gemini-dir",
            defaultPath: "/home/agent/.gemini",
            summary: "Gemini CLI's directory",
            agent: "Gemini CLI",
            unreadableIsUnhealthy: false
        ),
    ]

    public static let claude = RootDirectory(index: 0)
    public static let happy = RootDirectory(index: 1)
    public static let codex = RootDirectory(index: 2)
    public static let gemini = RootDirectory(index: 3)

    /// Every root, in ``index`` order.
    public static let allCases: [RootDirectory] = declarations.indices.map(RootDirectory.init(index:))

    private var declaration: Declaration { Self.declarations[index] }
    public var name: String { declaration.name }
    public var variable: String { declaration.variable }
    public var fallbackVariable: String? { declaration.fallbackVariable }
    public var flag: String { declaration.flag }
    public var defaultPath: String { declaration.defaultPath }
    public var summary: String { declaration.summary }
    public var agent: String { declaration.agent }
    public var unreadableIsUnhealthy: Bool { declaration.unreadableIsUnhealthy }
    /// Whether the setting takes a comma-separated list of directories (their union is watched).
    public var acceptsList: Bool { declaration.moreDefaultPaths != nil }
    /// Every default directory: ``defaultPath``, then the others of a list.
    public var defaultPaths: [String] { [defaultPath] + (declaration.moreDefaultPaths ?? []) }
    /// The files below it that an agent's sessions are, for `--help` (`sessions/NNNN/NN/NN/rollout-*.jsonl`): set
    /// for a root whose sources are all such files (Codex's, Gemini CLI's).
    public var agentFiles: String? {
        let sources = ActivitySource.sources(under: self)
        let patterns = sources.compactMap { source -> String? in
            guard source.agent != nil, case .files(let pattern) = source.layout else { return nil }
            return pattern.description
        }
        return !patterns.isEmpty && patterns.count == sources.count ? patterns.joined(separator: ", ") : nil
    }

    /// Whether a source under it holds token usage (Claude Code's transcripts, Codex's rollouts).
    public var holdsTranscripts: Bool {
        ActivitySource.sources(under: self).contains { $0 == .transcripts || $0.holdsTokenUsage }
    }

    /// Whether a source under it is in `sources` and expects the root to exist (then its absence hides the agent's
    /// activity: a warning). `happy_state` does not: most hosts run Claude Code without Happy.
    public func holdsAny(of sources: Set<ActivitySource>) -> Bool {
        ActivitySource.sources(under: self).contains { sources.contains($0) && $0.expectsRoot }
    }

    /// What the log, `/` and the status line say while it does not exist.
    public func waitingMessage(path: String) -> String {
        "waiting for \(path) to be created; set \(variable) if \(agent) keeps it elsewhere"
    }

    public var description: String { name }
}

/// Where activity is read from, declared once: the tracker, the watches, `ACTIVITY_SOURCES` and its `--help`
/// text, and the per-source metrics all follow from ``declarations``. Adding a source is one entry there (a name,
/// a root and a layout) and its static name, plus its tests.
///
/// The ``rawValue`` is the `source` label and the word in `ACTIVITY_SOURCES`: a contract with users' rules. A value
/// is a small handle (an index into ``declarations``).
public struct ActivitySource: Sendable, Hashable, CustomStringConvertible {
    /// Position in ``allCases`` and ``declarations``: values per source are stored by it (``PerSource``).
    public let index: Int

    struct Declaration: Sendable {
        var name: String
        /// The directory it lives under.
        var root: RootDirectory
        /// Which folders under the root hold its files, and which files count.
        var layout: SourceLayout
        /// Whether it is in the default `ACTIVITY_SOURCES` (drives the contract metrics).
        var drivesByDefault: Bool
        /// Whether its root missing deserves a warning when it drives activity (false: the agent is optional).
        var expectsRoot = true
        /// The `agent` label of `claude_agent_transcripts` when its files are an agent's session transcripts.
        var agent: String? = nil
        /// Whether its files hold token usage (the usage reader is told when one changes).
        var holdsTokenUsage = false
    }

    /// The sources, by index.
    static let declarations: [Declaration] = [
        // Transcript files of sessions and subagents: `projects/<slug>/*.jsonl` and
        // `projects/<slug>/<uuid>/subagents/*.jsonl`.
        Declaration(
            name: "transcripts",
            root: .claude,
            layout: .claudeProjects,
            drivesByDefault: true,
            agent: "claude"
        ),
        // `$CLAUDE_DIR/history.jsonl`: one line per prompt typed.
        Declaration(
            name: "history",
            root: .claude,
            layout: .files(FilePattern(folders: [], files: .named(ClaudeLayout.history))),
            drivesByDefault: true
        ),
        // `$HAPPY_DIR/logs/*.log`. Happy writes these every few seconds even while the agent is idle, so by default
        // this source is exported but does not drive activity.
        Declaration(
            name: "happy_logs",
            root: .happy,
            layout: .files(FilePattern(folders: [.named(ClaudeLayout.happyLogs)], files: .suffix(".log"))),
            drivesByDefault: false
        ),
        // Claude Code's live session registry, `$CLAUDE_DIR/sessions/<pid>.json`: a running Claude Code process whose
        // status is `busy` or `waiting` is activity for as long as it stays so.
        Declaration(name: "status", root: .claude, layout: .sessionRegistry, drivesByDefault: true),
        // Happy's own thinking state, from the lines its logger appends to `$HAPPY_DIR/logs/<date-time>-pid-<pid>.log`:
        // a live Happy process that is thinking is activity for as long as it stays so.
        Declaration(
            name: "happy_state",
            root: .happy,
            layout: .happyProcesses,
            drivesByDefault: true,
            expectsRoot: false
        ),
        // Codex CLI's rollouts, `$CODEX_DIR/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`: one per session, in the
        // folder of the (local) day it started, one line appended per event (openai/codex
        // `codex-rs/core/src/rollout/recorder.rs`). Only day folders with something recent are watched; a new day's
        // folder appears in a watched month folder and is watched at once.
        Declaration(
            name: "codex",
            root: .codex,
            layout: .files(
                FilePattern(
                    folders: [
                        .named(AgentLayout.codexSessions), .matching(.digits(4)), .matching(.digits(2)),
                        .matching(.digits(2)),
                    ],
                    files: .affixed(prefix: "rollout-", suffixes: [".jsonl"]),
                    watchedWhileRecentFrom: 3
                )
            ),
            drivesByDefault: true,
            expectsRoot: false,
            agent: "codex",
            holdsTokenUsage: true
        ),
        // Gemini CLI's chats, `$GEMINI_DIR/tmp/<project>/chats/session-<time>-<id>.json` (`.jsonl` in newer
        // versions), the whole file written again on each update (google-gemini/gemini-cli
        // `packages/core/src/services/chatRecordingService.ts`). Only project folders with something recent are
        // watched.
        Declaration(
            name: "gemini",
            root: .gemini,
            layout: .files(
                FilePattern(
                    folders: [
                        .named(AgentLayout.geminiTemporary), .matching(.anyVisible), .named(AgentLayout.geminiChats),
                    ],
                    files: .affixed(prefix: "session-", suffixes: [".json", ".jsonl"]),
                    watchedWhileRecentFrom: 1
                )
            ),
            drivesByDefault: true,
            expectsRoot: false,
            agent: "gemini"
        ),
    ]

    public static let transcripts = ActivitySource(index: 0)
    public static let history = ActivitySource(index: 1)
    public static let happyLogs = ActivitySource(index: 2)
    public static let status = ActivitySource(index: 3)
    public static let happyState = ActivitySource(index: 4)
    public static let codex = ActivitySource(index: 5)
    public static let gemini = ActivitySource(index: 6)

    /// Every source, in ``index`` order (the order of the per-source metrics).
    public static let allCases: [ActivitySource] = declarations.indices.map(ActivitySource.init(index:))

    /// The sources that drive the contract metrics unless `ACTIVITY_SOURCES` says otherwise.
    public static let defaultDriving = Set(allCases.filter(\.drivesByDefault))

    private static let byRoot: [[ActivitySource]] = RootDirectory.allCases.map { root in
        allCases.filter { $0.root == root }
    }

    /// The sources that live under `root`.
    public static func sources(under root: RootDirectory) -> [ActivitySource] { byRoot[root.index] }

    /// The source named `rawValue` (the `source` label), if any.
    public init?(rawValue: String) {
        guard let index = Self.declarations.firstIndex(where: { $0.name == rawValue }) else { return nil }
        self.index = index
    }

    init(index: Int) { self.index = index }

    private var declaration: Declaration { Self.declarations[index] }
    public var rawValue: String { declaration.name }
    public var root: RootDirectory { declaration.root }
    public var layout: SourceLayout { declaration.layout }
    public var drivesByDefault: Bool { declaration.drivesByDefault }
    public var expectsRoot: Bool { declaration.expectsRoot }
    /// The `agent` label of `claude_agent_transcripts`, for a source whose files are an agent's transcripts.
    public var agent: String? { declaration.agent }
    /// Whether its files hold token usage (Claude Code's transcripts are told to the usage reader by their own
    /// scanner).
    public var holdsTokenUsage: Bool { declaration.holdsTokenUsage }
    /// Whether some of its folders are left to the rescans by design (watched only while recent).
    var listedByRescans: Bool {
        guard case .files(let pattern) = layout else { return false }
        return pattern.watchedWhileRecentFrom != nil
    }

    public var description: String { rawValue }
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
    /// Happy's per-process logs, whose appended lines say whether its agent is thinking (``HappyStateScanner``).
    case happyProcesses
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
