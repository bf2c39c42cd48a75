/// Where activity is read from. The raw values are the `source` label and the words of `ACTIVITY_SOURCES`.
public enum ActivitySource: String, CaseIterable, Sendable, Hashable {
    /// Transcript files of sessions and subagents: `projects/<slug>/*.jsonl` and
    /// `projects/<slug>/<uuid>/subagents/*.jsonl`.
    case transcripts
    /// `$CLAUDE_DIR/history.jsonl`: one line per prompt typed.
    case history
    /// `$HAPPY_DIR/logs/*.log`. Happy writes these every few seconds even while the agent is idle,
    /// so by default this source is exported but does not drive activity.
    case happyLogs = "happy_logs"
    /// Claude Code's live session registry, `$CLAUDE_DIR/sessions/<pid>.json`: a running Claude Code process
    /// whose status is `busy` or `waiting` is activity for as long as it stays so.
    case status

    /// The sources that drive the contract metrics unless `ACTIVITY_SOURCES` says otherwise.
    public static let defaultDriving: Set<ActivitySource> = [.transcripts, .history, .status]
}

/// One value per ``ActivitySource``, stored inline (no dictionary on the scrape path).
public struct PerSource<Value: Sendable>: Sendable {
    public var transcripts: Value
    public var history: Value
    public var happyLogs: Value
    public var status: Value

    public init(repeating value: Value) {
        transcripts = value
        history = value
        happyLogs = value
        status = value
    }

    public subscript(source: ActivitySource) -> Value {
        get {
            switch source {
            case .transcripts: transcripts
            case .history: history
            case .happyLogs: happyLogs
            case .status: status
            }
        }
        set {
            switch source {
            case .transcripts: transcripts = newValue
            case .history: history = newValue
            case .happyLogs: happyLogs = newValue
            case .status: status = newValue
            }
        }
    }
}

extension PerSource: Equatable where Value: Equatable {}
