import Foundation
import Testing

@testable import TokenUsage

/// An assistant line as Claude Code writes it (one per content block), with the fields ccusage reads.
func assistantLine(
    id: String? = "msg_01",
    requestId: String? = "req_01",
    model: String? = "claude-sonnet-4-5",
    input: Int = 10,
    output: Int = 20,
    cacheCreation: Int? = 30,
    cacheRead: Int? = 40,
    text: String = "hello",
    extra: String = ""
) -> String {
    var usage = "\"input_tokens\":\(input)"
    if let cacheCreation { usage += ",\"cache_creation_input_tokens\":\(cacheCreation)" }
    if let cacheRead { usage += ",\"cache_read_input_tokens\":\(cacheRead)" }
    usage +=
        ",\"cache_creation\":{\"ephemeral_5m_input_tokens\":0},\"output_tokens\":\(output),\"service_tier\":\"standard\""
    var message = "{"
    if let model { message += "\"model\":\"\(model)\"," }
    if let id { message += "\"id\":\"\(id)\"," }
    message += "\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"\(text)\"}],"
    message += "\"stop_reason\":null,\"usage\":{\(usage)}}"
    var line =
        "{\"parentUuid\":\"p\",\"isSidechain\":false,\"sessionId\":\"s\",\"version\":\"2.1.3\",\"message\":\(message)"
    if let requestId { line += ",\"requestId\":\"\(requestId)\"" }
    line += ",\"type\":\"assistant\",\"uuid\":\"u\",\"timestamp\":\"2026-08-01T04:50:42.628Z\"\(extra)}"
    return line
}

func verdict(_ line: String) -> UsageLine.Verdict { UsageLine.read(Array(line.utf8)) }

func record(_ line: String) -> UsageRecord? {
    if case .usage(let record) = verdict(line) { return record }
    return nil
}

@Suite("A transcript line's usage, by ccusage's rules")
struct UsageLineTests {
    @Test("An assistant line gives its model, four counts and a response key")
    func assistant() throws {
        let usage = try #require(record(assistantLine()))
        #expect(usage.model == "claude-sonnet-4-5")
        #expect(usage.tokens == TokenCounts(input: 10, output: 20, cacheCreation: 30, cacheRead: 40))
        #expect(usage.response == ResponseHash.of(id: Array("msg_01".utf8), requestId: Array("req_01".utf8)))
        #expect(usage.tokens.context == 80)
    }

    @Test("Optional cache counts are zero when absent; a missing model is nil (rendered unknown)")
    func optionalFields() throws {
        let usage = try #require(record(assistantLine(model: nil, cacheCreation: nil, cacheRead: nil)))
        #expect(usage.model == nil)
        #expect(usage.tokens == TokenCounts(input: 10, output: 20))
    }

    @Test("Without message.id or requestId there is no response key (each such line counts)")
    func noKey() throws {
        #expect(try #require(record(assistantLine(id: nil))).response == nil)
        #expect(try #require(record(assistantLine(requestId: nil))).response == nil)
    }

    @Test("speed fast names the model <model>-fast, as ccusage prices it; another speed is a schema error")
    func speed() throws {
        let fast = assistantLine().replacingOccurrences(
            of: "\"service_tier\"",
            with: "\"speed\":\"fast\",\"service_tier\""
        )
        #expect(try #require(record(fast)).model == "claude-sonnet-4-5-fast")
        let odd = assistantLine().replacingOccurrences(
            of: "\"service_tier\"",
            with: "\"speed\":\"warp\",\"service_tier\""
        )
        #expect(verdict(odd) == .skipped(.schema))
    }

    @Test("Lines without usage are irrelevant, whether or not they parse")
    func irrelevant() {
        #expect(verdict(#"{"type":"user","message":{"role":"user","content":"hi"}}"#) == .irrelevant)
        #expect(verdict("not json at all") == .irrelevant)
        #expect(verdict("") == .irrelevant)
        // `usage` elsewhere than message.usage (a Task tool's result) counts nothing, and is not an error.
        #expect(
            verdict(#"{"type":"user","toolUseResult":{"usage":{"input_tokens":5,"output_tokens":6}},"message":{}}"#)
                == .irrelevant
        )
    }

    @Test("Text that looks like usage inside a string counts nothing")
    func usageInsideString() {
        let line =
            #"{"type":"user","message":{"role":"user","content":"{\"usage\":{\"input_tokens\":99,\"output_tokens\":1}}"},"timestamp":"2026-08-01T04:50:42.628Z"}"#
        #expect(verdict(line) == .irrelevant)
        let quoted = assistantLine(text: #"\"usage\":{\"input_tokens\":1000000,\"output_tokens\":5}"#)
        #expect(try! #require(record(quoted)).tokens.input == 10)
    }

    @Test("Malformed JSON that names usage is skipped as malformed")
    func malformed() {
        let good = assistantLine()
        #expect(verdict(String(good.dropLast())) == .skipped(.malformed))
        #expect(verdict(good + "x") == .skipped(.malformed))
        #expect(verdict(good.replacingOccurrences(of: "hello", with: "a\u{01}b")) == .skipped(.malformed))
        #expect(verdict(good.replacingOccurrences(of: "hello", with: #"bad \q escape"#)) == .skipped(.malformed))
        #expect(verdict(good.replacingOccurrences(of: ":10,", with: ":010,")) == .skipped(.malformed))
        var invalidUTF8 = Array(good.utf8)
        let at = invalidUTF8.firstIndex(of: UInt8(ascii: "h"))!
        invalidUTF8[at] = 0xC0
        #expect(UsageLine.read(invalidUTF8) == .skipped(.malformed))
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(
            verdict(good.replacingOccurrences(of: "\"uuid\":\"u\"", with: "\"uuid\":\(deep)")) == .skipped(.malformed)
        )
    }

    @Test("ccusage's schema: required and typed fields, or the line is skipped as schema")
    func schema() {
        let good = assistantLine()
        #expect(
            verdict(good.replacingOccurrences(of: "\"input_tokens\":10", with: "\"input_tokens\":\"10\""))
                == .skipped(.schema)
        )
        #expect(verdict(good.replacingOccurrences(of: ",\"output_tokens\":20", with: "")) == .skipped(.schema))
        #expect(
            verdict(good.replacingOccurrences(of: "\"input_tokens\":10", with: "\"input_tokens\":1.5"))
                == .skipped(.schema)
        )
        #expect(
            verdict(good.replacingOccurrences(of: "\"input_tokens\":10", with: "\"input_tokens\":-1"))
                == .skipped(.schema)
        )
        #expect(
            verdict(
                good.replacingOccurrences(
                    of: "\"cache_read_input_tokens\":40",
                    with: "\"cache_read_input_tokens\":null"
                )
            ) == .skipped(.schema)
        )
        #expect(
            verdict(good.replacingOccurrences(of: ",\"timestamp\":\"2026-08-01T04:50:42.628Z\"", with: ""))
                == .skipped(.schema)
        )
        #expect(
            verdict(good.replacingOccurrences(of: "04:50:42.628Z", with: "04:50:42.628+00:00")) == .skipped(.schema)
        )
        #expect(
            verdict(good.replacingOccurrences(of: "\"version\":\"2.1.3\"", with: "\"version\":\"two\""))
                == .skipped(.schema)
        )
        #expect(verdict(good.replacingOccurrences(of: "\"msg_01\"", with: "\"\"")) == .skipped(.schema))
        #expect(verdict(good.replacingOccurrences(of: "\"req_01\"", with: "7")) == .skipped(.schema))
        #expect(
            verdict(
                good.replacingOccurrences(of: "\"usage\":{", with: "\"usage\":[{").replacingOccurrences(
                    of: "standard\"}}",
                    with: "standard\"}]}"
                )
            ) == .skipped(.schema)
        )
        // Seconds without milliseconds pass ccusage's pattern.
        #expect(record(good.replacingOccurrences(of: "04:50:42.628Z", with: "04:50:42Z")) != nil)
        #expect(
            record(good.replacingOccurrences(of: "\"version\":\"2.1.3\"", with: "\"version\":\"2.1.3-beta\"")) != nil
        )
        #expect(record(assistantLine(extra: ",\"costUSD\":0.25,\"isApiErrorMessage\":false")) != nil)
        #expect(verdict(assistantLine(extra: ",\"costUSD\":\"free\"")) == .skipped(.schema))
        #expect(verdict(assistantLine(extra: ",\"isApiErrorMessage\":1")) == .skipped(.schema))
    }

    @Test("Duplicate keys: the last wins, a later message replacing all of an earlier one (as Python's json)")
    func duplicateKeys() throws {
        let line = assistantLine()
        let replaced = String(line.dropLast()) + #","message":{"role":"user","content":"x"}}"#
        #expect(verdict(replaced) == .irrelevant)
        let twice = line.replacingOccurrences(of: "\"input_tokens\":10", with: "\"input_tokens\":1,\"input_tokens\":10")
        #expect(try #require(record(twice)).tokens.input == 10)
    }

    @Test("Escaped keys and wanted strings are decoded: a model with escapes, a key spelled with \\u")
    func escapes() throws {
        let model = try #require(record(assistantLine(model: #"claude\u002dx\"y"#)))
        #expect(model.model == "claude-x\"y")
        let escapedKey = assistantLine().replacingOccurrences(of: "\"output_tokens\"", with: #""output_\u0074okens""#)
        #expect(try #require(record(escapedKey)).tokens.output == 20)
        #expect(verdict(assistantLine(model: #"bad\ud800"#)) == .skipped(.schema))
        // Decoded, then not printable ASCII: other.
        #expect(try #require(record(assistantLine(model: #"emoji\ud83d\ude00"#))).model == "other")
        #expect(try #require(record(assistantLine(model: #"a\u0041"#))).model == "aA")
    }

    @Test("A model name that is no model's (too long, not printable ASCII) is counted as other, never copied")
    func oddModelNames() throws {
        #expect(try #require(record(assistantLine(model: String(repeating: "m", count: 128)))).model?.count == 128)
        #expect(try #require(record(assistantLine(model: String(repeating: "m", count: 129)))).model == "other")
        #expect(try #require(record(assistantLine(model: #"tab\tmodel"#))).model == "other")
        #expect(try #require(record(assistantLine(model: "modèle"))).model == "other")
        let fast = assistantLine(model: String(repeating: "m", count: 500))
            .replacingOccurrences(of: "\"service_tier\"", with: "\"speed\":\"fast\",\"service_tier\"")
        #expect(try #require(record(fast)).model == "other")
    }

    @Test("Counters saturate instead of wrapping (a wrap would read as a reset)")
    func saturation() {
        var counts = TokenCounts(input: .max - 1, output: 5)
        counts += TokenCounts(input: 10, output: 5)
        #expect(counts == TokenCounts(input: .max, output: 10))
    }

    @Test("Token counts up to 2^32; beyond is a schema error")
    func bigCounts() throws {
        #expect(try #require(record(assistantLine(input: 4_294_967_296))).tokens.input == 1 << 32)
        #expect(verdict(assistantLine().replacingOccurrences(of: ":10,", with: ":4294967297,")) == .skipped(.schema))
        #expect(
            verdict(assistantLine().replacingOccurrences(of: ":10,", with: ":9007199254740993,")) == .skipped(.schema)
        )
    }

    @Test("Multi-byte UTF-8 in text is accepted; long strings are checked eight bytes at a time and exactly")
    func longText() throws {
        let text = String(repeating: "abcdefgh", count: 10_000) + "é中😀" + String(repeating: "x\\n\\\"", count: 1000)
        #expect(try #require(record(assistantLine(text: text))).tokens.output == 20)
        // Every position of a stray quote or control byte within the eight-byte steps is caught.
        for position in 0..<17 {
            var bytes = Array(assistantLine(text: String(repeating: "a", count: 40)).utf8)
            let start = bytes.firstIndex(of: UInt8(ascii: "a"))!
            bytes[start + position] = 0x1F
            #expect(UsageLine.read(bytes) == .skipped(.malformed))
        }
    }
}

@Suite("The token ledger: de-duplicated, largest response wins")
struct UsageLedgerTests {
    @Test("Lines repeating one response count it once; lines without ids each count")
    func deduplication() throws {
        var ledger = UsageLedger()
        for _ in 0..<3 { ledger.add(verdict(assistantLine())) }
        ledger.add(verdict(assistantLine(id: "msg_02")))
        ledger.add(verdict(assistantLine(id: nil)))
        ledger.add(verdict(assistantLine(id: nil)))
        let usage = try #require(ledger.models["claude-sonnet-4-5"])
        #expect(usage.messages == 4)
        #expect(usage.tokens == TokenCounts(input: 40, output: 80, cacheCreation: 120, cacheRead: 160))
        #expect(ledger.responses == 2)
    }

    @Test("A later line of a response with a larger total raises the counters by the difference, never down")
    func largestWins() throws {
        var ledger = UsageLedger()
        ledger.add(verdict(assistantLine(output: 1)))
        ledger.add(verdict(assistantLine(output: 250)))
        ledger.add(verdict(assistantLine(output: 3)))
        let usage = try #require(ledger.models["claude-sonnet-4-5"])
        #expect(usage.tokens.output == 250)
        #expect(usage.messages == 1)
    }

    @Test("Models are counted apart; no model is unknown; skipped lines are counted by reason")
    func models() {
        var ledger = UsageLedger()
        ledger.add(verdict(assistantLine(id: "a", model: "opus")))
        ledger.add(verdict(assistantLine(id: "b", model: nil)))
        ledger.add(verdict("{\"usage\": broken"))
        ledger.add(.skipped(.tooLong))
        #expect(ledger.models["opus"]?.messages == 1)
        #expect(ledger.models[UsageLedger.unknownModel]?.messages == 1)
        #expect(ledger.skipped(.malformed) == 1)
        #expect(ledger.skipped(.tooLong) == 1)
        #expect(ledger.skipped(.schema) == 0)
    }

    @Test("At most 100 model labels: a transcript naming more counts the rest as other")
    func modelCap() {
        var ledger = UsageLedger()
        for index in 0..<150 {
            ledger.add(UsageRecord(model: "model-\(index)", response: nil, tokens: TokenCounts(output: 1)))
        }
        ledger.add(UsageRecord(model: "model-3", response: nil, tokens: TokenCounts(output: 1)))
        #expect(ledger.models.count == UsageLedger.maximumModels + 1)
        #expect(ledger.models[UsageLedger.otherModels]?.messages == 50)
        #expect(ledger.models["model-3"]?.messages == 2)
    }

    @Test("Model names are made once and reused; the cache is bounded")
    func modelNames() throws {
        let names = ModelNames()
        let line = Array(assistantLine(model: "claude-opus-4-5-20251101").utf8)
        let first = try #require(
            line.withUnsafeBytes { bytes -> String? in
                if case .usage(let record) = UsageLine.read(bytes, models: names) { return record.model }
                return nil
            }
        )
        #expect(first == "claude-opus-4-5-20251101")
        for index in 0..<(ModelNames.limit * 2) {
            let other = Array(assistantLine(model: "m\(index)").utf8)
            let verdict = other.withUnsafeBytes { UsageLine.read($0, models: names) }
            guard case .usage(let record) = verdict else {
                Issue.record("not usage: \(verdict)")
                return
            }
            #expect(record.model == "m\(index)")
        }
    }

    @Test("The response set holds a million keys exactly, at 8 bytes each within its load factor")
    func responseSet() {
        var set = ResponseSet()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var keys: [UInt64] = []
        for _ in 0..<1_000_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            keys.append(state)
            #expect(set.insert(state) || keys.count < 0)
        }
        #expect(set.count == 1_000_000)
        #expect(keys.prefix(1000).allSatisfy { !set.insert($0) })
        #expect(set.insert(0) && !set.insert(0) && set.contains(0))
        #expect(set.memoryBytes <= 1_000_001 * 8 * 100 / 53)
    }
}
