import CInotify
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The mount table of this process's mount namespace (`/proc/self/mountinfo`), and a monitor of its changes.
///
/// inotify watches an inode: a file system mounted over a watched folder hides the folder from its watch, and
/// nothing is reported until a rescan. The kernel signals every change of the mount table as `POLLPRI` on an
/// open `mountinfo` (proc(5)); the monitor waits for that on a thread of its own and delivers a notice, so the
/// tracker can compare the mount points under its roots and set its watches up again.
public final class MountTableMonitor: Sendable {
    /// One element per change of the mount table (changes in quick succession may merge into one).
    public let changes: AsyncStream<Void>

    private let continuation: AsyncStream<Void>.Continuation
    private let tableDescriptor: Int32
    private let thread: WakeableThread

    /// Opens the mount table. Call ``start()`` to begin waiting for changes.
    public init(path: String = "/proc/self/mountinfo") throws(Errno) {
        thread = try WakeableThread()
        tableDescriptor = try Syscall.retrying("open") { open(path, O_RDONLY | O_CLOEXEC) }
        (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    deinit { Syscall.close(tableDescriptor) }

    /// Starts the waiting thread.
    public func start() {
        let table = tableDescriptor
        let wake = thread.wakeDescriptor
        let continuation = continuation
        thread.start(name: "mount-monitor") {
            var fds = [
                pollfd(fd: table, events: Int16(POLLPRI), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                let polled = fds.withUnsafeMutableBufferPointer { buffer in
                    try? Syscall.retrying("poll") { poll(buffer.baseAddress, 2, -1) }
                }
                guard polled != nil else { break }
                if fds[1].revents != 0 { break }
                // POLLNVAL: the descriptor is gone; nothing more can be learnt from it.
                if fds[0].revents & Int16(POLLNVAL) != 0 { break }
                if fds[0].revents & Int16(POLLPRI | POLLERR) != 0 { continuation.yield() }
            }
            continuation.finish()
        }
    }

    /// Wakes the waiting thread, waits for it to end, and finishes the stream.
    public func stop() {
        thread.stop()
        continuation.finish()
    }

    /// One line of the mount table: the kernel's mount id (field 1) and the mount point (field 5). Two mounts
    /// stacked on one point have different ids, so a second mount over a watched folder is a change too.
    public struct Mount: Hashable, Sendable {
        public var id: Int
        public var point: String

        public init(id: Int, point: String) {
            self.id = id
            self.point = point
        }
    }

    /// The mounts of this process's namespace, read now (empty if the table cannot be read).
    public static func mounts(path: String = "/proc/self/mountinfo") -> [Mount] {
        guard let table = try? SmallFile.read(path, limit: 8 << 20) else { return [] }
        var bytes = table.bytes
        // A table cut at the limit ends in a partial line, whose path could be anything: drop it.
        if table.truncated, let end = bytes.lastIndex(of: UInt8(ascii: "\n")) { bytes.removeSubrange((end + 1)...) }
        return mounts(in: bytes)
    }

    /// The mounts of a `mountinfo` text, with the kernel's octal escapes in mount points (`\040` for a space,
    /// `\011`, `\012`, `\134`) decoded.
    public static func mounts(in table: [UInt8]) -> [Mount] {
        var mounts: [Mount] = []
        for line in table.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: false)
            guard fields.count >= 5, let id = Int(String(decoding: fields[0], as: UTF8.self)) else { continue }
            mounts.append(Mount(id: id, point: unescape(fields[4])))
        }
        return mounts
    }

    private static func unescape(_ field: ArraySlice<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(field.count)
        var index = field.startIndex
        while index < field.endIndex {
            let byte = field[index]
            if byte == UInt8(ascii: "\\"), field.endIndex - index >= 4 {
                let digits = field[(index + 1)...(index + 3)]
                if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                    let value = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                    if value <= 0xFF {
                        bytes.append(UInt8(value))
                        index += 4
                        continue
                    }
                }
            }
            bytes.append(byte)
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
