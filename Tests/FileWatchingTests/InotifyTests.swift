import Foundation
import Platform
import Testing

@testable import FileWatching

#if canImport(Glibc)
import Glibc
#endif

/// Builds the bytes of one `struct inotify_event` record, name padded with NULs to `padded` bytes.
private func record(wd: Int32, mask: UInt32, cookie: UInt32 = 0, name: [UInt8] = [], padded: Int = 0) -> [UInt8] {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: wd.littleEndian) { bytes += $0 }
    withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
    withUnsafeBytes(of: cookie.littleEndian) { bytes += $0 }
    let length = UInt32(max(padded, name.isEmpty ? 0 : name.count + 1))
    withUnsafeBytes(of: length.littleEndian) { bytes += $0 }
    var nameBytes = name
    nameBytes += [UInt8](repeating: 0, count: Int(length) - name.count)
    return bytes + nameBytes
}

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cme-fw-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("inotify decoding and the real kernel")
struct InotifyTests {
    @Test("Decodes variable-length records, padded names, and events without names")
    func decode() {
        let bytes =
            record(wd: 1, mask: UInt32(IN_CREATE), name: Array("a.jsonl".utf8), padded: 16)
            + record(wd: 2, mask: UInt32(IN_DELETE_SELF))
            + record(wd: 3, mask: UInt32(IN_MOVED_TO), cookie: 7, name: Array("b".utf8))
        let (events, skipped) = bytes.withUnsafeBytes { InotifyDecoder.decode($0) }
        #expect(skipped == 0)
        #expect(
            events == [
                InotifyEvent(descriptor: WatchDescriptor(1), mask: .create, name: "a.jsonl"),
                InotifyEvent(descriptor: WatchDescriptor(2), mask: .deleteSelf),
                InotifyEvent(descriptor: WatchDescriptor(3), mask: .movedTo, cookie: 7, name: "b"),
            ]
        )
    }

    @Test("Names that are not UTF-8 are skipped; a truncated record is not read past the buffer")
    func decodeHostile() {
        let bytes =
            record(wd: 1, mask: UInt32(IN_CREATE), name: [0xFF, 0xFE, 0x41])
            + record(wd: 2, mask: UInt32(IN_CREATE), name: Array("ok".utf8))
        let truncated = Array(bytes.dropLast(2))
        let (events, skipped) = bytes.withUnsafeBytes { InotifyDecoder.decode($0) }
        #expect(skipped == 1)
        #expect(events.map(\.name) == ["ok"])
        let (partial, _) = truncated.withUnsafeBytes { InotifyDecoder.decode($0) }
        #expect(partial.isEmpty)
    }

    @Test("The reader delivers real events from a temporary directory, and stops")
    func realEvents() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inotify = try Inotify()
        let descriptor = try inotify.addWatch(path: directory, mask: .directoryWatch)
        let reader = try InotifyReader(inotify: inotify)
        reader.start()
        let fd = open(directory + "/x.jsonl", O_CREAT | O_WRONLY, 0o644)
        _ = write(fd, "a", 1)
        close(fd)
        // Stop the reader after a generous deadline so a missing event fails the test instead of hanging it.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(20))
            reader.stop()
        }
        var seen: [InotifyEvent] = []
        for await batch in reader.events {
            seen += batch
            if seen.contains(where: { $0.name == "x.jsonl" && $0.mask.contains(.modify) }) { break }
        }
        watchdog.cancel()
        reader.stop()
        #expect(seen.first?.descriptor == descriptor)
        #expect(seen.first?.mask.contains(.create) == true)
        #expect(seen.contains { $0.name == "x.jsonl" && $0.mask.contains(.modify) })
    }

    @Test("A burst is coalesced: the first event at once, then at most one batch per interval")
    func coalescing() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inotify = try Inotify()
        _ = try inotify.addWatch(path: directory, mask: .directoryWatch)
        let interval = 0.05
        let reader = try InotifyReader(inotify: inotify, coalescingInterval: interval)
        reader.start()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(30))
            reader.stop()
        }
        // Two files written in turn, so that no two queued events are identical and merge in the kernel; fewer
        // than the kernel queue holds (fs.inotify.max_queued_events, 16384), so none is lost to an overflow.
        let writer = Task.detached {
            let a = open(directory + "/a.jsonl", O_CREAT | O_WRONLY, 0o644)
            let b = open(directory + "/b.jsonl", O_CREAT | O_WRONLY, 0o644)
            for index in 0..<6000 { _ = write(index % 2 == 0 ? a : b, "x", 1) }
            close(a)
            close(b)
            close(open(directory + "/done", O_CREAT | O_WRONLY, 0o644))
        }
        var batches = 0
        var events = 0
        var first: UInt64 = 0
        var last: UInt64 = 0
        var finished = false
        for await batch in reader.events {
            last = MonotonicClock.nanoseconds()
            if batches == 0 { first = last }
            batches += 1
            events += batch.count
            if batch.contains(where: { $0.name == "done" || $0 == .overflow }) {
                finished = true
                break
            }
        }
        await writer.value
        watchdog.cancel()
        reader.stop()
        #expect(finished, "the last event never came")
        // Deliveries are at least `interval` apart, so the span from the first to the last bounds their number
        // (one more for the first, one for a late first delivery on a loaded machine). Without coalescing this
        // machine saw 12 to 19 deliveries where 2 were allowed.
        let span = Double(last - first) / 1e9
        #expect(batches <= Int(span / interval) + 2, "\(batches) batches, \(events) events over \(span) s")
        #expect(events > batches)
    }

    @Test("Adding a watch on a missing directory fails with ENOENT")
    func missing() throws {
        let inotify = try Inotify()
        #expect(throws: Errno(ENOENT, call: "inotify_add_watch")) {
            try inotify.addWatch(path: "/nonexistent-\(UUID())", mask: .directoryWatch)
        }
    }

    @Test("Listing gives kinds, follows symlinks, stats only what is asked, never fails on a vanished entry")
    func listing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: directory + "/a.jsonl", contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/b.txt", contents: nil)
        try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: directory + "/link", withDestinationPath: directory + "/sub")
        try FileManager.default.createSymbolicLink(atPath: directory + "/dangling", withDestinationPath: "/nope")
        var entries: [String: (kind: FileKind, status: FileStatus?)] = [:]
        let isJSONL: (UnsafeBufferPointer<UInt8>) -> Bool = { String(decoding: $0, as: UTF8.self).hasSuffix(".jsonl") }
        let never: (UnsafeBufferPointer<UInt8>) -> Bool = { _ in false }
        try LocalFileSystem().forEachEntry(in: directory, wantsStatus: isJSONL) {
            entries[$0.name] = ($0.kind, $0.status)
        }
        #expect(Set(entries.keys) == ["a.jsonl", "b.txt", "sub", "link", "dangling"])
        #expect(entries["a.jsonl"]?.kind == .regular)
        #expect(entries["a.jsonl"]?.status != nil)
        #expect(entries["b.txt"]?.status == nil)
        #expect(entries["sub"]?.kind == .directory)
        #expect(entries["link"]?.kind == .directory)
        #expect(entries["dangling"]?.kind == .other)
        #expect(throws: Errno(ENOTDIR, call: "open")) {
            try LocalFileSystem().forEachEntry(in: directory + "/b.txt", wantsStatus: never) { _ in }
        }
    }
}

@Suite("The mount table")
struct MountTableTests {
    @Test("Mounts are fields 1 and 5 of mountinfo, with the kernel's octal escapes decoded")
    func parse() {
        let table = """
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
            35 22 0:31 / /home/agent/.claude/projects/-my\\040repo rw - tmpfs tmpfs rw
            36 22 0:32 / /odd\\134name\\011x rw - tmpfs tmpfs rw
            short line
            x 22 0:33 / /no-id rw - tmpfs tmpfs rw
            37 22 0:33 / /bad\\9escape rw - tmpfs tmpfs rw

            """
        #expect(
            MountTableMonitor.mounts(in: Array(table.utf8)).map { "\($0.id) \($0.point)" } == [
                "22 /", "35 /home/agent/.claude/projects/-my repo", "36 /odd\\name\tx", "37 /bad\\9escape",
            ]
        )
    }

    @Test("This process's own mount table has / in it, and a monitor starts and stops")
    func live() throws {
        #expect(MountTableMonitor.mounts().contains { $0.point == "/" })
        let monitor = try MountTableMonitor()
        monitor.start()
        monitor.stop()
    }
}

@Suite("The inotify reader's end")
struct InotifyReaderEndTests {
    @Test("A descriptor that is not open (POLLNVAL) ends the stream instead of spinning")
    func invalidDescriptor() async throws {
        // Far above any descriptor limit here, so no other test can ever open this number.
        let reader = try InotifyReader(descriptor: 900_000)
        reader.start()
        let timedOut = Locked(false)
        let ended = Task {
            for await _ in reader.events {}
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            timedOut.withLock { $0 = true }
            ended.cancel()
        }
        await ended.value
        timeout.cancel()
        #expect(!timedOut.withLock { $0 }, "the stream did not end by itself within 20 s")
        reader.stop()
    }
}
