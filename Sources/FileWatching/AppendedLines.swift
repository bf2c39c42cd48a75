import Platform

/// The complete lines appended to a file since the last read: how transcripts (and, next, Happy's logs) are read.
///
/// Only newline-terminated lines are handed out; a partial last line waits, unread, for its newline (the next read
/// starts at its first byte). A file that shrank or was replaced (another inode under the name) is read again from
/// the start. A line longer than the cap is never held in memory: it is reported as ``Line/tooLong`` when its
/// newline comes. Memory: only ``ReadBuffer``, shared by all files, and two integers per file.
public struct AppendedLines: Sendable {
    /// One line of the file.
    public enum Line {
        /// A complete line without its newline, valid only during the callback.
        case complete(UnsafeRawBufferPointer)
        /// A line longer than ``ReadBuffer/maximumLine``, skipped.
        case tooLong
    }

    /// What one read did.
    public struct Progress: Sendable, Equatable {
        /// Bytes read from the file.
        public var bytes: UInt64 = 0
        /// True if the file was read from its start again (replaced, or shorter than what had been read).
        public var restarted = false
        /// The file's modification time, as the read's `fstat` saw it (`nil` if nothing was opened).
        public var modified: Timestamp?
    }

    /// The file that was read: a fingerprint of its device and inode (0 before the first read). Eight bytes, not
    /// the identity's sixteen: a reader is kept for every transcript.
    public private(set) var file: UInt64 = 0
    /// Where the next read starts: just past the last newline handed out.
    public private(set) var offset: UInt64 = 0

    /// The first line handed out after ``startNearEnd(of:window:fileSystem:)`` is likely a piece: dropped.
    private var dropFirstLine = false
    /// The last read stopped inside a line longer than the cap: the next goes on dropping it to its newline.
    private var skipping = false

    public init() {}

    /// Makes the first read start at most `window` bytes before the current end of the file (a log whose whole
    /// history is not wanted); the line cut there is skipped.
    /// Returns what the look at the file saw (its size and time).
    @discardableResult
    public mutating func startNearEnd(
        of path: String,
        window: UInt64,
        fileSystem: any FileSystem
    ) throws(Errno) -> FilePart {
        let part = try fileSystem.read(path, from: 0, into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        file = Self.fingerprint(part.identity)
        guard part.size > window else { return part }
        offset = part.size - window
        dropFirstLine = true
        return part
    }

    /// Reads what was appended to `path` since the last call, handing each complete line to `body`.
    ///
    /// It reads up to the size the file had at the first read of this call (a file that keeps growing is not chased:
    /// the next call goes on), and stops early, where it is, when `shouldContinue` says so (checked before every
    /// chunk): the next call resumes there. With `window`, never more than that many bytes before the end are read.
    public mutating func read(
        _ path: String,
        fileSystem: any FileSystem,
        buffer: ReadBuffer,
        shouldContinue: () -> Bool = { true },
        window: UInt64? = nil,
        _ body: (Line) -> Void
    ) throws(Errno) -> Progress {
        var progress = Progress()
        var start = offset  // the file offset of the buffer's first byte
        var filled = 0
        var discarding = skipping
        var end: UInt64?  // the size at this call's first read
        while shouldContinue() {
            if filled == buffer.count {
                // Room for a line of `maximumLine` bytes and its newline.
                if !discarding && buffer.count <= buffer.maximumLine {
                    buffer.grow()
                } else {
                    // Inside a line longer than the cap: drop what is held and read on to its newline.
                    discarding = true
                    start += UInt64(filled)
                    filled = 0
                }
            }
            let part = try buffer.withUnsafeMutableBytes { (bytes) throws(Errno) -> FilePart in
                try fileSystem.read(
                    path,
                    from: start + UInt64(filled),
                    into: UnsafeMutableRawBufferPointer(rebasing: bytes[filled...])
                )
            }
            let fingerprint = Self.fingerprint(part.identity)
            if file != fingerprint || part.size < offset {
                // Replaced twice within one call: stop; the next call starts on the newest file.
                if progress.restarted { return progress }
                if file != 0 {
                    progress.restarted = true
                    dropFirstLine = false
                    skipping = false
                    file = fingerprint
                    offset = 0
                    start = 0
                    filled = 0
                    discarding = false
                    end = nil
                    continue
                }
                file = fingerprint
            }
            progress.modified = part.modified
            if end == nil {
                end = part.size
                // More than `window` to read (a log that grew by gigabytes, or one read again from its start):
                // only its last `window` bytes are, the line cut there skipped.
                if let window, part.size > start + UInt64(filled) + window {
                    start = part.size - window
                    offset = start
                    filled = 0
                    discarding = false
                    dropFirstLine = true
                    continue
                }
            }
            guard part.count > 0 else { break }
            progress.bytes += UInt64(part.count)
            let consumed = buffer.withUnsafeMutableBytes { bytes -> Int in
                var lineStart = 0
                var position = filled
                let stop = filled + part.count
                while position < stop,
                    let newline = memchr(bytes.baseAddress! + position, 0x0A, stop - position)
                {
                    let at = bytes.baseAddress!.distance(to: newline)
                    if dropFirstLine {
                        dropFirstLine = false
                        discarding = false
                    } else if discarding {
                        body(.tooLong)
                        discarding = false
                    } else {
                        body(.complete(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<at])))
                    }
                    lineStart = at + 1
                    position = at + 1
                }
                return lineStart
            }
            filled += part.count
            // Read to the size seen first: done, without opening the file once more to find its end.
            let atEnd = start + UInt64(filled) >= min(part.size, end!)
            if consumed > 0 {
                offset = start + UInt64(consumed)
                start = offset
                buffer.withUnsafeMutableBytes { bytes in
                    if filled > consumed {
                        memmove(bytes.baseAddress!, bytes.baseAddress! + consumed, filled - consumed)
                    }
                }
                filled -= consumed
            }
            if atEnd { break }
        }
        // Stopped inside an over-long line: what was read of it is dropped for good, and the next call goes on
        // dropping up to its newline (never reading it again from its start).
        skipping = discarding
        if discarding {
            offset = start + UInt64(filled)
        }
        buffer.shrink()
        return progress
    }
}

extension AppendedLines {
    /// Device and inode mixed into 64 bits (never 0).
    static func fingerprint(_ identity: FileIdentity) -> UInt64 {
        var value = identity.inode &* 0x9E37_79B9_7F4A_7C15 ^ identity.device
        value ^= value >> 31
        value &*= 0xBF58_476D_1CE4_E5B9
        value ^= value >> 29
        return value == 0 ? 1 : value
    }
}

/// The bytes ``AppendedLines`` reads into, shared by every file one reader follows: ``chunk`` bytes, grown while one
/// line does not fit, up to ``maximumLine``, and given back after a read that grew it.
public final class ReadBuffer {
    public let chunk: Int
    public let maximumLine: Int
    private var storage: UnsafeMutableRawBufferPointer

    /// 64 KiB: below glibc's mmap threshold, so a kept buffer costs 64 KiB of memory; 1 GB is still read in 16,000
    /// `pread`s, a few milliseconds of system calls.
    public init(chunk: Int = 64 * 1024, maximumLine: Int = 8 * 1024 * 1024) {
        precondition(chunk > 0 && maximumLine >= chunk)
        self.chunk = chunk
        self.maximumLine = maximumLine
        storage = .allocate(byteCount: chunk, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Bytes held now: ``chunk``, more only during a read that met a long line.
    public var count: Int { storage.count }

    func withUnsafeMutableBytes<Result, Failure: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(storage)
    }

    /// Doubles, up to `maximumLine + 1` bytes (a line of `maximumLine` bytes and its newline).
    func grow() {
        let bigger = UnsafeMutableRawBufferPointer.allocate(
            byteCount: min(storage.count * 2, maximumLine + 1),
            alignment: 16
        )
        bigger.copyMemory(from: UnsafeRawBufferPointer(storage))
        storage.deallocate()
        storage = bigger
    }

    func shrink() {
        guard storage.count > chunk else { return }
        storage.deallocate()
        storage = .allocate(byteCount: chunk, alignment: 16)
    }
}

#if canImport(Glibc)
import Glibc
#endif
