import FileWatching
import Platform

/// Keeps one ``SourceLayout/files(_:)`` source up to date: watches every folder its ``FilePattern`` reaches below
/// the root, counts the matching files, and records their modification times as activity.
///
/// Folders are named by their path relative to the root (`""` is the root itself, `logs`, `sessions/2026/12`).
final class PatternScanner {
    let source: ActivitySource
    private let pattern: FilePattern
    private let context: ScanContext
    /// The matching files of each folder at the pattern's last step, by name hash.
    private var folders: [String: Set<UInt64>] = [:]

    init(source: ActivitySource, pattern: FilePattern, context: ScanContext) {
        self.source = source
        self.pattern = pattern
        self.context = context
    }

    private var rootPath: String { context.path(of: source.root) }

    private func absolute(_ folder: String) -> String { folder.isEmpty ? rootPath : rootPath + "/" + folder }

    private func watched(_ folder: String) -> WatchedDirectory {
        folder.isEmpty ? .root(source.root) : .folder(source, folder)
    }

    private static func depth(of folder: String) -> Int {
        folder.isEmpty ? 0 : folder.utf8.reduce(1) { $1 == UInt8(ascii: "/") ? $0 + 1 : $0 }
    }

    private static func child(_ folder: String, _ name: String) -> String {
        folder.isEmpty ? name : folder + "/" + name
    }

    /// Scans everything from the root down (the root exists and is watched by the tracker).
    func scan() {
        scanFolder("")
        publishCount()
    }

    /// The root is gone: forgets every file (the tracker drops the watches under it).
    func removeAll() {
        folders.removeAll()
        publishCount()
    }

    /// An inotify event for `name` inside `folder` (a folder of this source, or the root).
    func handle(name: String, in folder: String, structural: Bool) {
        let depth = Self.depth(of: folder)
        if depth == pattern.folders.count {
            guard pattern.files.matches(name), folders[folder] != nil else { return }
            let path = absolute(folder) + "/" + name
            let hash = ClaudeLayout.nameHash(name)
            if let status = try? context.fileSystem.status(of: path), status.kind == .regular {
                folders[folder]?.insert(hash)
                context.observe(source, status.modified, path, fromEvent: true)
            } else {
                folders[folder]?.remove(hash)
            }
        } else if structural, accepts(name, atStep: depth) {
            let child = Self.child(folder, name)
            if context.isDirectory(absolute(child)) { scanFolder(child) } else { drop(child) }
        } else {
            return
        }
        publishCount()
    }

    /// A watch of this source ended (its folder was deleted, moved or unmounted): looks again.
    func watchEnded(_ folder: String) {
        context.unwatchTree(watched(folder))
        scanFolder(folder)
        publishCount()
    }

    private func accepts(_ name: String, atStep depth: Int) -> Bool {
        switch pattern.folders[depth] {
        case .named(let expected): name == expected
        case .matching(let rule): rule.matches(name)
        }
    }

    /// Watches and lists `folder`, and the folders below it that the pattern reaches.
    private func scanFolder(_ folder: String) {
        let depth = Self.depth(of: folder)
        let trusted = context.trusts(watched(folder))
        if depth > 0, context.watch(watched(folder), absolute(folder)) == .vanished { return drop(folder) }
        if depth == pattern.folders.count { return listFiles(folder, trusted: trusted) }
        switch pattern.folders[depth] {
        case .named(let name):
            let child = Self.child(folder, name)
            if context.isDirectory(absolute(child)) { scanFolder(child) } else { drop(child) }
        case .matching(let rule):
            var children: [String] = []
            do {
                try context.fileSystem.forEachEntry(in: absolute(folder), wantsStatus: ClaudeLayout.never) { entry in
                    if entry.kind == .directory, rule.matches(entry.nameBytes) { children.append(entry.name) }
                }
            } catch {
                if error.isMissing { return drop(folder) }
                return context.logUnreadable(absolute(folder), error)
            }
            let present = Set(children.map { Self.child(folder, $0) })
            let prefix = folder.isEmpty ? "" : folder + "/"
            for known in folders.keys where known.hasPrefix(prefix) {
                let next = known.dropFirst(prefix.count).split(separator: "/", maxSplits: 1).first.map(String.init)
                if let next, !present.contains(Self.child(folder, next)) { drop(Self.child(folder, next)) }
            }
            for child in children { scanFolder(Self.child(folder, child)) }
        }
    }

    private func listFiles(_ folder: String, trusted: Bool) {
        do {
            let listing = try FileListing.list(
                absolute(folder),
                matching: pattern.files.matches,
                known: trusted ? folders[folder] ?? [] : [],
                fileSystem: context.fileSystem
            )
            folders[folder] = listing.files
            if let newest = listing.newest { context.observe(source, newest.time, newest.path, fromEvent: false) }
        } catch {
            if error.isMissing { return drop(folder) }
            context.logUnreadable(absolute(folder), error)
        }
    }

    /// `folder` is not there (any more): forgets it and everything below it, and its watches.
    private func drop(_ folder: String) {
        if !folder.isEmpty { context.unwatchTree(watched(folder)) }
        let prefix = folder + "/"
        for known in Array(folders.keys) where folder.isEmpty || known == folder || known.hasPrefix(prefix) {
            folders[known] = nil
        }
    }

    private func publishCount() {
        context.tree.setFiles(folders.values.reduce(0) { $0 + $1.count }, for: source)
    }
}
