#if canImport(Glibc)
import Glibc
#endif

/// Reads whole small files (`/proc` entries, registry files) without Foundation.
public enum SmallFile {
    /// The `errno` a read reports for a path that is not a regular file (a FIFO, a device, a socket, a
    /// directory): Linux has no `EFTYPE`, and `EINVAL` is what the `open` family reports for a wrong kind.
    public static let notRegular: Int32 = EINVAL

    /// What ``read(_:limit:)`` returns: the bytes, whether the file was longer, and its modification time
    /// as `fstat` saw it on the descriptor that was read.
    public struct Contents: Sendable {
        public var bytes: [UInt8]
        public var truncated: Bool
        public var modified: Timestamp

        public init(bytes: [UInt8], truncated: Bool, modified: Timestamp) {
            self.bytes = bytes
            self.truncated = truncated
            self.modified = modified
        }
    }

    /// Reads at most `limit` bytes of the regular file at `path`; `truncated` is true when it is longer.
    ///
    /// Safe against whatever sits at `path`, which a hostile or racing writer may swap at any moment: the
    /// file is opened with `O_NONBLOCK` (a FIFO or a device cannot park the calling thread in `open` or
    /// `read`), `O_NOFOLLOW` (a symbolic link is refused, `ELOOP`) and `O_NOCTTY`, and the *opened*
    /// descriptor is checked with `fstat` to be a regular file (else ``notRegular``), so no check-then-open
    /// race is left. A regular file larger than `limit` (by its size) is reported truncated after reading
    /// `limit` bytes. `/proc` files report size 0 and are read up to `limit`.
    public static func read(
        _ path: String,
        limit: Int = 64 * 1024
    ) throws(Errno) -> Contents {
        let (fd, info) = try openRegular(path)
        defer { Syscall.close(fd) }
        let modified = Timestamp(info.st_mtim)
        if info.st_size > limit {
            return Contents(bytes: try readPrefix(fd, count: limit), truncated: true, modified: modified)
        }
        // A regular file's size is known; a /proc file says 0 and is read in growing steps, so a large limit
        // (the mount table's) costs memory only for what is there.
        var bytes = try readPrefix(fd, count: info.st_size > 0 ? Int(info.st_size) + 1 : limit + 1)
        let truncated = bytes.count > limit
        if truncated { bytes.removeLast(bytes.count - limit) }
        return Contents(bytes: bytes, truncated: truncated, modified: modified)
    }

    /// Opens the regular file at `path` for reading without ever blocking or following a link (`O_NONBLOCK`,
    /// `O_NOFOLLOW`, `O_NOCTTY`), and checks the *opened* descriptor with `fstat`: anything but a regular file throws
    /// ``notRegular`` (or `ELOOP` for a link). The caller closes the descriptor.
    static func openRegular(_ path: String) throws(Errno) -> (descriptor: Int32, status: stat) {
        let fd = try Syscall.retrying("open") {
            open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY)
        }
        var info = stat()
        do {
            _ = try Syscall.retrying("fstat") { fstat(fd, &info) }
        } catch {
            Syscall.close(fd)
            throw error
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            Syscall.close(fd)
            throw Errno(notRegular, call: "open (not a regular file)")
        }
        return (fd, info)
    }

    /// Reads until `count` bytes or the end of the file, growing the buffer as it fills (from 4 KiB).
    private static func readPrefix(_ fd: Int32, count: Int) throws(Errno) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: min(count, 4096))
        var filled = 0
        while filled < count {
            if filled == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: min(bytes.count, count - filled)))
            }
            let base = filled
            let got = try Syscall.retrying("read") {
                bytes.withUnsafeMutableBytes { buffer in
                    Glibc.read(fd, buffer.baseAddress! + base, buffer.count - base)
                }
            }
            if got == 0 { break }
            filled += got
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }
}

/// Which file a descriptor reads: device and inode, so a file replaced under the same name is told apart.
public struct FileIdentity: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// What one ``FilePart/read(_:from:into:)`` saw: the file, its size, and how many bytes it read.
public struct FilePart: Sendable, Equatable {
    public var identity: FileIdentity
    public var size: UInt64
    /// Bytes read into the buffer (0 at or past the end).
    public var count: Int
    /// The modification time `fstat` saw.
    public var modified: Timestamp

    public init(identity: FileIdentity, size: UInt64, count: Int, modified: Timestamp = .zero) {
        self.identity = identity
        self.size = size
        self.count = count
        self.modified = modified
    }

    /// Reads into `buffer` from `offset` of the regular file at `path` (opened as ``SmallFile/read(_:limit:)``
    /// opens: no FIFO, device or symbolic link can block or redirect it), with the identity and size `fstat` saw on
    /// the same descriptor. One `open`, `fstat`, `pread`, `close`: for the incremental reading of append-only files.
    public static func read(
        _ path: String,
        from offset: UInt64,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno) -> FilePart {
        let (fd, info) = try SmallFile.openRegular(path)
        defer { Syscall.close(fd) }
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        let size = UInt64(max(0, info.st_size))
        let modified = Timestamp(info.st_mtim)
        guard offset < size, let base = buffer.baseAddress, buffer.count > 0 else {
            return FilePart(identity: identity, size: size, count: 0, modified: modified)
        }
        let wanted = Int(min(UInt64(buffer.count), size - offset))
        let got = try Syscall.retrying("pread") { pread(fd, base, wanted, off_t(offset)) }
        return FilePart(identity: identity, size: size, count: got, modified: modified)
    }
}

/// Writes to standard error with `write(2)`: whole lines, no stdio buffering, safe from any thread.
public enum StandardError {
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
