import FileWatching

/// Folders below a root, then files in the last of them: `logs/*.log` is `folders: [.named("logs")]`,
/// `files: .suffix(".log")`. Every folder on the way is watched, but for those that ``watchedWhileRecentFrom``
/// bounds.
public struct FilePattern: Sendable {
    public enum Step: Sendable {
        /// A folder of exactly this name.
        case named(String)
        /// Every folder whose name the rule accepts.
        case matching(NameRule)
    }

    public var folders: [Step]
    public var files: NameRule
    /// The index of a step in ``folders`` whose folders (and everything below them) are watched only while they,
    /// or a matching file below them, changed within the watch window (``TrackerSettings/sessionWatchWindowSeconds``);
    /// the others are still listed by every rescan. `nil`: every folder is watched. This keeps the watch count of
    /// a folder per day or per project bounded by the recent ones.
    public var watchedWhileRecentFrom: Int?

    public init(folders: [Step], files: NameRule, watchedWhileRecentFrom: Int? = nil) {
        precondition(watchedWhileRecentFrom.map { folders.indices.contains($0) } ?? true, "no such step")
        self.folders = folders
        self.files = files
        self.watchedWhileRecentFrom = watchedWhileRecentFrom
    }
}

extension FilePattern: CustomStringConvertible {
    /// The pattern as `--help`, the manual and logs show it: `sessions/NNNN/NN/NN/rollout-*.jsonl`.
    public var description: String {
        let steps = folders.map { step in
            switch step {
            case .named(let name): name
            case .matching(let rule): rule.description == "*" ? "<name>" : rule.description
            }
        }
        return (steps + [files.description]).joined(separator: "/")
    }

    /// Calls `body` with the path of every matching file under `root` (a listing, no watches): for readers that
    /// walk a source's files themselves. Folders that cannot be listed are passed over.
    public func forEachFile(under root: String, fileSystem: any FileSystem, _ body: (String) -> Void) {
        walk(root, step: 0, fileSystem: fileSystem, body)
    }

    private func walk(_ folder: String, step: Int, fileSystem: any FileSystem, _ body: (String) -> Void) {
        if step == folders.count {
            try? fileSystem.forEachEntry(in: folder, wantsStatus: ClaudeLayout.never) { entry in
                if entry.kind == .regular && files.matches(entry.nameBytes) { body(folder + "/" + entry.name) }
            }
            return
        }
        switch folders[step] {
        case .named(let name):
            walk(folder + "/" + name, step: step + 1, fileSystem: fileSystem, body)
        case .matching(let rule):
            var children: [String] = []
            try? fileSystem.forEachEntry(in: folder, followingLinks: false, wantsStatus: ClaudeLayout.never) { entry in
                if entry.kind == .directory && rule.matches(entry.nameBytes) { children.append(entry.name) }
            }
            for child in children.sorted() { walk(folder + "/" + child, step: step + 1, fileSystem: fileSystem, body) }
        }
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

    /// Starts with `prefix`, ends with one of `suffixes`, has something between them, and is not hidden (a
    /// `prefix` starting with `.` is not allowed).
    public static func affixed(prefix: String, suffixes: [String]) -> NameRule {
        let head = Array(prefix.utf8)
        let tails = suffixes.map { Array($0.utf8) }
        precondition(head.first != UInt8(ascii: "."), "hidden names never match")
        let description = suffixes.map { prefix + "*" + $0 }.joined(separator: ", ")
        return NameRule(description) { name in
            guard name.count > head.count, name[0] != UInt8(ascii: "."), name.starts(with: head) else { return false }
            return tails.contains { tail in
                name.count > head.count + tail.count && name[(name.count - tail.count)...].elementsEqual(tail)
            }
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
