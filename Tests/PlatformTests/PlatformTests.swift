import Platform
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Platform helpers")
struct PlatformTests {
    @Test("Field 22 of /proc/<pid>/stat, with spaces and parentheses in the command name")
    func procStat() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200"
        #expect(ProcStat.startTicks(Array(line.utf8)) == 98_765)
        #expect(ProcStat.startTicks(Array("garbage".utf8)) == nil)
        #expect(ProcStat.bootTime(Array("cpu 1 2\nbtime 1700000000\nprocesses 5\n".utf8)) == 1_700_000_000)
    }

    @Test("This process's statistics are plausible")
    func statistics() throws {
        let statistics = ProcessStatistics.current()
        #expect(statistics.residentMemoryBytes > 1_000_000)
        #expect(statistics.openFileDescriptors >= 3)
        #expect(statistics.maxFileDescriptors >= statistics.openFileDescriptors)
        let start = try #require(ProcessStatistics.startTime())
        #expect(abs(start - Timestamp.now().secondsSinceEpoch) < 3600)
    }

    @Test("Timestamp arithmetic carries nanoseconds")
    func timestamps() {
        let t = Timestamp(seconds: 10, nanoseconds: 900_000_000)
        #expect(t.adding(seconds: 0.2) == Timestamp(seconds: 11, nanoseconds: 100_000_000))
        #expect(t.adding(seconds: 0.2).seconds(since: t) == 0.2)
        #expect(t.secondsSinceEpoch == 10.9)
        #expect(Timestamp(seconds: 1) < t)
    }

    @Test("Errno names and messages")
    func errnoText() {
        #expect(Errno(ENOENT, call: "open").description == "open: No such file or directory (ENOENT)")
        #expect(Errno(ENOSPC).name == "ENOSPC")
        // Equal only when both the number and the call are.
        #expect(Errno(ENOENT, call: "open") != Errno(ENOENT, call: "stat"))
        #expect(Set([Errno(ENOENT, call: "open"), Errno(ENOENT, call: "stat")]).count == 2)
        #expect(throws: Errno(ENOENT, call: "open")) {
            try Syscall.retrying("open") { open("/nonexistent/x", O_RDONLY) }
        }
    }

    @Test("IP literals only; brackets allowed for IPv6")
    func addresses() {
        #expect(IPAddress.family(of: "127.0.0.1") == AF_INET)
        #expect(IPAddress.family(of: "[::1]") == AF_INET6)
        #expect(IPAddress.family(of: "localhost") == nil)
    }

    @Test("Small files are read whole, and longer ones are cut at the limit")
    func smallFile() throws {
        let cut = try SmallFile.read("/proc/self/stat", limit: 4)
        #expect(cut.bytes.count == 4)
        #expect(cut.truncated)
        let whole = try SmallFile.read("/proc/self/stat", limit: 4096)
        #expect(!whole.truncated && whole.bytes.count > 20)
    }

    @Test("Small files: a FIFO, a device or a directory is refused at once; a symbolic link is not followed")
    func smallFileRefusesSpecialFiles() throws {
        var template = Array("/tmp/cme-smallfile-XXXXXX".utf8CString)
        let folder = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer {
            for name in ["fifo.json", "file.json", "link.json"] { unlink(folder + "/" + name) }
            rmdir(folder)
        }
        let fifo = folder + "/fifo.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        // A FIFO with no writer would block a plain open(2) forever; this returns at once.
        #expect(throws: Errno(SmallFile.notRegular, call: "open (not a regular file)")) { try SmallFile.read(fifo) }
        #expect(throws: Errno(SmallFile.notRegular, call: "open (not a regular file)")) {
            try SmallFile.read("/dev/zero")
        }
        #expect(throws: Errno(SmallFile.notRegular, call: "open (not a regular file)")) { try SmallFile.read(folder) }
        let regular = folder + "/file.json"
        let fd = open(regular, O_CREAT | O_WRONLY, 0o644)
        #expect(write(fd, String(repeating: "x", count: 100), 100) == 100)
        close(fd)
        let link = folder + "/link.json"
        #expect(symlink(regular, link) == 0)
        #expect(throws: Errno(ELOOP, call: "open")) { try SmallFile.read(link) }
        let read = try SmallFile.read(regular, limit: 10)
        #expect(read.bytes.count == 10 && read.truncated)
        #expect(try SmallFile.read(regular, limit: 100).truncated == false)
    }
}

@Suite("Quoting for messages and logs")
struct QuotingTests {
    @Test("Readable quoting shows control characters; JSON quoting is a valid JSON string literal")
    func styles() {
        let text = "a\"b\\c\nd\te\u{1}f\u{7F}"
        #expect(Quoting.quoted(text) == #""a\"b\\c\nd\te\u{1}f\u{7f}""#)
        #expect(Quoting.quoted(text, style: .json) == "\"a\\\"b\\\\c\\nd\\te\\u0001f\u{7F}\"")
    }

    @Test("key=value values are quoted only when they need it")
    func ifNeeded() {
        #expect(Quoting.quotedIfNeeded("transcripts") == "transcripts")
        #expect(Quoting.quotedIfNeeded("") == "\"\"")
        #expect(Quoting.quotedIfNeeded("/a b/c") == "\"/a b/c\"")
    }
}
