import ExporterCore
import FileWatching
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// An in-memory tree for driving the tracker without a disk. Paths are absolute, without trailing slashes.
final class FakeFileSystem: FileSystem {
    struct Node {
        var kind: FileKind
        var modified: Timestamp
        var readable = true
        var contents: [UInt8] = []
        /// Changes when a file is replaced (``replaceFile(_:_:)``), as a new inode would.
        var inode: UInt64 = 0
    }

    private let inodes = Locked<UInt64>(1)

    private let nodes = Locked<[String: Node]>(["/": Node(kind: .directory, modified: .zero)])

    /// Creates the file and any missing parent directories.
    func addFile(_ path: String, modified: Timestamp = Timestamp(seconds: 1_000)) {
        addDirectory(parent(path))
        nodes.withLock { nodes in
            if nodes[path] == nil { bumpParent(of: path, in: &nodes) }
            nodes[path] = Node(kind: .regular, modified: modified)
        }
    }

    /// As the kernel does: an entry created in or removed from a directory changes the directory's mtime.
    private func bumpParent(of path: String, in nodes: inout [String: Node]) {
        let folder = parent(path)
        if let old = nodes[folder]?.modified { nodes[folder]?.modified = old.adding(seconds: 0.001) }
    }

    /// Creates or replaces a file with `text`.
    func writeFile(_ path: String, _ text: String, modified: Timestamp = Timestamp(seconds: 1_000)) {
        addFile(path, modified: modified)
        nodes.withLock { $0[path]?.contents = Array(text.utf8) }
    }

    /// Appends `text` to a file (created if missing), as a writer in append mode does.
    func appendFile(_ path: String, _ text: String, modified: Timestamp = Timestamp(seconds: 1_000)) {
        if nodes.withLock({ $0[path] }) == nil { addFile(path, modified: modified) }
        nodes.withLock {
            $0[path]?.contents += Array(text.utf8)
            $0[path]?.modified = modified
        }
    }

    /// Puts a new file with `text` in place of the old one (another inode), as a rename over it does.
    func replaceFile(_ path: String, _ text: String) {
        let inode = inodes.withLock { value in
            value += 1
            return value
        }
        addFile(path)
        nodes.withLock {
            $0[path]?.contents = Array(text.utf8)
            $0[path]?.inode = inode
        }
    }

    func read(_ path: String, from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> FilePart
    {
        guard let node = nodes.withLock({ $0[path] }) else { throw Errno(ENOENT, call: "open") }
        guard node.kind == .regular else { throw Errno(SmallFile.notRegular, call: "open") }
        guard node.readable else { throw Errno(EACCES, call: "open") }
        let identity = FileIdentity(device: 1, inode: node.inode)
        let size = UInt64(node.contents.count)
        guard offset < size, buffer.count > 0 else {
            return FilePart(identity: identity, size: size, count: 0, modified: node.modified)
        }
        let count = min(buffer.count, Int(size - offset))
        node.contents.withUnsafeBytes { bytes in
            buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + Int(offset), byteCount: count)
        }
        return FilePart(identity: identity, size: size, count: count, modified: node.modified)
    }

    func contents(of path: String, limit: Int) throws(Errno) -> SmallFile.Contents {
        reads.withLock { $0 += 1 }
        guard let node = nodes.withLock({ $0[path] }) else { throw Errno(ENOENT, call: "open") }
        guard node.kind == .regular else { throw Errno(SmallFile.notRegular, call: "open") }
        return SmallFile.Contents(
            bytes: Array(node.contents.prefix(limit)),
            truncated: node.contents.count > limit,
            modified: node.modified
        )
    }

    /// A path that exists is its own canonical path, unless ``resolve(_:to:)`` said it is a link.
    func canonicalPath(of path: String) -> String? {
        if let target = links.withLock({ $0[path] }) { return target }
        return nodes.withLock { $0[path] } == nil ? nil : path
    }

    private let links = Locked<[String: String]>([:])
    private let unsearchable = Locked<Set<String>>([])

    /// `path` (a directory added as usual) resolves to `target`, as a symbolic link to it would.
    func resolve(_ path: String, to target: String) { links.withLock { $0[path] = target } }

    /// `stat` of `path` fails with `EACCES`, as when a folder on the way may not be searched.
    func denySearch(_ path: String) { unsearchable.withLock { _ = $0.insert(path) } }

    /// How many files were read (``contents(of:limit:)`` calls), for cost-per-event tests.
    private let reads = Locked(0)
    var readCount: Int { reads.withLock { $0 } }

    /// Creates the directory and any missing parents (`mkdir -p`).
    func addDirectory(_ path: String, modified: Timestamp = Timestamp(seconds: 1_000)) {
        var missing: [String] = []
        var current = path
        nodes.withLock { nodes in
            while nodes[current] == nil {
                missing.append(current)
                current = parent(current)
            }
            for directory in missing { nodes[directory] = Node(kind: .directory, modified: modified) }
        }
    }

    func touch(_ path: String, _ modified: Timestamp) {
        nodes.withLock { $0[path]?.modified = modified }
    }

    /// Removes the path and everything below it (`rm -rf`).
    func remove(_ path: String) {
        nodes.withLock { nodes in
            for key in nodes.keys where key == path || key.hasPrefix(path + "/") { nodes[key] = nil }
            bumpParent(of: path, in: &nodes)
        }
    }

    /// Puts another kind of node (a FIFO, a device: `.other`) in the path's place.
    func replace(_ path: String, kind: FileKind) {
        nodes.withLock { $0[path]?.kind = kind }
    }

    func setReadable(_ path: String, _ readable: Bool) {
        nodes.withLock { $0[path]?.readable = readable }
    }

    func status(of path: String) throws(Errno) -> FileStatus {
        if unsearchable.withLock({ $0.contains(path) }) { throw Errno(EACCES, call: "stat") }
        let node = nodes.withLock { $0[path] }
        guard let node else { throw Errno(ENOENT, call: "stat") }
        return FileStatus(kind: node.kind, modified: node.modified)
    }

    func forEachEntry(
        in path: String,
        followingLinks: Bool,
        wantsStatus: (UnsafeBufferPointer<UInt8>) -> Bool,
        _ body: (DirectoryEntry) -> Void
    ) throws(Errno) {
        let (directory, children) = nodes.withLock { nodes in
            let prefix = path == "/" ? "/" : path + "/"
            let children = nodes.filter { key, _ in
                key.hasPrefix(prefix) && key != path && !key.dropFirst(prefix.count).contains("/")
            }
            return (nodes[path], children)
        }
        guard let directory else { throw Errno(ENOENT, call: "open") }
        guard directory.kind == .directory else { throw Errno(ENOTDIR, call: "open") }
        guard directory.readable else { throw Errno(EACCES, call: "open") }
        for (key, node) in children.sorted(by: { $0.key < $1.key }) {
            var name = String(key.dropFirst(path == "/" ? 1 : path.count + 1))
            name.withUTF8 { bytes in
                let status =
                    node.kind == .regular && wantsStatus(bytes)
                    ? FileStatus(kind: node.kind, modified: node.modified) : nil
                body(DirectoryEntry(nameBytes: bytes, kind: node.kind, status: status))
            }
        }
    }

    private func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}

/// Records watches like inotify would, and fails on demand.
final class FakeWatchRegistry: WatchRegistry {
    private struct State {
        var next: Int32 = 1
        var watches: [Int32: String] = [:]
        var failure: Int32?
        var removed: [Int32] = []
        var attempts = 0
    }

    private let state = Locked(State())

    /// Makes every later `addWatch` fail with `code` (nil: succeed again).
    func failWith(_ code: Int32?) {
        state.withLock { $0.failure = code }
    }

    func addWatch(path: String, mask: InotifyMask) throws(Errno) -> WatchDescriptor {
        let result: Result<Int32, Errno> = state.withLock { state in
            state.attempts += 1
            if let failure = state.failure { return .failure(Errno(failure, call: "inotify_add_watch")) }
            // The kernel answers with the existing descriptor for a directory already watched.
            if let existing = state.watches.first(where: { $0.value == path })?.key { return .success(existing) }
            defer { state.next += 1 }
            state.watches[state.next] = path
            return .success(state.next)
        }
        return WatchDescriptor(try result.get())
    }

    func removeWatch(_ descriptor: WatchDescriptor) {
        state.withLock {
            $0.watches[descriptor.rawValue] = nil
            $0.removed.append(descriptor.rawValue)
        }
    }

    /// The descriptor watching `path`, to address fake events to it.
    func descriptor(_ path: String) -> WatchDescriptor? {
        state.withLock { state in state.watches.first { $0.value == path }.map { WatchDescriptor($0.key) } }
    }

    var watchedPaths: Set<String> { state.withLock { Set($0.watches.values) } }

    /// Every `addWatch` call so far, failed or not.
    var attempts: Int { state.withLock { $0.attempts } }
}

/// A wall clock tests move by hand.
final class ManualClock: Sendable {
    private let current: Locked<Timestamp>
    init(_ start: Timestamp = Timestamp(seconds: 10_000)) { current = Locked(start) }
    var now: Timestamp { current.withLock { $0 } }
    func advance(seconds: Double) { current.withLock { $0 = $0.adding(seconds: seconds) } }
}

/// Processes by pid with their start times, and whether other containers' processes are visible.
final class FakeProcessTable: ProcessTable {
    private let processes = Locked<[Int32: UInt64]>([:])
    let seesOtherProcesses: Bool
    let ownProcessID: Int32
    /// How many `/proc/<pid>/stat` look-ups were made, for cost-per-event tests.
    private let lookups = Locked(0)
    var lookupCount: Int { lookups.withLock { $0 } }

    init(seesOtherProcesses: Bool = true, ownProcessID: Int32 = 999_999) {
        self.seesOtherProcesses = seesOtherProcesses
        self.ownProcessID = ownProcessID
    }

    func start(_ pid: Int32, ticks: UInt64) { processes.withLock { $0[pid] = ticks } }
    func exit(_ pid: Int32) { processes.withLock { $0[pid] = nil } }
    /// Makes every look-up fail with "unknown" (as running out of descriptors would), or not.
    func failLookUps(_ failing: Bool) { failures.withLock { $0 = failing } }
    private let failures = Locked(false)

    /// Start ticks are seconds since the epoch here.
    func wallClock(ofStartTicks ticks: UInt64) -> Timestamp? { Timestamp(seconds: Int64(ticks)) }

    func lookUp(_ pid: Int32) -> ProcessLookup {
        lookups.withLock { $0 += 1 }
        if failures.withLock({ $0 }) { return .unknown }
        return processes.withLock { $0[pid] }.map { .running(startTicks: $0) } ?? .gone
    }
}
