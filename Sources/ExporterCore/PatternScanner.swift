import FileWatching
import Logging
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
    /// At most this many bounded folders are watched at once (the most recent); the others are listed by each
    /// rescan. A day of Codex or a project of Gemini CLI is a bounded folder: only a tree that something keeps
    /// filling with folders has more than a few recent ones.
    static let recentFoldersWatched = 64
    /// At most this many folders of one source are watched at once, bounded or not.
    static let foldersWatched = 1024

    let source: ActivitySource
    private let pattern: FilePattern
    private let context: ScanContext
    /// The matching files of each folder at the pattern's last step, by name hash.
    private var folders: [String: Set<UInt64>] = [:]
    /// How many files ``folders`` holds in all.
    private var fileCount = 0
    /// Every folder below the root that was scanned and is there, at any depth, by its parent (`""`: the root):
    /// what is below a folder is found without looking at the rest of the tree.
    private var subfolders: [String: Set<String>] = [:]
    /// The folders this scanner watches (kept in step with the watch table by ``reconcileWatched()``).
    private var watchedFolders: Set<String> = []
    /// The bounded folders among ``watchedFolders``, ranked.
    private var recentWatched = RecentFolders(capacity: PatternScanner.recentFoldersWatched)
    /// The depth of the bounded folders (`nil`: every folder is watched).
    private let boundedDepth: Int?
    /// The newest matching file seen below each bounded folder (by a listing or an event).
    private var newestBelow: [String: Timestamp] = [:]
    /// Folders scanned since the last proof of progress for /health.
    private var scannedSinceProgress = 0
    /// Whether the watch limits were met (logged once).
    private var limitLogged = false

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

    private static func parent(of folder: String) -> String {
        guard let slash = folder.lastIndex(of: "/") else { return "" }
        return String(folder[..<slash])
    }

    /// Scans everything from the root down (the root exists and is watched by the tracker). `rootTrusted`: the
    /// root's watch was in place before this scan (see ``ScanContext/trusts(_:)``).
    func scan(rootTrusted: Bool) {
        reconcileWatched()
        scanFolder("", trusted: rootTrusted)
        publishCount()
    }

    /// The root is gone: forgets every file (the tracker drops the watches under it).
    func removeAll() {
        folders.removeAll()
        fileCount = 0
        subfolders.removeAll()
        watchedFolders.removeAll()
        recentWatched.removeAll()
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
                if folders[folder]?.insert(hash).inserted == true { fileCount += 1 }
                noteNewest(status.modified, in: folder)
                context.observe(source, status.modified, path, fromEvent: true)
                if source.holdsTokenUsage { context.transcriptChanged(path) }
            } else if folders[folder]?.remove(hash) != nil {
                fileCount -= 1
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
        unwatchSubtree(folder)
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
    /// them (below a bounded folder, what was decided for it); `nil` decides at a bounded folder (from `recency`,
    /// when its parent's listing looked already), and watches elsewhere (within ``foldersWatched``).
    private func scanFolder(
        _ folder: String,
        trusted rootTrusted: Bool = false,
        watching: Bool? = nil,
        recency: Timestamp?? = nil
    ) {
        let depth = Self.depth(of: folder)
        let isBounded = boundedDepth == depth
        var watching = watching ?? (isBounded ? admitRecent(folder, recency ?? recentTime(of: folder)) : true)
        // Only a watch in place before this scan can be trusted to have reported every change since.
        let trusted = depth == 0 ? rootTrusted : context.trusts(watched(folder))
        // Folders above the bounded ones leave room for the recent ones and what is below them.
        let limit = depth < boundedDepth ?? 0 ? Self.foldersWatched - reservedForRecent : Self.foldersWatched
        let overLimit = watching && !watchedFolders.contains(folder) && watchedFolders.count >= limit
        if depth > 0 {
            if overLimit {
                noteLimit("\(Self.foldersWatched) folders")
                if isBounded { recentWatched.remove(folder) }
                watching = false
            }
            if watching {
                if context.watch(watched(folder), absolute(folder)) == .vanished { return drop(folder) }
                if context.watches.descriptor(for: watched(folder)) != nil {
                    watchedFolders.insert(folder)
                } else {
                    recentWatched.remove(folder)  // could not be watched (logged by the watch set)
                }
            } else if isBounded {
                unwatchSubtree(folder)
            }
            subfolders[Self.parent(of: folder), default: []].insert(folder)
        }
        defer {
            // Listed unwatched, and found something recent below it: watched after all, and listed again to catch
            // what landed meanwhile.
            if isBounded, !watching, !overLimit, isKnown(folder),
                admitRecent(folder, recentTime(of: folder, statFolder: false))
            {
                scanFolder(folder, watching: true)
            }
        }
        recordProgress()
        if depth == pattern.folders.count { return listFiles(folder, trusted: trusted && watching) }
        switch pattern.folders[depth] {
        case .named(let name):
            look(at: Self.child(folder, name), watching: depth >= boundedDepth ?? .max ? watching : nil)
        case .matching(let rule):
            var children: [String] = []
            do {
                // Links are not followed: the agents make real folders, and a linked one would count its files twice.
                try context.fileSystem.forEachEntry(
                    in: absolute(folder),
                    followingLinks: false,
                    wantsStatus: ClaudeLayout.never
                ) { entry in
                    if entry.kind == .directory, rule.matches(entry.nameBytes) { children.append(entry.name) }
                }
            } catch {
                if error.isMissing { return drop(folder) }
                return context.logUnreadable(absolute(folder), error)
            }
            let paths = children.map { Self.child(folder, $0) }
            if let before = subfolders[folder], !before.isEmpty {
                let present = Set(paths)
                for child in before where !present.contains(child) { drop(child) }
            }
            if depth + 1 == boundedDepth {
                // The most recent first: they take the watches, and the rest are refused without watching one
                // to let it go at once.
                let recent = paths.map { (path: $0, time: recentTime(of: $0)) }
                for child in recent.sorted(by: { $0.time ?? .earliest > $1.time ?? .earliest }) {
                    scanFolder(child.path, recency: .some(child.time))
                }
            } else {
                // Newest name first (dates: this year before the others), so that within the limit the current
                // folders are watched.
                let inherited = depth >= boundedDepth ?? .max ? watching : nil
                for child in paths.sorted(by: >) { scanFolder(child, watching: inherited) }
            }
        }
    }

    /// Watches kept for the recent bounded folders and what is below them.
    private var reservedForRecent: Int {
        boundedDepth.map { Self.recentFoldersWatched * (pattern.folders.count - $0 + 1) } ?? 0
    }

    private func isKnown(_ folder: String) -> Bool {
        subfolders[Self.parent(of: folder)]?.contains(folder) ?? false
    }

    /// When a bounded folder, or a matching file below it, last changed, if that is within the watch window.
    private func recentTime(of folder: String, statFolder: Bool = true) -> Timestamp? {
        let now = context.clock()
        let window = context.settings.sessionWatchWindowSeconds
        // A time more than a minute in the future (a file or folder dated so on purpose, or by a clock far off) is
        // no sign of anything recent: it would stay "recent" for good. Its file still counts as activity, "now",
        // as ``ScanContext/observe(_:_:_:fromEvent:)`` counts it.
        let latest = now.adding(seconds: 60)
        var newest = Timestamp.earliest
        if let below = newestBelow[folder], below <= latest { newest = min(below, now) }
        if statFolder, let status = try? context.fileSystem.status(of: absolute(folder)), status.modified <= latest {
            newest = max(newest, min(status.modified, now))
        }
        return now.seconds(since: newest) < window ? newest : nil
    }

    /// Whether the bounded `folder`, recent since `time` (`nil`: not recent), may be watched: it is one of the
    /// ``recentFoldersWatched`` most recent. Admitting it can unwatch the least recent one, which the rescans then
    /// list.
    private func admitRecent(_ folder: String, _ time: Timestamp?) -> Bool {
        guard let time else {
            recentWatched.remove(folder)
            return false
        }
        switch recentWatched.admit(folder, .init(holdsFiles: newestBelow[folder] != nil, time: time)) {
        case .admitted:
            return true
        case .replacing(let letGo):
            noteLimit("\(Self.recentFoldersWatched) recent folders", letGo: letGo)
            unwatchSubtree(letGo)
            return true
        case .refused:
            noteLimit("\(Self.recentFoldersWatched) recent folders")
            return false
        }
    }

    /// Says, once, that a limit was met (`letGo`: the folder whose watch made room).
    private func noteLimit(_ limit: String, letGo: String? = nil) {
        guard !limitLogged else { return }
        limitLogged = true
        var metadata: Logger.Metadata = ["source": "\(source)", "root": "\(rootPath)", "limit": "\(limit)"]
        if let letGo { metadata["no_longer_watched"] = "\(absolute(letGo))" }
        context.logger.notice("too many folders to watch; the rest are seen by the fallback rescan", metadata: metadata)
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
        let now = context.clock()
        if time <= now.adding(seconds: 60) { recentWatched.noteFile(in: bounded, at: min(time, now)) }
    }

    private func listFiles(_ folder: String, trusted: Bool) {
        do {
            let listing = try FileListing.list(
                absolute(folder),
                matching: pattern.files.matches,
                known: trusted ? folders[folder] ?? [] : [],
                fileSystem: context.fileSystem
            )
            let before = folders[folder] ?? []
            let newestBefore = boundedFolder(holding: folder).flatMap { newestBelow[$0] }
            if source.holdsTokenUsage, !listing.files.isSubset(of: before) {
                // Found by listing, not by an event: the usage reader was not told of them.
                context.transcriptsListed = true
            }
            if source.holdsTokenUsage, !trusted, let newestBefore, let newest = listing.newest,
                newest.time > newestBefore
            {
                // Written while unwatched (a session resumed in an old folder): no event told the usage reader.
                context.transcriptsListed = true
            }
            fileCount += listing.files.count - before.count
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
        if folder.isEmpty {
            for path in watchedFolders { context.unwatch(watched(path)) }
            return removeAll()
        }
        forEachFolder(within: folder) { path in
            if watchedFolders.remove(path) != nil { context.unwatch(watched(path)) }
            recentWatched.remove(path)
            newestBelow[path] = nil
            if let files = folders.removeValue(forKey: path) { fileCount -= files.count }
        }
        subfolders[Self.parent(of: folder)]?.remove(folder)
    }

    /// Unwatches `folder` and every folder below it (their files stay counted; rescans list them).
    private func unwatchSubtree(_ folder: String) {
        var pending = [folder]
        while let path = pending.popLast() {
            recentWatched.remove(path)
            if watchedFolders.remove(path) != nil { context.unwatch(watched(path)) }
            pending += subfolders[path] ?? []
        }
    }

    /// Calls `body` with `folder` and every folder known below it, deepest first, and forgets them from the index.
    private func forEachFolder(within folder: String, _ body: (String) -> Void) {
        for child in subfolders.removeValue(forKey: folder) ?? [] { forEachFolder(within: child, body) }
        body(folder)
    }

    /// Drops what the watch table no longer holds (a reload, a watch the kernel ended) from ``watchedFolders``.
    private func reconcileWatched() {
        watchedFolders = watchedFolders.filter { context.watches.descriptor(for: watched($0)) != nil }
        recentWatched.keep { watchedFolders.contains($0) }
    }

    /// Proof of progress for /health every 64 folders: a long scan is busy, not stuck.
    private func recordProgress() {
        scannedSinceProgress += 1
        if scannedSinceProgress >= 64 {
            scannedSinceProgress = 0
            context.store.recordAnswer(at: MonotonicClock.nanoseconds())
        }
    }

    private func publishCount() {
        context.tree.setFiles(fileCount, for: source)
    }
}
