import Platform

#if canImport(Glibc)
import Glibc
#endif

/// What a directory entry is, after following symbolic links.
public enum FileKind: Sendable, Hashable {
    case regular
    case directory
    /// Anything else: a device, a socket, a FIFO, a dangling symbolic link.
    case other
}

/// The result of `stat(2)` that the exporter uses.
public struct FileStatus: Sendable, Hashable {
    public var kind: FileKind
    /// The modification time (`st_mtim`).
    public var modified: Timestamp

    public init(kind: FileKind, modified: Timestamp) {
        self.kind = kind
        self.modified = modified
    }
}

/// One entry of a directory listing.
public struct DirectoryEntry: Sendable, Hashable {
    public var name: String
    public var kind: FileKind
    /// Present when the listing's `wantsStatus` predicate asked for it (and the entry still existed).
    public var status: FileStatus?

    public init(name: String, kind: FileKind, status: FileStatus? = nil) {
        self.name = name
        self.kind = kind
        self.status = status
    }
}

/// The read-only filesystem operations the exporter needs: stat, and list a directory.
///
/// The domain uses this protocol so that tests can drive every rule (counting, sources, noise,
/// permission errors) from an in-memory tree. There is deliberately no way to write.
public protocol FileSystem: Sendable {
    /// `stat(2)` of `path`, following symbolic links.
    func status(of path: String) throws(Errno) -> FileStatus

    /// Calls `body` for each entry of the directory at `path` except `.` and `..`.
    ///
    /// Entries whose name is not valid UTF-8 are skipped: Claude Code and Happy only write ASCII
    /// names, so such a file is never activity and never a session. For an entry for which
    /// `wantsStatus(name)` is true, the entry's ``DirectoryEntry/status`` is filled by `fstatat`
    /// relative to the open directory (no path is built); an entry that vanished meanwhile is skipped.
    func forEachEntry(
        in path: String,
        wantsStatus: (String) -> Bool,
        _ body: (DirectoryEntry) -> Void
    ) throws(Errno)
}

/// The real filesystem, through `openat`/`getdents` (via `readdir`)/`fstatat`. Never writes.
public struct LocalFileSystem: FileSystem {
    public init() {}

    public func status(of path: String) throws(Errno) -> FileStatus {
        var info = stat()
        _ = try Syscall.retrying("stat") { stat(path, &info) }
        return FileStatus(info)
    }

    public func forEachEntry(
        in path: String,
        wantsStatus: (String) -> Bool,
        _ body: (DirectoryEntry) -> Void
    ) throws(Errno) {
        let fd = try Syscall.retrying("open") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard let directory = fdopendir(fd) else {
            let error = Errno.current("fdopendir")
            Syscall.close(fd)
            throw error
        }
        defer { closedir(directory) }
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw Errno.current("readdir") }
                return
            }
            let type = entry.pointee.d_type
            let parsed: DirectoryEntry? = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let cName = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                if cName[0] == 46 && (cName[1] == 0 || (cName[1] == 46 && cName[2] == 0)) { return nil }
                guard let name = String(validatingCString: cName) else { return nil }
                var kind: FileKind
                switch Int32(type) {
                case Int32(DT_REG): kind = .regular
                case Int32(DT_DIR): kind = .directory
                case Int32(DT_LNK), Int32(DT_UNKNOWN): kind = .other
                default: return DirectoryEntry(name: name, kind: .other)
                }
                let resolve = Int32(type) == Int32(DT_LNK) || Int32(type) == Int32(DT_UNKNOWN)
                if resolve || (kind == .regular && wantsStatus(name)) {
                    var info = stat()
                    guard fstatat(dirfd(directory), cName, &info, 0) == 0 else {
                        // Vanished since readdir, or a dangling link: report what is known.
                        return resolve ? DirectoryEntry(name: name, kind: .other) : nil
                    }
                    let status = FileStatus(info)
                    kind = status.kind
                    return DirectoryEntry(
                        name: name,
                        kind: kind,
                        status: kind == .regular && wantsStatus(name) ? status : nil
                    )
                }
                return DirectoryEntry(name: name, kind: kind)
            }
            if let parsed { body(parsed) }
        }
    }
}

extension FileStatus {
    init(_ info: stat) {
        let kind: FileKind =
            switch info.st_mode & S_IFMT {
            case S_IFREG: .regular
            case S_IFDIR: .directory
            default: .other
            }
        self.init(
            kind: kind,
            modified: Timestamp(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec))
        )
    }
}
