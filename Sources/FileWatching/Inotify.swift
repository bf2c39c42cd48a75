import CInotify
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// An inotify watch descriptor.
public struct WatchDescriptor: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "wd\(rawValue)" }
}

/// The bits of an inotify event mask that the exporter uses (see inotify(7)).
public struct InotifyMask: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let modify = InotifyMask(rawValue: UInt32(IN_MODIFY))
    public static let attrib = InotifyMask(rawValue: UInt32(IN_ATTRIB))
    public static let closeWrite = InotifyMask(rawValue: UInt32(IN_CLOSE_WRITE))
    public static let movedFrom = InotifyMask(rawValue: UInt32(IN_MOVED_FROM))
    public static let movedTo = InotifyMask(rawValue: UInt32(IN_MOVED_TO))
    public static let create = InotifyMask(rawValue: UInt32(IN_CREATE))
    public static let delete = InotifyMask(rawValue: UInt32(IN_DELETE))
    public static let deleteSelf = InotifyMask(rawValue: UInt32(IN_DELETE_SELF))
    public static let moveSelf = InotifyMask(rawValue: UInt32(IN_MOVE_SELF))
    public static let unmount = InotifyMask(rawValue: UInt32(IN_UNMOUNT))
    public static let queueOverflow = InotifyMask(rawValue: UInt32(IN_Q_OVERFLOW))
    public static let ignored = InotifyMask(rawValue: UInt32(IN_IGNORED))
    public static let isDirectory = InotifyMask(rawValue: UInt32(IN_ISDIR))
    public static let onlyDirectory = InotifyMask(rawValue: UInt32(IN_ONLYDIR))
    public static let excludeUnlinked = InotifyMask(rawValue: UInt32(IN_EXCL_UNLINK))

    /// Something appeared in the directory (created, or moved in).
    public static let appeared: InotifyMask = [.create, .movedTo]
    /// Something left the directory (deleted, or moved out).
    public static let disappeared: InotifyMask = [.delete, .movedFrom]
    /// A file's content or times changed.
    public static let changed: InotifyMask = [.modify, .attrib, .closeWrite]
    /// The watched directory itself is gone, or its watch was removed.
    public static let watchEnded: InotifyMask = [.deleteSelf, .moveSelf, .unmount, .ignored]

    /// The mask the exporter watches directories with. `IN_ATTRIB` is included because
    /// `touch` (utimensat) changes only the modification time; `IN_CLOSE_WRITE` is not, because
    /// every write already produced `IN_MODIFY`.
    public static let directoryWatch: InotifyMask = [
        .modify, .attrib, .movedFrom, .movedTo, .create, .delete, .deleteSelf, .moveSelf, .onlyDirectory,
        .excludeUnlinked,
    ]
}

/// One decoded inotify event.
public struct InotifyEvent: Sendable, Hashable {
    public var descriptor: WatchDescriptor
    public var mask: InotifyMask
    public var cookie: UInt32
    /// The name of the entry inside the watched directory; `nil` for events about the directory itself.
    public var name: String?

    public init(descriptor: WatchDescriptor, mask: InotifyMask, cookie: UInt32 = 0, name: String? = nil) {
        self.descriptor = descriptor
        self.mask = mask
        self.cookie = cookie
        self.name = name
    }

    /// The synthetic event the kernel sends when its queue overflowed (`IN_Q_OVERFLOW`, wd -1).
    public static let overflow = InotifyEvent(descriptor: WatchDescriptor(-1), mask: .queueOverflow)
}

/// Adds and removes watches. ``Inotify`` is the real one; tests use a fake that can fail with
/// `ENOSPC` (the node-wide `max_user_watches` limit) or `EACCES` on demand.
public protocol WatchRegistry: Sendable {
    func addWatch(path: String, mask: InotifyMask) throws(Errno) -> WatchDescriptor
    func removeWatch(_ descriptor: WatchDescriptor)
}

/// An inotify instance (`inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`).
public final class Inotify: WatchRegistry {
    /// The inotify file descriptor; read by ``InotifyReader``.
    public let fileDescriptor: Int32

    public init() throws(Errno) {
        fileDescriptor = try Syscall.retrying("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }
    }

    deinit { Syscall.close(fileDescriptor) }

    public func addWatch(path: String, mask: InotifyMask) throws(Errno) -> WatchDescriptor {
        WatchDescriptor(
            try Syscall.retrying("inotify_add_watch") { inotify_add_watch(fileDescriptor, path, mask.rawValue) }
        )
    }

    public func removeWatch(_ descriptor: WatchDescriptor) {
        _ = inotify_rm_watch(fileDescriptor, descriptor.rawValue)
    }

    /// The node-wide limit on watches per user (`/proc/sys/fs/inotify/max_user_watches`), for messages.
    public static func maxUserWatches() -> Int? {
        guard let bytes = try? SmallFile.read("/proc/sys/fs/inotify/max_user_watches", limit: 64).bytes else {
            return nil
        }
        return Int(String(decoding: bytes, as: UTF8.self).filter { $0.isNumber })
    }
}

/// Decodes the variable-length `struct inotify_event` records that one `read(2)` returned.
public enum InotifyDecoder {
    /// The size of the fixed part of a record.
    public static let headerSize = 16
    /// A read buffer that always holds at least one whole event (as swift-tools-support-core sizes it).
    public static let minimumBufferSize = headerSize + Int(NAME_MAX) + 1

    /// Decodes every whole record in `buffer`. A record whose name is not valid UTF-8 is dropped
    /// (such names are never Claude's) and counted in `skipped`.
    public static func decode(_ buffer: UnsafeRawBufferPointer) -> (events: [InotifyEvent], skipped: Int) {
        var events: [InotifyEvent] = []
        var skipped = 0
        var offset = 0
        while offset + headerSize <= buffer.count {
            let wd = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let cookie = buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + headerSize
            guard nameStart + length <= buffer.count else { break }
            var name: String?
            var valid = true
            if length > 0 {
                let raw = UnsafeRawBufferPointer(rebasing: buffer[nameStart..<(nameStart + length)])
                let end = raw.firstIndex(of: 0) ?? raw.count
                if end > 0 {
                    name = String(validating: raw[0..<end], as: UTF8.self)
                    valid = name != nil
                }
            }
            offset = nameStart + length
            if valid {
                events.append(
                    InotifyEvent(
                        descriptor: WatchDescriptor(wd),
                        mask: InotifyMask(rawValue: mask),
                        cookie: cookie,
                        name: name
                    )
                )
            } else {
                skipped += 1
            }
        }
        return (events, skipped)
    }
}
