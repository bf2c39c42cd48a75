import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mkdir -p` for a path given as raw bytes (names that are not UTF-8 cannot be spelled as a `String`).
private func makeDirectory(_ path: [UInt8]) {
    _ = (path + [0]).withUnsafeBufferPointer {
        mkdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 0o755)
    }
}

/// Creates an empty file at a path given as raw bytes.
private func makeFile(_ path: [UInt8]) {
    let fd = (path + [0]).withUnsafeBufferPointer {
        open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644)
    }
    if fd >= 0 { close(fd) }
}

private func move(_ from: String, _ to: String) throws {
    guard rename(from, to) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
}

/// Everything about a tree that a write would change: per path, its type, mode, owner, size, mtime, ctime,
/// symlink target and content. Access times are left out (reading a registry file may update them).
private func fingerprint(_ root: String) -> [String: String] {
    var result: [String: String] = [:]
    var paths = [root]
    while let path = paths.popLast() {
        var info = stat()
        guard lstat(path, &info) == 0 else { continue }
        var entry =
            "\(info.st_mode) \(info.st_uid):\(info.st_gid) \(info.st_size) "
            + "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)"
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            entry += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
        case S_IFDIR:
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                paths.append(path + "/" + name)
            }
        default:
            let data = FileManager.default.contents(atPath: path) ?? Data()
            entry +=
                " crc \(data.reduce(into: UInt64(14_695_981_039_346_656_037)) { $0 = ($0 ^ UInt64($1)) &* 1_099_511_628_211 })"
        }
        result[path] = entry
    }
    return result
}

@Suite("The real binary under filesystem faults", .serialized)
struct FilesystemFaultTests {
    @Test("Hundreds of thousands of events while the exporter is stopped: overflow counted, rescan, right counts")
    func queueOverflow() async throws {
        let tree = try TemporaryTree()
        let project = ".claude/projects/-r"
        let original = (0..<50).map { _ in uuid() }
        for name in original { try tree.append("\(project)/\(name).jsonl") }
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "3600"]
        )
        try await exporter.waitForMetrics("50 sessions") { $0[Series.sessions] == 50 }

        // The reader is paused with the whole process; the kernel queue (fs.inotify.max_queued_events) overflows.
        kill(exporter.process.processIdentifier, SIGSTOP)
        let limit =
            Int(
                (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            ) ?? 16384
        // Alternating between two files, so that no two queued events are identical (those would coalesce).
        let a = open(tree.root + "/\(project)/\(original[0]).jsonl", O_WRONLY | O_APPEND)
        let b = open(tree.root + "/\(project)/\(original[1]).jsonl", O_WRONLY | O_APPEND)
        let events = min(max(300_000, limit * 3), 3_000_000)
        for index in 0..<events { _ = write(index % 2 == 0 ? a : b, "x", 1) }
        close(a)
        close(b)
        for _ in 0..<2000 { try tree.append("\(project)/\(uuid()).jsonl") }
        for name in original.suffix(10) { try tree.remove("\(project)/\(name).jsonl") }
        kill(exporter.process.processIdentifier, SIGCONT)

        try await exporter.waitForMetrics("overflow counted and counts repaired", timeout: 60) {
            ($0["claude_exporter_inotify_overflows_total"] ?? 0) >= 1 && $0[Series.sessions] == 2040
        }
        #expect(exporter.log.contains("overflow"))
        #expect(exporter.process.isRunning)
    }

    @Test("A project folder renamed, moved out, and moved in with files inside: followed at once, by events")
    func renamesAndMoves() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-a/\(uuid()).jsonl")
        try tree.append(".claude/projects/-a/\(uuid()).jsonl")
        for _ in 0..<3 { try tree.append("outside/-b/\(uuid()).jsonl") }
        // A rescan an hour away: everything below must come from events.
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "3600"]
        )
        try await exporter.waitForMetrics("2 sessions") { $0[Series.sessions] == 2 }

        try move(tree.projects + "/-a", tree.projects + "/-renamed")
        try await Task.sleep(for: .milliseconds(200))
        #expect(try exporter.metrics()[Series.sessions] == 2)
        // The renamed folder is still watched, under its new name.
        try tree.append(".claude/projects/-renamed/\(uuid()).jsonl")
        try await exporter.waitForMetrics("a session in the renamed folder counted") { $0[Series.sessions] == 3 }

        try move(tree.root + "/outside/-b", tree.projects + "/-b")
        try await exporter.waitForMetrics("a folder moved in with 3 sessions counted") { $0[Series.sessions] == 6 }
        try tree.append(".claude/projects/-b/\(uuid()).jsonl")
        try await exporter.waitForMetrics("the moved-in folder is watched") { $0[Series.sessions] == 7 }

        try move(tree.projects + "/-renamed", tree.root + "/outside/-gone")
        try await exporter.waitForMetrics("a folder moved out is uncounted") { $0[Series.sessions] == 4 }
        // What happens in the moved-out folder is no longer activity.
        let before = try exporter.metrics()[Series.timestamp] ?? 0
        try await Task.sleep(for: .milliseconds(1100))
        try tree.append("outside/-gone/\(uuid()).jsonl")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try exporter.metrics()[Series.timestamp] == before)
        #expect(try exporter.metrics()[Series.sessions] == 4)
    }

    @Test("projects/, then the whole Claude directory, deleted and recreated")
    func deletedAndRecreated() async throws {
        let tree = try TemporaryTree()
        for _ in 0..<3 { try tree.append(".claude/projects/-r/\(uuid()).jsonl") }
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "3600"]
        )
        try await exporter.waitForMetrics("3 sessions") { $0[Series.sessions] == 3 }
        try tree.remove(".claude/projects")
        try await exporter.waitForMetrics("projects/ deleted: 0") { $0[Series.sessions] == 0 }
        try tree.append(".claude/projects/-x/\(uuid()).jsonl")
        try await exporter.waitForMetrics("projects/ recreated: 1") { $0[Series.sessions] == 1 }
        try tree.remove(".claude")
        try await exporter.waitForMetrics("Claude directory deleted: 0, still healthy") {
            $0[Series.sessions] == 0 && $0[Series.healthy] == 1
        }
        try tree.append(".claude/projects/-y/\(uuid()).jsonl")
        try tree.append(".claude/projects/-y/\(uuid()).jsonl")
        try await exporter.waitForMetrics("Claude directory recreated: 2") { $0[Series.sessions] == 2 }
        try tree.append(".claude/projects/-z/\(uuid()).jsonl")
        try await exporter.waitForMetrics("and watched again") { $0[Series.sessions] == 3 }
    }

    @Test("A project folder with mode 000 is skipped without harm, and counted once it is readable")
    func unreadableProject() async throws {
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-open/\(uuid()).jsonl")
        try tree.append(".claude/projects/-locked/\(uuid()).jsonl")
        try tree.append(".claude/projects/-locked/\(uuid()).jsonl")
        chmod(tree.root, 0o755)
        chmod(tree.projects + "/-locked", 0o000)
        defer { chmod(tree.projects + "/-locked", 0o755) }
        // root reads anything, so run the exporter as nobody when the tests run as root.
        let prefix = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "1"],
            prefix: prefix
        )
        try await exporter.waitForMetrics("the readable folder counted, still healthy") {
            $0[Series.sessions] == 1 && $0[Series.healthy] == 1
        }
        #expect(exporter.log.contains("-locked"))
        chmod(tree.projects + "/-locked", 0o755)
        try await exporter.waitForMetrics("counted once readable", timeout: 30) { $0[Series.sessions] == 3 }
    }

    @Test("Symlink loops are not followed forever; a symlinked projects/ is counted and watched")
    func symlinks() async throws {
        let tree = try TemporaryTree()
        for _ in 0..<2 { try tree.append("elsewhere/projects/-r/\(uuid()).jsonl") }
        try FileManager.default.createDirectory(atPath: tree.claude, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tree.projects, withDestinationPath: "../elsewhere/projects")
        let real = tree.root + "/elsewhere/projects"
        // A session-named link to its own folder, one to the folder above, a link to itself, a dangling one.
        try FileManager.default.createSymbolicLink(atPath: real + "/-r/\(uuid())", withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: real + "/-r/\(uuid())", withDestinationPath: "..")
        try FileManager.default.createSymbolicLink(atPath: real + "/-self", withDestinationPath: "-self")
        try FileManager.default.createSymbolicLink(atPath: real + "/-dangling", withDestinationPath: "/nonexistent")
        try FileManager.default.createSymbolicLink(atPath: real + "/-up", withDestinationPath: "..")
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "1"]
        )
        try await exporter.waitForMetrics("2 sessions through the symlinked projects/") { $0[Series.sessions] == 2 }
        try tree.append("elsewhere/projects/-r/\(uuid()).jsonl")
        try await exporter.waitForMetrics("a new one through the link") { $0[Series.sessions] == 3 }
        // Several rescans over the loops, and still the same truth.
        try await Task.sleep(for: .seconds(2.5))
        #expect(try exporter.metrics()[Series.sessions] == 3)
        #expect(exporter.process.isRunning)
    }

    @Test("Names with a newline, quotes, a backslash or bytes that are not UTF-8 never reach the output")
    func hostileNames() async throws {
        let tree = try TemporaryTree()
        let weird = ["-new\nline", "-quo\"te", "-back\\slash", "-tab\there", "-brace}{=\"", "-# HELP x"]
        for folder in weird { try tree.append(".claude/projects/\(folder)/\(uuid()).jsonl") }
        let projects = Array(tree.projects.utf8)
        // Not UTF-8: a project folder and a file name. Neither can be named in the output; neither is counted.
        makeDirectory(projects + Array("/-".utf8) + [0xFF, 0xFE, 0x0A])
        makeFile(projects + Array("/-".utf8) + [0xFF, 0xFE, 0x0A] + Array("/\(uuid()).jsonl".utf8))
        makeFile(projects + Array("/-r".utf8) + [0x2F, 0xC3, 0x28] + Array(".jsonl".utf8))
        try tree.append(".claude/projects/-r/\(uuid())\n.jsonl")  // not a session name
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "1"]
        )
        try await exporter.waitForMetrics("the six sessions in oddly named folders") {
            $0[Series.sessions] == Double(weird.count)
        }
        // The same once more from events, and after rescans.
        try tree.append(".claude/projects/-new\nline/\(uuid()).jsonl")
        try await exporter.waitForMetrics("one more") { $0[Series.sessions] == Double(weird.count + 1) }
        try await Task.sleep(for: .seconds(2.5))
        let response = try #require(try RawHTTPClient.get("/metrics", port: exporter.port))
        #expect(metricSamples(response.body)[Series.sessions] == Double(weird.count + 1))
        for line in response.body.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let valid =
                line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ")
                || line.wholeMatch(of: /[a-z_]+(\{([a-z_]+="[^"\\\n]*",?)*\})? [-+0-9.e]+/) != nil
            #expect(valid, "not a valid exposition line: \(line)")
        }
        for fragment in ["-new", "-quo", "-back", "-tab", "-brace", "HELP x", "\u{FFFD}"] {
            #expect(!response.body.contains(fragment), "\(fragment) leaked into the output")
        }
        // The log shows such names escaped, one entry per line.
        #expect(!exporter.log.contains("-new\nline"))
    }

    @Test("A file appended a million times: events coalesce, CPU and memory stay bounded")
    func millionAppends() async throws {
        let tree = try TemporaryTree()
        let transcript = ".claude/projects/-r/\(uuid()).jsonl"
        try tree.append(transcript)
        let exporter = try await ExporterProcess(
            environment: [
                "CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "3600",
                "LOG_LEVEL": "info",
            ]
        )
        let pid = exporter.pid
        _ = try exporter.metrics()
        let before = usage(of: pid)
        let fd = open(tree.root + "/" + transcript, O_WRONLY | O_APPEND)
        for _ in 0..<1_000_000 { _ = write(fd, "x\n", 2) }
        close(fd)
        var info = stat()
        stat(tree.root + "/" + transcript, &info)
        let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        try await exporter.waitForMetrics("the last append's time", timeout: 30) {
            abs(($0[Series.timestamp] ?? 0) - mtime) < 0.001
        }
        let after = usage(of: pid)
        let events = try exporter.metrics()["claude_exporter_events_total"] ?? 0
        print(
            "million appends: exporter CPU \(after.cpuSeconds - before.cpuSeconds) s, RSS \(before.rssBytes) -> \(after.rssBytes) bytes, \(Int(events)) events"
        )
        // Generous bounds for a slow, shared machine; `make bench` has the strict figures.
        #expect(after.cpuSeconds - before.cpuSeconds < 10)
        #expect(after.rssBytes - before.rssBytes < 8 << 20)
        #expect(events < 1_000_000)
    }

    @Test(
        "The kernel's watch limit reached (3 watches, in a user namespace): degraded, visible, no retry loop",
        .enabled(if: FileManager.default.fileExists(atPath: "/proc/sys/user/max_inotify_watches"))
    )
    func realWatchLimit() async throws {
        let tree = try TemporaryTree()
        for project in 0..<5 { try tree.append(".claude/projects/-p\(project)/\(uuid()).jsonl") }
        // The limit is per user namespace (Linux 5.11+): a namespace of its own, limited to 3 watches.
        let limited = "echo 3 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\""
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "1"],
            prefix: ["/usr/bin/unshare", "--user", "--map-root-user", "/bin/sh", "-c", limited]
        )
        try await exporter.waitForMetrics("5 sessions, watch errors counted") {
            $0[Series.sessions] == 5 && ($0["claude_exporter_watch_errors_total"] ?? 0) > 0
                && $0["claude_exporter_watches"] == 3
        }
        #expect(exporter.log.contains("watch limit") && exporter.log.contains("max_user_watches"))
        // New sessions in folders without a watch are counted by the rescans.
        for project in 0..<5 { try tree.append(".claude/projects/-p\(project)/\(uuid()).jsonl") }
        try await exporter.waitForMetrics("10 sessions", timeout: 30) { $0[Series.sessions] == 10 }
        // Degraded, not busy: three seconds of rescans every second cost little CPU.
        let before = usage(of: exporter.pid).cpuSeconds
        try await Task.sleep(for: .seconds(3))
        let cpu = usage(of: exporter.pid).cpuSeconds - before
        #expect(cpu < 1, "\(cpu) s of CPU in 3 s")
        let limitErrors = exporter.log.split(separator: "\n").filter { $0.contains("watch limit") }
        #expect(limitErrors.count == 1, "the watch limit is logged once, not per rescan")
    }

    @Test("A Kubernetes-style ..data symlink swap over the watched folder converges to the new contents")
    func dataSymlinkSwap() async throws {
        let tree = try TemporaryTree()
        // What a projected volume looks like: ..v1/ holds the data, ..data -> ..v1, projects -> ..data/projects.
        for _ in 0..<2 { try tree.append(".claude/..v1/projects/-r/\(uuid()).jsonl") }
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: tree.claude + "/..data", withDestinationPath: "..v1")
        try manager.createSymbolicLink(atPath: tree.projects, withDestinationPath: "..data/projects")
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "1"]
        )
        try await exporter.waitForMetrics("2 sessions through ..data") { $0[Series.sessions] == 2 }
        // The kubelet's swap: new folder, a new link renamed over ..data, the old folder removed.
        for _ in 0..<3 { try tree.append(".claude/..v2/projects/-r/\(uuid()).jsonl") }
        try manager.createSymbolicLink(atPath: tree.claude + "/..data_tmp", withDestinationPath: "..v2")
        try move(tree.claude + "/..data_tmp", tree.claude + "/..data")
        try tree.remove(".claude/..v1")
        try await exporter.waitForMetrics("the new contents", timeout: 30) { $0[Series.sessions] == 3 }
        try tree.append(".claude/..v2/projects/-r/\(uuid()).jsonl")
        try await exporter.waitForMetrics("and what changes there", timeout: 30) { $0[Series.sessions] == 4 }
    }

    @Test("USAGE_METRICS=off opens no transcript (traced); on, transcripts are opened read-only")
    func usageOffOpensNoTranscript() throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace missing: make test installs it")
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        try tree.append(".claude/projects/-r/\(uuid())/subagents/agent-1.jsonl")
        for setting in ["off", "on"] {
            let trace = NSTemporaryDirectory() + "cme-strace-\(UUID().uuidString).txt"
            defer { try? FileManager.default.removeItem(atPath: trace) }
            let (status, _, _) = try runExporter(
                ["-f", "-qq", "-s", "512", "-e", "trace=open,openat,openat2", "-o", trace, exporterBinary, "--once"],
                environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "USAGE_METRICS": setting],
                executable: strace
            )
            #expect(status == 0)
            let opened = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
                .filter { $0.contains(tree.projects) && $0.contains(".jsonl") && !$0.contains("O_DIRECTORY") }
            if setting == "off" {
                #expect(opened.isEmpty, "transcripts opened with USAGE_METRICS=off:\n\(opened.joined(separator: "\n"))")
            } else {
                #expect(opened.count == 2, "\(opened)")
                #expect(opened.allSatisfy { $0.contains("O_RDONLY") })
            }
        }
    }

    @Test("Nothing is ever written into the watched trees: fingerprints before and after, and every syscall traced")
    func readOnly() async throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace missing: make test installs it")
        let tree = try TemporaryTree()
        try tree.append(".claude/projects/-r/\(uuid()).jsonl")
        try tree.append(".claude/projects/-r/\(uuid())/subagents/agent-1.jsonl")
        try tree.append(".claude/history.jsonl")
        try tree.append(".happy/logs/2026-11-26.log")
        let pid = getpid()
        try tree.append(
            ".claude/sessions/\(pid).json",
            #"{"pid":\#(pid),"sessionId":"s","cwd":"/","status":"busy","procStart":"1","statusUpdatedAt":1}"#
        )
        let before = fingerprint(tree.root)
        let trace = NSTemporaryDirectory() + "cme-strace-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let exporter = try await ExporterProcess(
            environment: ["CLAUDE_DIR": tree.claude, "HAPPY_DIR": tree.happy, "UPDATE_INTERVAL_SECONDS": "0.5"],
            prefix: [strace, "-f", "-y", "-qq", "-s", "256", "-o", trace]
        )
        // Scrapes, every page, reloads and rescans (every tenth is a deep one).
        for _ in 0..<3 {
            _ = try exporter.metrics()
            _ = try RawHTTPClient.get("/", port: exporter.port)
            _ = try RawHTTPClient.get("/health", port: exporter.port)
            kill(exporter.pid, SIGHUP)
            try await Task.sleep(for: .seconds(2))
        }
        try await exporter.waitForMetrics("the rescans ran", timeout: 30) {
            ($0["claude_exporter_rescans_total"] ?? 0) >= 10
        }
        #expect(await exporter.stop() == 0)
        #expect(fingerprint(tree.root) == before)

        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let inTree = lines.filter { $0.contains(tree.root) }
        // The trace did see the tree (a test that cannot fail proves nothing).
        #expect(inTree.contains { $0.contains("inotify_add_watch(") })
        #expect(inTree.contains { $0.contains("getdents64(") })
        // A write-like call touches the tree when its descriptor (strace -y shows `fd<path>`) or a path argument
        // is in it; for write(2) and its kind only the descriptor counts (the log's text names the tree too).
        let byDescriptor = [
            "write(", "pwrite64(", "writev(", "pwritev(", "pwritev2(", "sendfile(", "ftruncate(",
            "fallocate(", "fchmod(", "fchown(", "fsetxattr(", "fremovexattr(", "futimens(", "copy_file_range(",
        ]
        let byPath = [
            "mkdir", "rmdir(", "unlink", "rename", "link(", "linkat(", "symlink", "chmod(", "fchmodat",
            "chown(", "lchown(", "fchownat(", "truncate(", "utime", "setxattr(", "lsetxattr(", "removexattr(",
            "lremovexattr(", "mknod", "open_by_handle_at(",
        ]
        let writeFlags = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"]
        let violations = lines.filter { line in
            let call = line.drop { $0.isNumber || $0 == " " }
            if byDescriptor.contains(where: { call.hasPrefix($0) }) {
                let firstArgument = call.drop { $0 != "(" }.prefix { $0 != "," }
                return firstArgument.contains("<" + tree.root)
            }
            guard line.contains(tree.root) else { return false }
            if call.hasPrefix("open") { return writeFlags.contains { line.contains($0) } }
            return byPath.contains { call.hasPrefix($0) }
        }
        #expect(violations.isEmpty, "calls that write into the tree:\n\(violations.prefix(10).joined(separator: "\n"))")
    }
}
