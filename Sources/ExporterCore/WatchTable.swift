import FileWatching

/// What a watched directory is to the exporter.
enum WatchedDirectory: Hashable, Sendable {
    /// A root directory (shared by every source under it).
    case root(RootDirectory)
    /// A folder of a ``SourceLayout/files(_:)`` source, by its path relative to the source's root.
    case folder(ActivitySource, String)
    case projects
    /// `$CLAUDE_DIR/sessions/`, Claude Code's live session registry.
    case sessions
    case project(String)
    case sessionFolder(project: String, session: String)
    case subagents(project: String, session: String)
    /// The nearest existing parent of a root that does not exist yet.
    case ancestor(RootDirectory)

    /// The project and session of a session folder or its `subagents/`.
    var session: (project: String, session: String)? {
        switch self {
        case .sessionFolder(let project, let session), .subagents(let project, let session): (project, session)
        default: nil
        }
    }

    /// The root a directory lies under (`nil` for an ancestor, which lies above one).
    var root: RootDirectory? {
        switch self {
        case .root(let root): root
        case .folder(let source, _): source.root
        case .projects, .sessions, .project, .sessionFolder, .subagents: .claude
        case .ancestor: nil
        }
    }

    /// Whether `self` lies inside `other`'s directory (or is it).
    func isWithin(_ other: WatchedDirectory) -> Bool {
        switch (other, self) {
        case (.root(let a), _): return root == a
        case (.folder(let s, let p), .folder(let t, let q)): return s == t && (p == q || q.hasPrefix(p + "/"))
        case (.projects, .projects), (.projects, .project), (.projects, .sessionFolder), (.projects, .subagents):
            return true
        case (.sessions, .sessions): return true
        case (.project(let a), .project(let b)): return a == b
        case (.project(let a), .sessionFolder(let b, _)), (.project(let a), .subagents(let b, _)): return a == b
        case (.sessionFolder(let p, let s), .sessionFolder(let q, let t)),
            (.sessionFolder(let p, let s), .subagents(let q, let t)),
            (.subagents(let p, let s), .subagents(let q, let t)):
            return p == q && s == t
        case (.ancestor(let a), .ancestor(let b)): return a == b
        default: return false
        }
    }
}

/// The two-way map between inotify watch descriptors and the directories they watch.
///
/// One descriptor can serve more than one role: the kernel returns the same descriptor when the same
/// directory is watched twice (a missing `.claude` and a missing `.happy` share their parent).
struct WatchTable: Sendable {
    private(set) var roles: [WatchDescriptor: [WatchedDirectory]] = [:]
    private(set) var descriptors: [WatchedDirectory: WatchDescriptor] = [:]
    /// Watched session folders by project, so a project's inner watches are found without a full pass.
    private var sessionsByProject: [String: Set<String>] = [:]

    var count: Int { roles.count }

    func descriptor(for directory: WatchedDirectory) -> WatchDescriptor? { descriptors[directory] }

    func roles(of descriptor: WatchDescriptor) -> [WatchedDirectory] { roles[descriptor] ?? [] }

    mutating func insert(_ directory: WatchedDirectory, descriptor: WatchDescriptor) {
        if let old = descriptors[directory], old != descriptor { _ = remove(directory) }
        descriptors[directory] = descriptor
        if !roles[descriptor, default: []].contains(directory) { roles[descriptor, default: []].append(directory) }
        if let (project, session) = directory.session { sessionsByProject[project, default: []].insert(session) }
    }

    private mutating func forget(_ directory: WatchedDirectory) {
        descriptors[directory] = nil
        guard let (project, session) = directory.session,
            descriptors[.sessionFolder(project: project, session: session)] == nil,
            descriptors[.subagents(project: project, session: session)] == nil
        else { return }
        sessionsByProject[project]?.remove(session)
        if sessionsByProject[project]?.isEmpty == true { sessionsByProject[project] = nil }
    }

    /// Forgets `directory`; returns its descriptor if no other role still uses it (so it may be removed).
    mutating func remove(_ directory: WatchedDirectory) -> WatchDescriptor? {
        guard let descriptor = descriptors[directory] else { return nil }
        forget(directory)
        var remaining = roles[descriptor] ?? []
        remaining.removeAll { $0 == directory }
        if remaining.isEmpty {
            roles[descriptor] = nil
            return descriptor
        }
        roles[descriptor] = remaining
        return nil
    }

    /// Forgets a descriptor the kernel has dropped (`IN_IGNORED`) or that watched a directory now gone.
    mutating func removeDescriptor(_ descriptor: WatchDescriptor) -> [WatchedDirectory] {
        let gone = roles.removeValue(forKey: descriptor) ?? []
        for directory in gone { forget(directory) }
        return gone
    }

    /// The watched directories inside `directory` (including itself).
    func directories(within directory: WatchedDirectory) -> [WatchedDirectory] {
        switch directory {
        case .project(let project):
            var inner: [WatchedDirectory] = [directory]
            for session in sessionsByProject[project] ?? [] {
                inner += [
                    .sessionFolder(project: project, session: session), .subagents(project: project, session: session),
                ]
            }
            return inner.filter { descriptors[$0] != nil }
        case .sessionFolder(let project, let session):
            return [directory, .subagents(project: project, session: session)].filter { descriptors[$0] != nil }
        case .subagents, .ancestor, .sessions:
            return descriptors[directory] == nil ? [] : [directory]
        case .root, .projects, .folder:
            return descriptors.keys.filter { $0.isWithin(directory) }
        }
    }
}
