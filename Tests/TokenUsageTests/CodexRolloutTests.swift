import Testing

@testable import TokenUsage

/// A `token_count` event as Codex writes it (openai/codex `protocol.rs`: `TokenCountEvent`, `TokenUsageInfo`).
private func tokenCount(
    last: (Int, Int, Int, Int)? = nil,
    total: (Int, Int, Int, Int)? = nil,
    extra: String = "",
    timestamp: String? = "2026-12-02T09:00:00.000Z"
) -> String {
    func usage(_ counts: (Int, Int, Int, Int)) -> String {
        let (input, cached, output, reasoning) = counts
        return #"{"input_tokens":\#(input),"cached_input_tokens":\#(cached),"output_tokens":\#(output),"#
            + #""reasoning_output_tokens":\#(reasoning),"total_tokens":\#(input + output)}"#
    }
    var info: [String] = []
    if let total { info.append(#""total_token_usage":\#(usage(total))"#) }
    if let last { info.append(#""last_token_usage":\#(usage(last))"#) }
    info.append(#""model_context_window":272000"# + extra)
    let stamp = timestamp.map { #""timestamp":"\#($0)","# } ?? ""
    return #"{\#(stamp)"type":"event_msg","payload":{"type":"token_count","info":{\#(info.joined(separator: ","))},"#
        + #""rate_limits":{"primary":{"used_percent":3.0}}}}"#
}

private func turnContext(_ model: String) -> String {
    #"{"timestamp":"2026-12-02T09:00:00.000Z","type":"turn_context","payload":{"cwd":"/w","approval_policy":"never","model":"\#(model)","effort":"high"}}"#
}

private func counted(_ verdict: UsageLine.Verdict) -> (String?, TokenCounts)? {
    guard case .usage(let record) = verdict else { return nil }
    #expect(record.response != nil, "a Codex event's identity is its line")
    return (record.model, record.tokens)
}

@Suite("Codex rollouts: token_count events, as ccusage counts them")
struct CodexRolloutTests {
    @Test("last_token_usage counts; the model comes from the turn_context before it")
    func lastUsage() throws {
        var rollout = CodexRollout()
        #expect(
            rollout.read(#"{"timestamp":"t","type":"session_meta","payload":{"id":"x","cwd":"/w"}}"#) == .irrelevant
        )
        #expect(rollout.read(turnContext("gpt-5-codex")) == .irrelevant)
        #expect(rollout.model == "gpt-5-codex")
        let first = try #require(
            counted(rollout.read(tokenCount(last: (1_200, 200, 500, 64), total: (1_200, 200, 500, 64))))
        )
        #expect(first.0 == "gpt-5-codex")
        // Input not from the cache, the cached part, output with reasoning: their sum is Codex's total_tokens.
        #expect(first.1 == TokenCounts(input: 1_000, output: 500, cacheCreation: 0, cacheRead: 200))
        #expect(first.1.total == 1_700)
        let second = try #require(
            counted(rollout.read(tokenCount(last: (300, 0, 40, 0), total: (1_500, 200, 540, 64))))
        )
        #expect(second.1 == TokenCounts(input: 300, output: 40, cacheRead: 0))
        // A model switch mid-session.
        _ = rollout.read(turnContext("o3"))
        #expect(counted(rollout.read(tokenCount(last: (10, 0, 1, 0), total: (1_510, 200, 541, 64))))?.0 == "o3")
    }

    @Test("Without last_token_usage, the growth of total_token_usage counts (ccusage's own fixture)")
    func totalDeltas() throws {
        var rollout = CodexRollout()
        _ = rollout.read(turnContext("gpt-5"))
        let first = try #require(counted(rollout.read(tokenCount(total: (1_200, 200, 500, 0)))))
        #expect(first.1 == TokenCounts(input: 1_000, output: 500, cacheRead: 200))
        let second = try #require(counted(rollout.read(tokenCount(total: (2_000, 300, 800, 0)))))
        // ccusage's test: input 800, cached 100 (and output 300).
        #expect(second.1 == TokenCounts(input: 700, output: 300, cacheRead: 100))
        // The same totals again: nothing grew, nothing counts.
        #expect(rollout.read(tokenCount(total: (2_000, 300, 800, 0))) == .irrelevant)
    }

    @Test("A rollout that names no model counts under ccusage's fallback, gpt-5; an event's own model wins")
    func models() throws {
        var rollout = CodexRollout()
        #expect(counted(rollout.read(tokenCount(last: (5_000, 0, 1_000, 0))))?.0 == "gpt-5")
        var named = CodexRollout()
        let event = tokenCount(last: (1, 0, 1, 0), extra: #","model":"  gpt-5.1-codex-max  ""#)
        #expect(counted(named.read(event))?.0 == "gpt-5.1-codex-max")
        #expect(named.model == "gpt-5.1-codex-max", "an event's model becomes the file's")
        var long = CodexRollout()
        _ = long.read(turnContext(String(repeating: "m", count: 200)))
        #expect(counted(long.read(tokenCount(last: (1, 0, 1, 0))))?.0 == UsageLine.otherModel)
        var blank = CodexRollout()
        _ = blank.read(turnContext("   "))
        #expect(blank.model == nil, "a blank model names none")
    }

    @Test("Events that count nothing: info null, all zero, no timestamp, other event types, other records")
    func nothingCounts() {
        var rollout = CodexRollout()
        let rateLimitsOnly =
            #"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{}}}"#
        #expect(rollout.read(rateLimitsOnly) == .irrelevant)
        #expect(rollout.read(tokenCount(last: (0, 0, 0, 0))) == .irrelevant)
        #expect(rollout.read(tokenCount(last: (10, 0, 1, 0), timestamp: nil)) == .skipped(.schema))
        // The word as a key of another event: parsed (the marker matches), and not a token count.
        let message = #"{"timestamp":"t","type":"event_msg","payload":{"type":"agent_message","token_count":1}}"#
        #expect(rollout.read(message) == .irrelevant)
        let item = #"{"timestamp":"t","type":"response_item","payload":{"type":"token_count","info":{}}}"#
        #expect(rollout.read(item) == .irrelevant)
        #expect(rollout.read(#"{"type":"event_msg","payload":{"type":"token_count""#) == .skipped(.malformed))
        #expect(rollout.read(#"["token_count"]"#) == .skipped(.schema))
        #expect(
            rollout.read(#"{"timestamp":1,"type":"event_msg","payload":{"type":"token_count"}}"#) == .skipped(.schema)
        )
        #expect(
            rollout.read(#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":7}}"#)
                == .skipped(.schema)
        )
        #expect(rollout.read(#"{"type":"session_meta"}"#) == .irrelevant, "no marker: not parsed at all")
    }

    @Test("Odd numbers: cached above input is capped, negatives count 0, fractions are dropped, strings count 0")
    func oddNumbers() throws {
        var rollout = CodexRollout()
        let capped = try #require(counted(rollout.read(tokenCount(last: (100, 500, 10, 0)))))
        #expect(capped.1 == TokenCounts(input: 0, output: 10, cacheRead: 100))
        let odd =
            #"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":{"last_token_usage":"#
            + #"{"input_tokens":-5,"cached_input_tokens":"7","output_tokens":12.9,"reasoning_output_tokens":1e2}}}}"#
        let read = try #require(counted(rollout.read(odd)))
        #expect(read.1 == TokenCounts(input: 0, output: 12, cacheRead: 0))
    }

    @Test("A rollout read again counts nothing twice: the line is the event's identity")
    func readAgain() throws {
        var ledger = UsageLedger()
        let events = [
            tokenCount(last: (100, 0, 10, 0)), tokenCount(last: (100, 0, 10, 0), timestamp: "2026-12-02T09:00:01.000Z"),
        ]
        for _ in 0..<2 {
            var rollout = CodexRollout()
            _ = rollout.read(turnContext("gpt-5-codex"))
            for event in events { ledger.add(rollout.read(event)) }
        }
        #expect(ledger.models["gpt-5-codex"]?.messages == 2)
        #expect(ledger.models["gpt-5-codex"]?.tokens.input == 200)
    }

    @Test("As ccusage: a null cached count falls back to cache_read_input_tokens; an infinite count is 0")
    func ccusageFallbacks() throws {
        var rollout = CodexRollout()
        let line =
            #"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":{"last_token_usage":"#
            + #"{"input_tokens":50,"cached_input_tokens":null,"cache_read_input_tokens":20,"output_tokens":1e400,"#
            + #""reasoning_output_tokens":1e300}}}}"#
        let read = try #require(counted(rollout.read(line)))
        #expect(read.1 == TokenCounts(input: 30, output: 0, cacheRead: 20))
    }

    @Test("Counts above 2^32 count 0 (hostile lines cannot pin a counter); a line past 128 KiB is not parsed")
    func hostileLines() throws {
        var rollout = CodexRollout()
        func line(_ input: String, padding: Int = 0) -> String {
            #"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":{"last_token_usage":"#
                + #"{"input_tokens":\#(input),"output_tokens":4294967297}},"x":""#
                + String(repeating: "a", count: padding) + #""}}"#
        }
        let read = try #require(counted(rollout.read(line("4294967296"))))
        #expect(read.1 == TokenCounts(input: 4_294_967_296, output: 0))
        #expect(rollout.read(line("7", padding: CodexRollout.maximumLine)) == .skipped(.tooLong))
        #expect(try #require(counted(rollout.read(line("7", padding: 1000)))).1.input == 7)
        // A turn_context line past the cap holds no usage: passed over, the model named before it stays.
        let context = #"{"timestamp":"t","type":"turn_context","payload":{"model":"gpt-5-codex","x":""#
        #expect(rollout.read(context + #""}}"#) == .irrelevant && rollout.model == "gpt-5-codex")
        let long =
            #"{"timestamp":"t","type":"turn_context","payload":{"model":"o3","x":""#
            + String(repeating: "a", count: CodexRollout.maximumLine) + #""}}"#
        #expect(rollout.read(long) == .irrelevant && rollout.model == "gpt-5-codex")
    }
}

@Suite("The whole-value JSON reader")
struct JSONValueTests {
    @Test("Values, escapes, duplicate keys (the last wins), and what is not JSON")
    func values() {
        #expect(
            JSONValue.parse(#" {"a":[1,-2.5e3,true,false,null],"s":"x\"\u00e9\ud83d\ude00\n","a":{}} "#)
                == .object(["a": .object([:]), "s": .string("x\"é😀\n")])
        )
        #expect(JSONValue.parse("0") == .number(0))
        for bad in [
            "", "{", "[1,]", "01", "1.", "-", "tru", #""\x""#, "\"\u{01}\"", "{} {}", #"{"a" 1}"#,
            "\"\\u\u{10}\u{10}\u{10}\u{10}\"",
        ] {
            #expect(JSONValue.parse(bad) == nil, "\(bad) parsed")
        }
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(JSONValue.parse(deep) == nil, "nesting without bound")
        // As Node reads a file decoded as UTF-8: what cannot be a character is U+FFFD.
        let invalidUTF8: [UInt8] = [0x22, 0xFF, 0x22]
        #expect(invalidUTF8.withUnsafeBytes { JSONValue.parse($0) } == .string("\u{FFFD}"))
        #expect(JSONValue.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(JSONValue.parse(#""\ud800\u0041""#) == .string("\u{FFFD}A"))
        #expect(JSONValue.parse("1e400") == .number(.infinity))
    }
}
