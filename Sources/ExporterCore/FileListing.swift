import FileWatching
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The files of one folder that match a rule: their name hashes, and the newest among those stat'ed.
///
/// One lister for the flat folders the tracker reads (a session's `subagents/`, Happy's `logs/`): list, keep the
/// matching regular files, stat only those not already known (a trusted watch reported them), and remember the
/// newest. Project folders add session counts and `<uuid>/` folders on top: ``ProjectListing``.
struct FileListing {
    var files: Set<UInt64> = []
    /// The newest file among those stat'ed, with its full path.
    var newest: (time: Timestamp, path: String)?

    /// Lists `path`. `known` files are not stat'ed again (`[]`: stat every match).
    static func list(
        _ path: String,
        matching rule: (UnsafeBufferPointer<UInt8>) -> Bool,
        known: Set<UInt64>,
        fileSystem: any FileSystem
    ) throws(Errno) -> FileListing {
        var listing = FileListing()
        var newest: (time: Timestamp, name: String)?
        let wantsStatus = { (name: UnsafeBufferPointer<UInt8>) in
            rule(name) && !known.contains(ClaudeLayout.nameHash(name))
        }
        try fileSystem.forEachEntry(in: path, wantsStatus: wantsStatus) { entry in
            guard entry.kind == .regular, rule(entry.nameBytes) else { return }
            listing.files.insert(ClaudeLayout.nameHash(entry.nameBytes))
            if let status = entry.status, status.modified > newest?.time ?? .earliest {
                newest = (status.modified, entry.name)
            }
        }
        listing.newest = newest.map { ($0.time, path + "/" + $0.name) }
        return listing
    }
}

extension Errno {
    /// The path (or a folder on it) is not there: `ENOENT`, or `ENOTDIR` when a component is no directory.
    var isMissing: Bool { code == ENOENT || code == ENOTDIR }
}
