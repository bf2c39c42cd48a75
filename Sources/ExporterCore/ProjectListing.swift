import FileWatching
import Platform

/// What listing one project folder (`projects/<slug>/`) found.
///
/// Computed from the filesystem alone, so that the tracker can list many folders on several threads
/// and then apply the results on its own.
struct ProjectListing: Sendable {
    /// One folder to list.
    struct Job: Sendable {
        var slug: String
        var path: String
        /// Transcripts a trusted watch already reported: not stat'ed again. `nil`: stat every transcript.
        var known: Set<UInt64>?
        /// With a trusted watch: the folder's modification time at the last listing. If it is the same now,
        /// the folder is not listed again.
        var listedAt: Timestamp?
    }

    var slug: String
    var contents = ProjectContents()
    /// The newest transcript among those stat'ed.
    var newest: (time: Timestamp, name: String)?
    /// `<uuid>/` folders, which may hold `subagents/`.
    var sessionFolders: [String] = []
    /// Why the folder could not be listed.
    var error: Errno?
    /// The folder was not listed: it has not changed since the last listing.
    var unchanged = false

    static func list(_ job: Job, fileSystem: any FileSystem) -> ProjectListing {
        var listing = ProjectListing(slug: job.slug)
        // The folder's time before listing: a change during the listing makes the next rescan list it again.
        let folderTime = try? fileSystem.status(of: job.path).modified
        if let listedAt = job.listedAt, listedAt == folderTime {
            listing.unchanged = true
            return listing
        }
        listing.contents.listedAt = folderTime
        listing.contents.transcripts.reserveCapacity(job.known?.count ?? 0)
        var newestTime: Timestamp?
        var newestName: [UInt8] = []
        let known = job.known
        let wantsStatus = { (name: UnsafeBufferPointer<UInt8>) in
            ClaudeLayout.isTranscript(name) && known?.contains(ClaudeLayout.nameHash(name)) != true
        }
        do {
            try fileSystem.forEachEntry(in: job.path, wantsStatus: wantsStatus) { entry in
                let name = entry.nameBytes
                if entry.kind == .directory {
                    if ClaudeLayout.isSessionDirectory(name) { listing.sessionFolders.append(entry.name) }
                    return
                }
                guard entry.kind == .regular, ClaudeLayout.isTranscript(name) else { return }
                listing.contents.transcripts.insert(ClaudeLayout.nameHash(name))
                if ClaudeLayout.isSession(name) { listing.contents.sessions += 1 }
                if let status = entry.status, newestTime == nil || status.modified > newestTime! {
                    newestTime = status.modified
                    newestName.removeAll(keepingCapacity: true)
                    newestName.append(contentsOf: name)
                }
            }
        } catch {
            listing.error = error
        }
        if let newestTime { listing.newest = (newestTime, String(decoding: newestName, as: UTF8.self)) }
        return listing
    }
}
