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

/// One entry of a directory listing, valid only during the listing's callback.
///
/// The name is handed over as the bytes `readdir` returned (checked to be UTF-8), so that a scan of
/// 100,000 files classifies and hashes names without allocating a `String` for each.
public struct DirectoryEntry {
    /// The name's bytes, without the terminating NUL. Valid only during the callback.
    public var nameBytes: UnsafeBufferPointer<UInt8>
    public var kind: FileKind
    /// Present when the listing's `wantsStatus` predicate asked for it (and the entry still existed).
    public var status: FileStatus?

    public init(nameBytes: UnsafeBufferPointer<UInt8>, kind: FileKind, status: FileStatus? = nil) {
        self.nameBytes = nameBytes
        self.kind = kind
        self.status = status
    }

    /// The name as a `String` (allocates for names longer than 15 bytes).
    public var name: String { String(decoding: nameBytes, as: UTF8.self) }
}

/// The read-only filesystem operations the exporter needs: stat, and list a directory.
///
/// The domain uses this protocol so that tests can drive every rule (counting, sources, noise,
/// permission errors) from an in-memory tree. There is deliberately no way to write.
public protocol FileSystem: Sendable {
    /// `stat(2)` of `path`, following symbolic links.
    func status(of path: String) throws(Errno) -> FileStatus

    /// The first `limit` bytes of the regular file at `path`, whether it is longer, and its modification
    /// time. Only the session registry's small files are ever read. Anything but a regular file (a FIFO, a
    /// device, a symbolic link) throws ``SmallFile/notRegular`` or `ELOOP` without blocking: see
    /// ``SmallFile/read(_:limit:)``.
    func contents(of path: String, limit: Int) throws(Errno) -> SmallFile.Contents

    /// Bytes of the regular file at `path` from `offset` into `buffer`, with the file's identity and size: see
    /// ``FilePart/read(_:from:into:)``. Only transcripts are read this way, for their token usage.
    func read(_ path: String, from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> FilePart

    /// The path with every symbolic link resolved (`realpath(3)`), or `nil` if it does not exist.
    func canonicalPath(of path: String) -> String?

    /// Calls `body` for each entry of the directory at `path` except `.` and `..`.
    ///
    /// Entries whose name is not valid UTF-8 are skipped: Claude Code and Happy only write ASCII
    /// names, so such a file is never activity and never a session. For a regular file for which
    /// `wantsStatus(name)` is true, the entry's ``DirectoryEntry/status`` is filled by `fstatat`
    /// relative to the open directory (no path is built); an entry that vanished meanwhile is skipped.
    ///
    /// With `followingLinks` false, a symbolic link is never resolved (no `stat` through it, which could hang
    /// on a dead network or FUSE mount): it is reported as ``FileKind/other``.
    func forEachEntry(
        in path: String,
        followingLinks: Bool,
        wantsStatus: (UnsafeBufferPointer<UInt8>) -> Bool,
        _ body: (DirectoryEntry) -> Void
    ) throws(Errno)
}

extension FileSystem {
    /// Lists a directory, following symbolic links one level (see ``forEachEntry(in:followingLinks:wantsStatus:_:)``).
    public func forEachEntry(
        in path: String,
        wantsStatus: (UnsafeBufferPointer<UInt8>) -> Bool,
        _ body: (DirectoryEntry) -> Void
    ) throws(Errno) {
        try forEachEntry(in: path, followingLinks: true, wantsStatus: wantsStatus, body)
    }
}

/// The real filesystem, through `openat`/`getdents` (via `readdir`)/`fstatat`. Never writes.
public struct LocalFileSystem: FileSystem {
    public init() {}

    public func status(of path: String) throws(Errno) -> FileStatus {
        var info = stat()
        _ = try Syscall.retrying("stat") { stat(path, &info) }
        return FileStatus(info)
    }

    public func canonicalPath(of path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public func contents(of path: String, limit: Int) throws(Errno) -> SmallFile.Contents {
        try SmallFile.read(path, limit: limit)
    }

    public func read(
        _ path: String,
        from offset: UInt64,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno) -> FilePart {
        try FilePart.read(path, from: offset, into: buffer)
    }

    public func forEachEntry(
        in path: String,
        followingLinks: Bool,
        wantsStatus: (UnsafeBufferPointer<UInt8>) -> Bool,
        _ body: (DirectoryEntry) -> Void
    ) throws(Errno) {
        let fd = try Syscall.retrying("open") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard let directory = fdopendir(fd) else {
            let error = Errno.current("fdopendir")
            Syscall.close(fd)
            throw error
        }
        defer { closedir(directory) }
        let descriptor = dirfd(directory)
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw Errno.current("readdir") }
                return
            }
            let type = Int32(entry.pointee.d_type)
            withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let cName = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                let name = UnsafeBufferPointer(
                    start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    count: strlen(cName)
                )
                if name.count <= 2 && name.allSatisfy({ $0 == UInt8(ascii: ".") }) { return }
                guard Self.isUTF8(name) else { return }
                var kind: FileKind
                switch type {
                case Int32(DT_REG): kind = .regular
                case Int32(DT_DIR): kind = .directory
                case Int32(DT_LNK), Int32(DT_UNKNOWN): kind = .other
                default: return body(DirectoryEntry(nameBytes: name, kind: .other))
                }
                let resolve = type == Int32(DT_LNK) || type == Int32(DT_UNKNOWN)
                guard resolve || (kind == .regular && wantsStatus(name)) else {
                    return body(DirectoryEntry(nameBytes: name, kind: kind))
                }
                var info = stat()
                let flags = followingLinks ? 0 : AT_SYMLINK_NOFOLLOW
                guard (try? Syscall.retrying("fstatat", { fstatat(descriptor, cName, &info, flags) })) != nil else {
                    // Vanished since readdir (skip it), or a dangling link (report it as "other").
                    if resolve { body(DirectoryEntry(nameBytes: name, kind: .other)) }
                    return
                }
                let status = FileStatus(info)
                kind = status.kind
                let wanted = kind == .regular && (!resolve || wantsStatus(name))
                body(DirectoryEntry(nameBytes: name, kind: kind, status: wanted ? status : nil))
            }
        }
    }

    /// ASCII names (all of Claude's) pass without decoding.
    private static func isUTF8(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        if name.allSatisfy({ $0 < 0x80 }) { return true }
        return String(validating: name, as: UTF8.self) != nil
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
