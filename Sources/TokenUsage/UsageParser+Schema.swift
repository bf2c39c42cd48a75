/// What a parsed line means under ccusage's schema: the kept members read as token counts and strings, checked for
/// their types, and turned into a ``UsageLine/Verdict``.
extension UsageParser {
    func verdict() -> UsageLine.Verdict {
        guard fields[.message].kind == .object else { return .irrelevant }
        let usage = fields[.usage]
        guard usage.kind != .absent else { return .irrelevant }
        guard usage.kind == .object,
            let input = tokens(fields[.inputTokens]), let output = tokens(fields[.outputTokens]),
            let cacheCreation = optionalTokens(fields[.cacheCreation]),
            let cacheRead = optionalTokens(fields[.cacheRead])
        else { return .skipped(.schema) }
        // The other fields ccusage's schema names: required, or optional but typed.
        guard withString(fields[.timestamp], Self.isTimestamp) == true,
            isAbsentOr(fields[.version], Self.isVersion),
            isAbsentOr(fields[.id], { $0.count > 0 }),
            isAbsentOr(fields[.requestId], { $0.count > 0 }),
            isAbsentOr(fields[.model], { $0.count > 0 })
        else { return .skipped(.schema) }
        var fast = false
        let speed = fields[.speed]
        if speed.kind != .absent {
            guard let word = withString(speed, Self.speedWord), word != .other else { return .skipped(.schema) }
            fast = word == .fast
        }
        let cost = fields[.costUSD].kind
        let flag = fields[.isApiErrorMessage].kind
        guard cost == .absent || cost == .number, flag == .absent || flag == .bool else { return .skipped(.schema) }
        var response: UInt64?
        let id = fields[.id]
        let requestId = fields[.requestId]
        if id.kind == .string && requestId.kind == .string {
            response = withString(id) { id in withString(requestId) { ResponseHash.of(id: id, requestId: $0) } }!
        }
        var model: String?
        let modelSlot = fields[.model]
        if modelSlot.kind == .string {
            model = withString(modelSlot) { bytes in
                // A label value goes into every scrape: a name no model has (too long, not printable ASCII) is
                // counted as `other`, never copied out of the line.
                guard bytes.count <= UsageLine.maximumModelBytes, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                    return UsageLine.otherModel
                }
                return names?.name(for: bytes) ?? String(decoding: bytes, as: UTF8.self)
            }
            if fast && model != UsageLine.otherModel { model! += "-fast" }
        }
        return .usage(
            UsageRecord(
                model: model,
                response: response,
                tokens: TokenCounts(input: input, output: output, cacheCreation: cacheCreation, cacheRead: cacheRead)
            )
        )
    }

    // MARK: - Typed reads of kept members

    /// A token count: an integer from 0 to 2^32 written without fraction or exponent (no response comes near 2^32
    /// tokens; a bound that low keeps hostile lines from pinning a counter at its maximum: it takes 2^32 of them).
    func tokens(_ slot: Slot) -> UInt64? {
        guard slot.kind == .number, !slot.flag, base[Int(slot.start)] != UInt8(ascii: "-") else { return nil }
        guard slot.end - slot.start <= 16 else { return nil }
        var value: UInt64 = 0
        for offset in Int(slot.start)..<Int(slot.end) { value = value * 10 + UInt64(base[offset] &- 0x30) }
        return value <= 1 << 32 ? value : nil
    }

    /// Absent is zero; present must be a token count (`nil` then means "wrong").
    func optionalTokens(_ slot: Slot) -> UInt64? {
        slot.kind == .absent ? 0 : tokens(slot)
    }

    /// `body` over the UTF-8 bytes of a string member; `nil` if it is not a string or holds a lone surrogate (which
    /// has no UTF-8 form). Without escapes the bytes are the line's own.
    func withString<Result>(_ slot: Slot, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        guard slot.kind == .string else { return nil }
        let start = Int(slot.start)
        let end = Int(slot.end)
        if !slot.flag { return body(UnsafeRawBufferPointer(start: base + start, count: end - start)) }
        guard let decoded = decode(start, end) else { return nil }
        return decoded.withUnsafeBytes(body)
    }

    /// An optional string member: absent, or a string `test` accepts.
    func isAbsentOr(_ slot: Slot, _ test: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        slot.kind == .absent || withString(slot, test) == true
    }

    enum Speed {
        case standard, fast, other
    }

    static func speedWord(_ text: UnsafeRawBufferPointer) -> Speed {
        if equals(text, "standard") { return .standard }
        if equals(text, "fast") { return .fast }
        return .other
    }

    static func equals(_ text: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        text.count == word.utf8CodeUnitCount && memcmp(text.baseAddress!, word.utf8Start, text.count) == 0
    }

    /// ccusage's `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$`.
    static func isTimestamp(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count == 20 || text.count == 24 else { return false }
        let pattern: StaticString = "0000-00-00T00:00:00.000Z"
        for (offset, byte) in text.enumerated() {
            // Without milliseconds, the 20th byte is the Z.
            let want = offset == 19 && text.count == 20 ? UInt8(ascii: "Z") : pattern.utf8Start[offset]
            if want == UInt8(ascii: "0") {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return false }
            } else if byte != want {
                return false
            }
        }
        return true
    }

    /// ccusage's `^\d+\.\d+\.\d+` (a prefix: `2.1.3-beta` passes).
    static func isVersion(_ text: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        for part in 0..<3 {
            let start = index
            while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > start else { return false }
            if part < 2 {
                guard index < text.count, text[index] == UInt8(ascii: ".") else { return false }
                index += 1
            }
        }
        return true
    }
}

#if canImport(Glibc)
import Glibc
#endif
