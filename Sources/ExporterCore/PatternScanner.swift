import FileWatching
import Platform

/// Keeps one ``SourceLayout/files(_:)`` source up to date: watches every folder its ``FilePattern`` reaches below
/// the root, counts the matching files, and records their modification times as activity.
///
/// Folders are named by their path relative to the root (`""` is the root itself, `logs`, `sessions/2026/12`).
///
/// With ``FilePattern/watchedWhileRecentFrom`` set, the folders that step matches (a Codex day, a Gemini project:
/// the "bounded" folders) are watched, with everything below them, only while the folder itself or a matching file
/// below it changed within the watch window; the others are listed, with every file stat'ed, by each rescan. A
/// folder that appears is recent, so a new day's folder is watched as soon as its parent reports it.
final class PatternScanner {
    let source: ActivitySource
    private let pattern: FilePattern
    private let context: ScanContext
    /// The matching files of each folder at the pattern's last step, by name hash.
    private var folders: [String: Set<UInt64>] = [:]
    /// Every folder below the root that was scanned and is there, at any depth.
    private var known: Set<String> = []
    /// The depth of the bounded folders (`nil`: every folder is watched).
    private let boundedDepth: Int?
    /// The newest matching file seen below each bounded folder (by a listing or an event).
    private var newestBelow: [String: Timestamp] = [:]

    init(source: ActivitySource, pattern: FilePattern, context: ScanContext) {
        self.source = source
        self.pattern = pattern
        self.context = context
        boundedDepth = pattern.watchedWhileRecentFrom.map { $0 + 1 }
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

    /// Scans everything from the root down (the root exists and is watched by the tracker). `rootTrusted`: the
    /// root's watch was in place before this scan (see ``ScanContext/trusts(_:)``).
    func scan(rootTrusted: Bool) {
        scanFolder("", trusted: rootTrusted)
        publishCount()
    }

    /// The root is gone: forgets every file (the tracker drops the watches under it).
    func removeAll() {
        folders.removeAll()
        known.removeAll()
        newestBelow.removeAll()
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
                noteNewest(status.modified, in: folder)
                context.observe(source, status.modified, path, fromEvent: true)
                if source.holdsTokenUsage { context.transcriptChanged(path) }
            } else {
                folders[folder]?.remove(hash)
            }
        } else if structural, accepts(name, atStep: depth) {
            look(at: Self.child(folder, name))
        } else {
            return
        }
        publishCount()
    }

    /// A watch of this source ended (its folder was deleted, moved or unmounted): looks again.
    func watchEnded(_ folder: String) {
        context.unwatchTree(watched(folder))
        look(at: folder)
        publishCount()
    }

    private func accepts(_ name: String, atStep depth: Int) -> Bool {
        switch pattern.folders[depth] {
        case .named(let expected): name == expected
        case .matching(let rule): rule.matches(name)
        }
    }

    /// Scans `folder` if it is a directory, forgets it if it is not there (or not a directory), and keeps what was
    /// known of it if it cannot be looked at (logged). `watching`: as in ``scanFolder(_:trusted:watching:)``.
    private func look(at folder: String, watching: Bool? = nil) {
        do {
            if try context.fileSystem.status(of: absolute(folder)).kind == .directory {
                scanFolder(folder, watching: watching)
            } else {
                drop(folder)
            }
        } catch {
            if error.isMissing { return drop(folder) }
            context.logUnreadable(absolute(folder), error)
        }
    }

    /// Watches and lists `folder`, and the folders below it that the pattern reaches. `watching`: whether to watch
    /// them (below a bounded folder, what was decided for it); `nil` decides at a bounded folder, and watches
    /// elsewhere.
    private func scanFolder(_ folder: String, trusted rootTrusted: Bool = false, watching: Bool? = nil) {
        let depth = Self.depth(of: folder)
        let isBounded = boundedDepth == depth
        let watching = watching ?? (isBounded ? isRecent(folder) : true)
        let trusted = depth == 0 ? rootTrusted : watching && context.trusts(watched(folder))
        if depth > 0 {
            if watching {
                if context.watch(watched(folder), absolute(folder)) == .vanished { return drop(folder) }
            } else if isBounded, context.watches.descriptor(for: watched(folder)) != nil {
                context.unwatchTree(watched(folder))
            }
            known.insert(folder)
        }
        defer {
            // Listed unwatched, and found something recent below it: watched after all, and listed again to catch
            // what landed meanwhile.
            if isBounded, !watching, known.contains(folder), isRecent(folder, statFolder: false) {
                scanFolder(folder, watching: true)
            }
        }
        if depth == pattern.folders.count { return listFiles(folder, trusted: trusted) }
        switch pattern.folders[depth] {
        case .named(let name):
            look(at: Self.child(folder, name), watching: depth >= (boundedDepth ?? .max) ? watching : nil)
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
            for child in known where Self.parent(of: child) == folder && !present.contains(child) { drop(child) }
            let inherited = depth >= (boundedDepth ?? .max) ? watching : nil
            for child in children { scanFolder(Self.child(folder, child), watching: inherited) }
        }
    }

    /// Whether a bounded folder, or a matching file below it, changed within the watch window.
    private func isRecent(_ folder: String, statFolder: Bool = true) -> Bool {
        let now = context.clock()
        let window = context.settings.sessionWatchWindowSeconds
        if let newest = newestBelow[folder], now.seconds(since: newest) < window { return true }
        guard statFolder, let status = try? context.fileSystem.status(of: absolute(folder)) else { return false }
        return now.seconds(since: status.modified) < window
    }

    /// The bounded folder that holds `folder` (a folder at the last step), if the pattern bounds any.
    private func boundedFolder(holding folder: String) -> String? {
        guard let boundedDepth else { return nil }
        var slashes = 0
        for index in folder.utf8.indices where folder.utf8[index] == UInt8(ascii: "/") {
            slashes += 1
            if slashes == boundedDepth { return String(folder[..<index]) }
        }
        return folder
    }

    private func noteNewest(_ time: Timestamp, in folder: String) {
        guard let bounded = boundedFolder(holding: folder) else { return }
        if time > newestBelow[bounded] ?? .earliest { newestBelow[bounded] = time }
    }

    private static func parent(of folder: String) -> String {
        guard let slash = folder.lastIndex(of: "/") else { return "" }
        return String(folder[..<slash])
    }

    private func listFiles(_ folder: String, trusted: Bool) {
        do {
            let listing = try FileListing.list(
                absolute(folder),
                matching: pattern.files.matches,
                known: trusted ? folders[folder] ?? [] : [],
                fileSystem: context.fileSystem
            )
            if source.holdsTokenUsage, !listing.files.isSubset(of: folders[folder] ?? []) {
                // Found by listing, not by an event: the usage reader was not told of them.
                context.transcriptsListed = true
            }
            folders[folder] = listing.files
            if let newest = listing.newest {
                noteNewest(newest.time, in: folder)
                context.observe(source, newest.time, newest.path, fromEvent: false)
            }
        } catch {
            if error.isMissing { return drop(folder) }
            context.logUnreadable(absolute(folder), error)
        }
    }

    /// `folder` is not there (any more): forgets it and everything below it, and its watches.
    private func drop(_ folder: String) {
        if !folder.isEmpty { context.unwatchTree(watched(folder)) }
        let prefix = folder + "/"
        let within = { (path: String) in folder.isEmpty || path == folder || path.hasPrefix(prefix) }
        for path in Array(folders.keys) where within(path) { folders[path] = nil }
        for path in Array(newestBelow.keys) where within(path) { newestBelow[path] = nil }
        known = known.filter { !within($0) }
    }

    private func publishCount() {
        context.tree.setFiles(folders.values.reduce(0) { $0 + $1.count }, for: source)
    }
}
