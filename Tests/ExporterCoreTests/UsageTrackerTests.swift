import ExporterCore
import FileWatching
import Foundation
import InMemoryLogging
import Logging
import Platform
import Testing
import TokenUsage

private let claude = "/home/agent/.claude"
private let project = claude + "/projects/-home-agent-repo"
private let session = "0b5e2c1a-1234-4abc-9def-0123456789ab"
private let transcript = project + "/" + session + ".jsonl"
private let usageExecutor = ThreadExecutor(name: "test-usage")

/// One assistant line as Claude Code writes it.
private func line(
    _ id: String,
    _ request: String,
    model: String = "claude-opus-4-5",
    input: Int = 3,
    output: Int,
    cacheCreation: Int = 100,
    cacheRead: Int = 1000
) -> String {
    let usage =
        "{\"input_tokens\":\(input),\"cache_creation_input_tokens\":\(cacheCreation),"
        + "\"cache_read_input_tokens\":\(cacheRead),\"output_tokens\":\(output)}"
    return "{\"type\":\"assistant\",\"message\":{\"id\":\"\(id)\",\"model\":\"\(model)\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"usage\":\(usage)},\"requestId\":\"\(request)\","
        + "\"timestamp\":\"2026-08-01T04:50:42.628Z\"}\n"
}

private struct UsageHarness {
    let fileSystem = FakeFileSystem()
    let store = UsageStore()
    let logs = InMemoryLogHandler()
    let tracker: UsageTracker

    init() {
        let handler = logs
        tracker = UsageTracker(
            claudeDirectories: [claude],
            fileSystem: fileSystem,
            store: store,
            executor: usageExecutor,
            logger: Logger(label: "test") { _ in handler }
        )
    }

    var usage: UsageSnapshot { store.snapshot }

    func tokens(_ model: String = "claude-opus-4-5") -> TokenCounts? {
        usage.models.first { $0.name == model }?.usage.tokens
    }

    func messages(_ model: String = "claude-opus-4-5") -> UInt64? {
        usage.models.first { $0.name == model }?.usage.messages
    }
}

@Suite("Token usage from transcripts: history, appends, replacement")
struct UsageTrackerTests {
    @Test("History: every transcript and subagent transcript, de-duplicated across files; ready only after it")
    func history() async {
        let harness = UsageHarness()
        harness.fileSystem.writeFile(transcript, line("m1", "r1", output: 1) + line("m1", "r1", output: 40))
        // A resumed session copies earlier lines into its own file: counted once.
        harness.fileSystem.writeFile(
            project + "/resumed.jsonl",
            line("m1", "r1", output: 40) + line("m2", "r2", output: 5)
        )
        harness.fileSystem.writeFile(
            project + "/" + session + "/subagents/agent-a1.jsonl",
            line("m3", "r3", model: "claude-haiku-4-5", output: 7)
        )
        #expect(!harness.usage.ready)
        await harness.tracker.readHistory()
        #expect(harness.usage.ready)
        #expect(harness.tokens() == TokenCounts(input: 6, output: 45, cacheCreation: 200, cacheRead: 2000))
        #expect(harness.messages() == 2)
        #expect(harness.tokens("claude-haiku-4-5")?.output == 7)
        #expect(harness.usage.files == 3)
        #expect(harness.logs.entries.contains { $0.message.description == "token usage history read" })
    }

    @Test("Appends: only new bytes are read; a partial last line waits for its newline")
    func appends() async {
        let harness = UsageHarness()
        harness.fileSystem.writeFile(transcript, line("m1", "r1", output: 10))
        await harness.tracker.readHistory()
        let before = harness.usage.bytesRead
        let next = line("m2", "r2", output: 20)
        let half = next.utf8.count / 2
        harness.fileSystem.appendFile(transcript, String(next.prefix(half)))
        await harness.tracker.handle(.changed([transcript]))
        #expect(harness.tokens()?.output == 10)
        harness.fileSystem.appendFile(transcript, String(next.dropFirst(half)))
        await harness.tracker.handle(.changed([transcript]))
        #expect(harness.tokens()?.output == 30)
        #expect(harness.messages() == 2)
        // The first line was read once; the partial one twice (it waited, unconsumed): nothing else.
        #expect(harness.usage.bytesRead - before == UInt64(half + next.utf8.count))
    }

    @Test("A replaced or truncated transcript is read again from its start; de-duplication keeps counts exact")
    func replacement() async {
        let harness = UsageHarness()
        harness.fileSystem.writeFile(transcript, line("m1", "r1", output: 10) + line("m2", "r2", output: 20))
        await harness.tracker.readHistory()
        harness.fileSystem.replaceFile(transcript, line("m1", "r1", output: 10) + line("m3", "r3", output: 5))
        await harness.tracker.handle(.changed([transcript]))
        #expect(harness.tokens()?.output == 35)
        #expect(harness.messages() == 3)
        // Truncated in place (same file, shorter than what was read), then written again.
        harness.fileSystem.writeFile(transcript, line("m4", "r4", output: 1))
        await harness.tracker.handle(.changed([transcript]))
        #expect(harness.tokens()?.output == 36)
        #expect(harness.logs.entries.contains { $0.message.description.contains("read again from its start") })
    }

    @Test("A repair pass reads what events missed and forgets deleted transcripts")
    func repair() async {
        let harness = UsageHarness()
        await harness.tracker.readHistory()
        harness.fileSystem.writeFile(transcript, line("m1", "r1", output: 10))
        await harness.tracker.handle(.repair)
        #expect(harness.tokens()?.output == 10)
        #expect(harness.usage.files == 1)
        harness.fileSystem.remove(transcript)
        await harness.tracker.handle(.repair)
        #expect(harness.usage.files == 0)
        #expect(harness.tokens()?.output == 10)
    }

    @Test("The context of a live session: input plus cache tokens of its transcript's newest response")
    func liveContext() async {
        let harness = UsageHarness()
        harness.fileSystem.writeFile(
            transcript,
            line("m1", "r1", input: 5, output: 10, cacheCreation: 50, cacheRead: 500)
        )
        await harness.tracker.readHistory()
        #expect(harness.usage.liveContexts.isEmpty)
        await harness.tracker.handle(.liveSessions([session, "not-a-transcript"]))
        #expect(harness.usage.liveContexts == [session: 555])
        harness.fileSystem.appendFile(
            transcript,
            line("m2", "r2", input: 1, output: 3, cacheCreation: 0, cacheRead: 900)
        )
        await harness.tracker.handle(.changed([transcript]))
        #expect(harness.usage.liveContexts == [session: 901])
        await harness.tracker.handle(.liveSessions([]))
        #expect(harness.usage.liveContexts.isEmpty)
    }

    @Test("Bad lines are counted as skipped; the good ones around them still count")
    func skipped() async {
        let harness = UsageHarness()
        harness.fileSystem.writeFile(
            transcript,
            line("m1", "r1", output: 10) + "{\"message\":{\"usage\":oops}\n" + "{\"type\":\"user\"}\n"
                + line("m2", "r2", output: 1)
        )
        await harness.tracker.readHistory()
        #expect(harness.tokens()?.output == 11)
        #expect(harness.usage.skipped[UsageLine.SkipReason.allCases.firstIndex(of: .malformed)!] == 1)
    }
}

@Suite("The transcript inbox merges notices while the reader is busy")
struct TranscriptInboxTests {
    @Test("Changed paths once each, in order; a repair covers them; the newest live sessions win")
    func merging() async {
        let inbox = TranscriptInbox()
        inbox.post(.changed(["/a", "/b"]))
        inbox.post(.changed(["/b", "/c"]))
        inbox.post(.liveSessions(["s1"]))
        inbox.post(.liveSessions(["s2"]))
        #expect(inbox.take() == [.liveSessions(["s2"]), .changed(["/a", "/b", "/c"])])
        #expect(inbox.take().isEmpty)
        inbox.post(.changed(["/a"]))
        inbox.post(.repair)
        #expect(inbox.take() == [.repair])
        // A wake-up waits (one at most), and the stream ends when finished.
        inbox.finish()
        var wakeUps = 0
        for await _ in inbox.wakeUps { wakeUps += 1 }
        #expect(wakeUps == 1)
    }
}

@Suite("Appended lines: reading a growing file in bounded pieces")
struct AppendedLinesTests {
    private func lines(_ fileSystem: FakeFileSystem, _ reader: inout AppendedLines, _ buffer: ReadBuffer) -> [String] {
        var result: [String] = []
        _ = try? reader.read("/f", fileSystem: fileSystem, buffer: buffer) { line in
            switch line {
            case .complete(let bytes): result.append(String(decoding: bytes, as: UTF8.self))
            case .tooLong: result.append("<too long>")
            }
        }
        return result
    }

    @Test("Lines split across reads of a small buffer come out whole, in order")
    func splitAcrossReads() {
        let fileSystem = FakeFileSystem()
        let text = (0..<50).map { "line \($0) " + String(repeating: "x", count: $0 * 3) }
        fileSystem.writeFile("/f", text.joined(separator: "\n") + "\n")
        var reader = AppendedLines()
        let buffer = ReadBuffer(chunk: 16, maximumLine: 1024)
        #expect(lines(fileSystem, &reader, buffer) == text)
        #expect(lines(fileSystem, &reader, buffer).isEmpty)
    }

    @Test("A line longer than the cap is reported once as too long, never held; the next lines are read")
    func tooLong() {
        let fileSystem = FakeFileSystem()
        fileSystem.writeFile("/f", "a\n" + String(repeating: "y", count: 5000) + "\nb\n")
        var reader = AppendedLines()
        let buffer = ReadBuffer(chunk: 64, maximumLine: 256)
        #expect(lines(fileSystem, &reader, buffer) == ["a", "<too long>", "b"])
        #expect(buffer.count == 64)
    }

    @Test("A line longer than the cap still being written is never read again from its start")
    func longLineInPieces() throws {
        let fileSystem = FakeFileSystem()
        fileSystem.writeFile("/f", "a\n" + String(repeating: "y", count: 200))
        var reader = AppendedLines()
        let buffer = ReadBuffer(chunk: 16, maximumLine: 64)
        #expect(lines(fileSystem, &reader, buffer) == ["a"])
        fileSystem.appendFile("/f", String(repeating: "y", count: 100))
        var count = 0
        let progress = try reader.read("/f", fileSystem: fileSystem, buffer: buffer) { _ in count += 1 }
        #expect(count == 0)
        #expect(progress.bytes == 100)
        fileSystem.appendFile("/f", "y\nb\n")
        #expect(lines(fileSystem, &reader, buffer) == ["<too long>", "b"])
    }

    @Test("A line of exactly the cap is read; one byte more is too long")
    func exactCap() {
        let fileSystem = FakeFileSystem()
        fileSystem.writeFile("/f", String(repeating: "x", count: 64) + "\n" + String(repeating: "z", count: 65) + "\n")
        var reader = AppendedLines()
        #expect(
            lines(fileSystem, &reader, ReadBuffer(chunk: 16, maximumLine: 64)) == [
                String(repeating: "x", count: 64), "<too long>",
            ]
        )
    }

    @Test("Told to stop, a read stops where it is and the next one goes on from there")
    func stopsWhenTold() throws {
        let fileSystem = FakeFileSystem()
        fileSystem.writeFile("/f", (0..<100).map { "line \($0)\n" }.joined())
        var reader = AppendedLines()
        let buffer = ReadBuffer(chunk: 16, maximumLine: 64)
        var chunks = 0
        var first: [String] = []
        let threeChunks: () -> Bool = {
            chunks += 1
            return chunks <= 3
        }
        _ = try reader.read("/f", fileSystem: fileSystem, buffer: buffer, shouldContinue: threeChunks) { line in
            if case .complete(let bytes) = line { first.append(String(decoding: bytes, as: UTF8.self)) }
        }
        #expect(!first.isEmpty && first.count < 100)
        #expect(first + lines(fileSystem, &reader, buffer) == (0..<100).map { "line \($0)" })
    }

    @Test("With a window, a file that grew by more than it is read only near its end, the cut line skipped")
    func window() throws {
        let fileSystem = FakeFileSystem()
        fileSystem.writeFile("/f", "first\n")
        var reader = AppendedLines()
        let buffer = ReadBuffer(chunk: 16, maximumLine: 64)
        #expect(lines(fileSystem, &reader, buffer) == ["first"])
        fileSystem.appendFile("/f", (0..<1000).map { "line \($0)\n" }.joined())
        var seen: [String] = []
        let progress = try reader.read("/f", fileSystem: fileSystem, buffer: buffer, window: 30) { line in
            if case .complete(let bytes) = line { seen.append(String(decoding: bytes, as: UTF8.self)) }
        }
        #expect(progress.bytes <= 30)
        #expect(seen == ["line 997", "line 998", "line 999"])
    }

    @Test("A partial line is not consumed: the offset stays at its start until the newline comes")
    func partial() {
        let fileSystem = FakeFileSystem()
        fileSystem.writeFile("/f", "one\ntw")
        var reader = AppendedLines()
        let buffer = ReadBuffer(chunk: 8, maximumLine: 64)
        #expect(lines(fileSystem, &reader, buffer) == ["one"])
        #expect(reader.offset == 4)
        fileSystem.appendFile("/f", "o\nthree\n")
        #expect(lines(fileSystem, &reader, buffer) == ["two", "three"])
        #expect(reader.offset == 14)
    }
}
