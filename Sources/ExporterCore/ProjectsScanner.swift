import FileWatching
import Platform

/// Keeps the ``SourceLayout/claudeProjects`` source up to date: Claude Code's `projects/<slug>/` folders, their
/// transcripts (counted as sessions by ``ClaudeLayout``), and the `<uuid>/subagents/` folders of each session.
///
/// Session folders are watched only while something in them is younger than the watch window, which keeps the
/// watch count bounded by recent sessions; a change to the session's transcript watches its folder again. A
/// periodic rescan looks inside the session folders of the project folders it lists; a deep one inside all.
final class ProjectsScanner {
    private let context: ScanContext

    init(context: ScanContext) {
        self.context = context
    }

    private var projectsPath: String { context.path(of: .claude) + "/" + ClaudeLayout.projects }
    private func projectPath(_ slug: String) -> String { projectsPath + "/" + slug }
    private func sessionFolderPath(_ slug: String, _ session: String) -> String { projectPath(slug) + "/" + session }
    private func subagentsPath(_ slug: String, _ session: String) -> String {
        sessionFolderPath(slug, session) + "/" + ClaudeLayout.subagents
    }

    // MARK: - Scans

    /// Watches `projects/` and scans every project folder in it.
    func scan() {
        guard context.watch(.projects, projectsPath) != .vanished else { return removeAll() }
        var slugs: [String] = []
        do {
            try context.fileSystem.forEachEntry(in: projectsPath, wantsStatus: ClaudeLayout.never) { entry in
                if entry.kind == .directory { slugs.append(entry.name) }
            }
        } catch {
            if error.isMissing { return removeAll() }
            context.setClaudeReadable(false, path: projectsPath, error: error)
            return
        }
        let present = Set(slugs)
        for slug in context.tree.projects.keys where !present.contains(slug) { dropProject(slug) }
        scanProjects(slugs)
    }

    /// `projects/` (or the whole Claude directory) is gone.
    func removeAll() {
        context.unwatchTree(.projects)
        context.tree.removeAllProjects()
    }

    /// Watches each project folder, then lists them (on several threads when there are many), then
    /// applies what the listings found.
    private func scanProjects(_ slugs: [String]) {
        var jobs: [ProjectListing.Job] = []
        jobs.reserveCapacity(slugs.count)
        for slug in slugs {
            // Trust only a watch that was in place before this scan: a new one may have missed changes.
            let trusted = context.trusts(.project(slug))
            let path = projectPath(slug)
            guard context.watch(.project(slug), path) != .vanished else {
                dropProject(slug)
                continue
            }
            let previous = trusted ? context.tree.projects[slug] : nil
            jobs.append(
                ProjectListing.Job(slug: slug, path: path, known: previous?.transcripts, listedAt: previous?.listedAt)
            )
        }
        let fileSystem = context.fileSystem
        // In batches, so that the listings waiting to be applied stay few.
        let batch = 64
        for start in stride(from: 0, to: jobs.count, by: batch) {
            let part = Array(jobs[start..<min(start + batch, jobs.count)])
            let threads = part.count >= 8 ? ParallelWork.threads() : 1
            for listing in ParallelWork.map(part, threads: threads, { ProjectListing.list($0, fileSystem: fileSystem) })
            {
                apply(listing)
            }
            // Proof of progress for /health: a long scan on a slow disk is busy, not stuck.
            context.store.recordAnswer(at: MonotonicClock.nanoseconds())
        }
    }

    private func apply(_ listing: ProjectListing) {
        let slug = listing.slug
        if listing.unchanged { return }
        if let error = listing.error {
            if error.isMissing { return dropProject(slug) }
            context.logUnreadable(projectPath(slug), error)
            return
        }
        let folders = Set(listing.sessionFolders)
        for directory in context.watches.directories(within: .project(slug)) {
            if case .sessionFolder(_, let session) = directory, !folders.contains(session) {
                context.unwatchTree(directory)
            }
        }
        if !listing.contents.transcripts.isSubset(of: context.tree.projects[slug]?.transcripts ?? []) {
            // Transcripts found by listing, not by an event (a folder that came with files in it): the usage reader
            // was not told of them.
            context.transcriptsListed = true
        }
        context.tree.setProject(slug, listing.contents)
        if let newest = listing.newest {
            context.observe(.transcripts, newest.time, projectPath(slug) + "/" + newest.name, fromEvent: false)
        }
        for session in listing.sessionFolders {
            let transcript = try? context.fileSystem.status(of: projectPath(slug) + "/" + session + ".jsonl")
            scanSessionFolder(slug, session, transcriptTime: transcript?.modified)
        }
    }

    /// Looks into `projects/<slug>/<session>/subagents/`, and watches the session folder while it is recent.
    private func scanSessionFolder(_ slug: String, _ session: String, transcriptTime: Timestamp?, recent: Bool = false)
    {
        let folder = sessionFolderPath(slug, session)
        let trusted = context.trusts(.subagents(project: slug, session: session))
        let now = context.clock()
        let window = context.settings.sessionWatchWindowSeconds
        var isRecent = recent
        if !isRecent, let transcriptTime, now.seconds(since: transcriptTime) < window { isRecent = true }
        if !isRecent, let status = try? context.fileSystem.status(of: folder),
            now.seconds(since: status.modified) < window
        {
            isRecent = true
        }
        if isRecent {
            guard context.watch(.sessionFolder(project: slug, session: session), folder) != .vanished else {
                return dropSessionFolder(slug, session)
            }
            _ = context.watch(.subagents(project: slug, session: session), subagentsPath(slug, session))
        }
        guard let (files, newest) = listSubagents(slug, session, trusted: trusted) else {
            return dropSessionFolder(slug, session)
        }
        if !isRecent, let newest, now.seconds(since: newest.time) < window {
            // Old folder, fresh subagent: watch it after all, and list again to catch what landed meanwhile.
            return scanSessionFolder(slug, session, transcriptTime: transcriptTime, recent: true)
        }
        if !isRecent { context.unwatchTree(.sessionFolder(project: slug, session: session)) }
        context.tree.setSessionFolderUnwatched(!isRecent, session: session, project: slug)
        context.tree.setSubagents(files, session: session, project: slug)
        if let newest { context.observe(.transcripts, newest.time, newest.path, fromEvent: false) }
    }

    /// The subagent transcripts of a session (`nil` set when there is no `subagents/`), or `nil` if the
    /// session folder itself is gone.
    private func listSubagents(
        _ slug: String,
        _ session: String,
        trusted: Bool
    ) -> (files: Set<UInt64>?, newest: (time: Timestamp, path: String)?)? {
        let path = subagentsPath(slug, session)
        let known = trusted ? context.tree.projects[slug]?.subagents[session] ?? [] : []
        do {
            let listing = try FileListing.list(
                path,
                matching: ClaudeLayout.isTranscript,
                known: known,
                fileSystem: context.fileSystem
            )
            return (listing.files, listing.newest)
        } catch {
            if error.isMissing {
                context.unwatch(.subagents(project: slug, session: session))
                return context.isDirectory(sessionFolderPath(slug, session)) ? (nil, nil) : nil
            }
            context.logUnreadable(path, error)
            return (context.tree.projects[slug]?.subagents[session], nil)
        }
    }

    private func dropProject(_ slug: String) {
        context.unwatchTree(.project(slug))
        context.tree.setProject(slug, nil)
    }

    private func dropSessionFolder(_ slug: String, _ session: String) {
        context.unwatchTree(.sessionFolder(project: slug, session: session))
        context.tree.setSessionFolderUnwatched(false, session: session, project: slug)
        context.tree.setSubagents(nil, session: session, project: slug)
    }

    // MARK: - Events

    /// `projects` appeared or went in the Claude directory.
    func projectsChanged() {
        if context.isDirectory(projectsPath) { scan() } else { removeAll() }
    }

    /// An inotify event for `name` in one of this source's directories.
    func handle(name: String, in directory: WatchedDirectory, structural: Bool) {
        switch directory {
        case .projects:
            if structural { scanProjects([name]) }
        case .project(let slug):
            if ClaudeLayout.isTranscript(name) {
                transcriptChanged(name, slug)
            } else if structural && ClaudeLayout.isSessionDirectory(name) {
                if context.isDirectory(sessionFolderPath(slug, name)) {
                    scanSessionFolder(slug, name, transcriptTime: nil, recent: true)
                } else {
                    dropSessionFolder(slug, name)
                }
            }
        case .sessionFolder(let slug, let session):
            if name == ClaudeLayout.subagents && structural {
                scanSessionFolder(slug, session, transcriptTime: nil, recent: true)
            }
        case .subagents(let slug, let session):
            if ClaudeLayout.isTranscript(name) {
                let path = subagentsPath(slug, session) + "/" + name
                let status = try? context.fileSystem.status(of: path)
                let present = status?.kind == .regular
                context.tree.updateSubagent(name, present: present, session: session, project: slug)
                if let status, present {
                    context.observe(.transcripts, status.modified, path, fromEvent: true)
                    context.transcriptChanged(path)
                }
            }
        default:
            break
        }
    }

    private func transcriptChanged(_ name: String, _ slug: String) {
        let path = projectPath(slug) + "/" + name
        guard let status = try? context.fileSystem.status(of: path), status.kind == .regular else {
            context.tree.removeTranscript(name, project: slug)
            return
        }
        context.tree.insertTranscript(name, project: slug)
        context.observe(.transcripts, status.modified, path, fromEvent: true)
        context.transcriptChanged(path)
        let stem = String(name.utf8.dropLast(6))!
        if context.tree.isSessionFolderUnwatched(stem, project: slug) {
            scanSessionFolder(slug, stem, transcriptTime: status.modified, recent: true)
        }
    }

    /// The watch of one of this source's directories ended (deleted, moved, unmounted): looks again.
    func watchEnded(_ directory: WatchedDirectory) {
        context.unwatchTree(directory)
        switch directory {
        case .projects: projectsChanged()
        case .project(let slug): scanProjects([slug])
        case .sessionFolder(let slug, let session), .subagents(let slug, let session):
            if context.isDirectory(sessionFolderPath(slug, session)) {
                scanSessionFolder(slug, session, transcriptTime: nil, recent: true)
            } else {
                dropSessionFolder(slug, session)
            }
        default: break
        }
    }
}
