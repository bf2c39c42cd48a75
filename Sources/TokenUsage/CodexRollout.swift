/// Token usage from one Codex CLI rollout (`$CODEX_DIR/sessions/YYYY/MM/DD/rollout-*.jsonl`), read line by line in
/// order, with ccusage's rules for Codex (ryoppippi/ccusage `apps/codex/src/data-loader.ts`):
///
/// - A line is `{"timestamp", "type", "payload"}` (openai/codex `protocol.rs`, `RolloutLine`). A `turn_context`
///   record's model (`payload.model`) is the model of the `token_count` events after it.
/// - An `event_msg` whose `payload.type` is `token_count` (and that has a `timestamp`) counts
///   `payload.info.last_token_usage`, or, in older rollouts without it, the growth of `info.total_token_usage`
///   since the previous event of the file. `info` may be `null` (nothing to count); an event whose input, cached,
///   output and reasoning counts are all 0 counts nothing.
/// - The model: `info.model`, `info.model_name`, `info.metadata.model`, `payload.model` or `payload.metadata.model`
///   if the event names one (it then becomes the file's model), else the file's model, else `gpt-5` (ccusage's
///   fallback for rollouts written before Codex recorded models).
///
/// Counted as: `input` = input tokens not read from the cache, `cache_read` = `cached_input_tokens` (a part of
/// Codex's `input_tokens`, at most all of it), `output` = `output_tokens` (which includes the reasoning tokens, as
/// Codex bills them). So `input + cache_read + output` is Codex's `total_tokens`, as for Claude's types. Each counted
/// event is one response (`claude_assistant_messages_total`). Codex's events carry no id: the line itself (its
/// millisecond timestamp and counts) is the identity, so a rollout read again counts nothing twice (two identical
/// lines in one rollout, which ccusage would count twice, count once).
/// Counts are JSON numbers; a negative one counts 0 and a fraction is dropped (Codex writes integers).
public struct CodexRollout: Sendable {
    /// The model of the latest `turn_context` (or event naming one) in this file.
    public private(set) var model: String?
    private var previousTotal: Usage?

    /// Keeps the hashes of Codex events apart from Claude responses' `message.id` + `requestId`.
    private static let identity: [UInt8] = Array("codex".utf8)

    /// ccusage's model for events of rollouts that name none.
    public static let fallbackModel = "gpt-5"

    /// The lines worth parsing hold one of these (a quote inside a JSON string is escaped, so they only occur as
    /// whole string tokens).
    static let markers: [[UInt8]] = [Array("\"token_count\"".utf8), Array("\"turn_context\"".utf8)]

    public init() {}

    private struct Usage {
        var input: UInt64
        var cached: UInt64
        var output: UInt64
        var reasoning: UInt64

        init?(_ value: JSONValue?) {
            guard let value, value.isObject else { return nil }
            // ccusage's `ensureNumber`: a finite number, else 0.
            func count(_ key: String) -> UInt64 {
                // Above 2^32 (no real turn is near it) counts 0, as on the Claude side: hostile lines must not pin a
                // counter at its maximum (it takes 2^32 of them).
                guard let number = value[key]?.number, number.isFinite, number > 0, number <= 0x1p32 else { return 0 }
                return UInt64(number)
            }
            input = count("input_tokens")
            // `cached_input_tokens ?? cache_read_input_tokens`: null falls through as a missing key does.
            let fallsThrough = value["cached_input_tokens"].map { $0 == .null } ?? true
            cached = fallsThrough ? count("cache_read_input_tokens") : count("cached_input_tokens")
            output = count("output_tokens")
            reasoning = count("reasoning_output_tokens")
        }

        /// The growth from `previous` (per field, never below 0).
        func since(_ previous: Usage?) -> Usage {
            var delta = self
            delta.input = input - min(input, previous?.input ?? 0)
            delta.cached = cached - min(cached, previous?.cached ?? 0)
            delta.output = output - min(output, previous?.output ?? 0)
            delta.reasoning = reasoning - min(reasoning, previous?.reasoning ?? 0)
            return delta
        }
    }

    /// The longest line parsed (bytes): a whole-value parse costs many times a line's size in memory. A
    /// `token_count` line is a few hundred bytes: a longer one is skipped as too long. A `turn_context` line holds
    /// Codex's instructions (the AGENTS.md files, developer instructions), usually a few KiB: a longer one is passed
    /// over, and the model named before it stays.
    public static let maximumLine = 128 * 1024

    /// Reads the next line of the rollout (without its newline).
    public mutating func read(_ line: UnsafeRawBufferPointer, models: ModelNames? = nil) -> UsageLine.Verdict {
        guard Self.markers.contains(where: { Search.contains(line, $0) }) else { return .irrelevant }
        guard line.count <= Self.maximumLine else {
            // `"token_count"` with its quotes is never inside a JSON string (quotes there are escaped).
            return Search.contains(line, Self.markers[0]) ? .skipped(.tooLong) : .irrelevant
        }
        guard let entry = JSONValue.parse(line) else { return .skipped(.malformed) }
        guard entry.isObject, let type = entry["type"]?.string else { return .skipped(.schema) }
        if let timestamp = entry["timestamp"], timestamp.string == nil { return .skipped(.schema) }
        let payload = entry["payload"]
        if type == "turn_context" {
            if let payload, payload.isObject, let named = Self.model(in: payload) { model = named }
            return .irrelevant
        }
        guard type == "event_msg", let payload, payload["type"]?.string == "token_count" else { return .irrelevant }
        let info = payload["info"]
        if let info, info != .null, !info.isObject { return .skipped(.schema) }
        guard entry["timestamp"] != nil else { return .skipped(.schema) }
        let total = Usage(info?["total_token_usage"])
        var usage = Usage(info?["last_token_usage"])
        if usage == nil, let total { usage = total.since(previousTotal) }
        if let total { previousTotal = total }
        guard let usage else { return .irrelevant }
        let cached = min(usage.cached, usage.input)
        guard usage.input > 0 || cached > 0 || usage.output > 0 || usage.reasoning > 0 else { return .irrelevant }
        var merged = payload
        if case .object(var members) = payload {
            members["info"] = info
            merged = .object(members)
        }
        if let named = Self.model(in: merged) { model = named }
        if model == nil { model = Self.fallbackModel }
        return .usage(
            UsageRecord(
                model: model.map { UsageLine.label(forModel: $0, names: models) },
                // The event itself (its time to the millisecond and its counts) is its identity: a rollout read
                // again (replaced, or moved away and back) counts nothing twice.
                response: Self.identity.withUnsafeBytes { ResponseHash.of(id: line, requestId: $0) },
                tokens: TokenCounts(input: usage.input - cached, output: usage.output, cacheRead: cached)
            )
        )
    }

    public mutating func read(_ line: String) -> UsageLine.Verdict {
        var line = line
        return line.withUTF8 { read(UnsafeRawBufferPointer($0)) }
    }

    /// The model a payload names, as ccusage's `extractModel` looks for it (trimmed, not empty).
    private static func model(in payload: JSONValue) -> String? {
        let info = payload["info"]
        let candidates = [
            info?["model"], info?["model_name"], info?["metadata"]?["model"], payload["model"],
            payload["metadata"]?["model"],
        ]
        for candidate in candidates {
            guard let text = candidate?.string else { continue }
            let trimmed = text.trimmingWhitespace()
            if !trimmed.isEmpty { return trimmed }
        }
        return nil
    }
}

extension String {
    /// Without leading and trailing white space (as JavaScript's `trim`, for the ASCII white space and the
    /// no-break and line separators a model name could carry).
    func trimmingWhitespace() -> String {
        let space: Set<Unicode.Scalar> = [
            " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\u{A0}", "\u{2028}", "\u{2029}", "\u{FEFF}",
        ]
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !space.contains($0) }),
            let last = scalars.lastIndex(where: { !space.contains($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}

extension UsageLine {
    /// The label of a model name: names of more than ``maximumModelBytes`` or with a byte that is not printable
    /// ASCII are ``otherModel`` (a label value goes into every scrape, so a name no model has is never copied out).
    static func label(forModel name: String, names: ModelNames?) -> String {
        var bytes = name
        return bytes.withUTF8 { bytes in
            guard bytes.count <= maximumModelBytes, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                return otherModel
            }
            return names?.name(for: UnsafeRawBufferPointer(bytes)) ?? name
        }
    }
}
