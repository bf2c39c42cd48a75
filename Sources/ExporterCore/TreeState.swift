import Platform

/// What one project folder (`projects/<slug>/`) holds, by name hash.
struct ProjectContents: Equatable, Sendable {
    /// `*.jsonl` directly in the folder.
    var transcripts: Set<UInt64> = []
    /// How many of ``transcripts`` are sessions (``ClaudeLayout/isSession(_:)``).
    var sessions = 0
    /// `<uuid>/subagents/*.jsonl`, by session folder name.
    var subagents: [String: Set<UInt64>] = [:]
    /// Session folders that exist but are not watched because nothing in them changed recently.
    /// A change to the session's transcript brings them back under watch.
    var unwatchedSessionFolders: Set<UInt64> = []
    /// The folder's modification time when it was last listed: while it is unchanged (and the folder is
    /// watched), no entry can have been added or removed, so a periodic rescan need not list it again.
    var listedAt: Timestamp?

    var transcriptFiles: Int { subagents.values.reduce(transcripts.count) { $0 + $1.count } }
}

/// The newest activity seen from one source.
public struct Activity: Sendable, Equatable {
    public var time: Timestamp
    /// The file that produced it, for logs and the status line.
    public var path: String

    public init(time: Timestamp, path: String) {
        self.time = time
        self.path = path
    }
}

/// The exporter's picture of the watched trees: plain data, changed by the tracker from events and scans.
///
/// Counts are kept incrementally so that publishing a snapshot costs nothing per file.
struct TreeState: Sendable {
    private(set) var projects: [String: ProjectContents] = [:]
    private(set) var sessions = 0
    private(set) var files = PerSource(repeating: 0)
    private(set) var newest = PerSource<Activity?>(repeating: nil)

    /// Sets the file count of a source other than transcripts (whose count the project folders keep).
    mutating func setFiles(_ count: Int, for source: ActivitySource) {
        files[source] = count
    }

    /// Replaces (or, with `nil`, removes) a project's contents, keeping the totals right.
    mutating func setProject(_ slug: String, _ contents: ProjectContents?) {
        if let old = projects[slug] {
            sessions -= old.sessions
            files[.transcripts] -= old.transcriptFiles
        }
        projects[slug] = contents
        if let contents {
            sessions += contents.sessions
            files[.transcripts] += contents.transcriptFiles
        }
    }

    /// Removes every project (the `projects/` folder or the whole Claude directory went away).
    mutating func removeAllProjects() {
        projects.removeAll()
        sessions = 0
        files[.transcripts] = 0
    }

    /// Records that a transcript exists directly in a project folder.
    mutating func insertTranscript(_ name: String, project slug: String) {
        guard var contents = projects[slug] else { return }
        if contents.transcripts.insert(ClaudeLayout.nameHash(name)).inserted {
            files[.transcripts] += 1
            if ClaudeLayout.isSession(name) {
                contents.sessions += 1
                sessions += 1
            }
            projects[slug] = contents
        }
    }

    /// Records that a transcript left a project folder.
    mutating func removeTranscript(_ name: String, project slug: String) {
        guard var contents = projects[slug] else { return }
        if contents.transcripts.remove(ClaudeLayout.nameHash(name)) != nil {
            files[.transcripts] -= 1
            if ClaudeLayout.isSession(name) {
                contents.sessions -= 1
                sessions -= 1
            }
            projects[slug] = contents
        }
    }

    /// Replaces (or, with `nil`, removes) a session's subagent transcripts.
    mutating func setSubagents(_ hashes: Set<UInt64>?, session: String, project slug: String) {
        guard var contents = projects[slug] else { return }
        files[.transcripts] -= contents.subagents[session]?.count ?? 0
        contents.subagents[session] = hashes
        files[.transcripts] += hashes?.count ?? 0
        projects[slug] = contents
    }

    /// Adds or removes one subagent transcript.
    mutating func updateSubagent(_ name: String, present: Bool, session: String, project slug: String) {
        guard var contents = projects[slug], var set = contents.subagents[session] else { return }
        let hash = ClaudeLayout.nameHash(name)
        if present {
            if set.insert(hash).inserted { files[.transcripts] += 1 }
        } else if set.remove(hash) != nil {
            files[.transcripts] -= 1
        }
        contents.subagents[session] = set
        projects[slug] = contents
    }

    /// Marks a session folder as watched (`false`) or left unwatched until its transcript changes (`true`).
    mutating func setSessionFolderUnwatched(_ unwatched: Bool, session: String, project slug: String) {
        guard var contents = projects[slug] else { return }
        let hash = ClaudeLayout.nameHash(session)
        if unwatched {
            contents.unwatchedSessionFolders.insert(hash)
        } else {
            contents.unwatchedSessionFolders.remove(hash)
        }
        projects[slug] = contents
    }

    /// Whether a session folder exists but is not watched.
    func isSessionFolderUnwatched(_ session: String, project slug: String) -> Bool {
        projects[slug]?.unwatchedSessionFolders.contains(ClaudeLayout.nameHash(session)) ?? false
    }

    /// Notes activity at `time` from `source`. The newest time never goes backwards.
    /// Returns true when it moved forwards.
    @discardableResult
    mutating func observe(_ source: ActivitySource, time: Timestamp, path: String) -> Bool {
        if let current = newest[source], current.time >= time { return false }
        newest[source] = Activity(time: time, path: path)
        return true
    }
}
