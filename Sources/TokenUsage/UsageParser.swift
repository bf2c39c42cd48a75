/// A validating JSON parser (RFC 8259 over UTF-8, as Python's `json.loads` on strictly decoded text) that keeps
/// only the few members ``UsageLine`` needs and checks everything else without building anything.
///
/// It never allocates on the common path: strings are validated in place, eight bytes at a time while they hold
/// nothing but printable ASCII (the bulk of a transcript), and only the wanted strings with escapes are decoded.
/// Duplicate keys behave as in Python: the last one wins, a later `message` replacing all of an earlier one.
struct UsageParser {
    private let base: UnsafePointer<UInt8>
    private let count: Int
    private var index = 0
    private var depth = 0
    private var fields = Fields()
    private let names: ModelNames?

    /// `line` must not be empty (``UsageLine/read(_:models:)`` never passes one: it lacks the marker).
    init(_ line: UnsafeRawBufferPointer, names: ModelNames?) {
        precondition(line.count > 0, "an empty line has no usage")
        base = line.baseAddress!.assumingMemoryBound(to: UInt8.self)
        count = line.count
        self.names = names
    }

    private struct Malformed: Error {}

    /// Where a value sits: only objects at these three places have members worth keeping.
    private enum Role {
        case root, message, usage, other
    }

    /// A parsed value, kept by position in the line (lines are at most 8 MiB, so 32-bit offsets).
    struct Slot {
        enum Kind: UInt8 {
            case absent, string, number, bool, null, object, array
        }
        var start: Int32 = 0
        var end: Int32 = 0
        var kind = Kind.absent
        /// A string with escapes (decoded when needed), or a number with a fraction or an exponent.
        var flag = false
    }

    private enum Field: Int {
        // root
        case timestamp, version, requestId, costUSD, isApiErrorMessage, message
        // message
        case id, model, usage
        // usage
        case inputTokens, outputTokens, cacheCreation, cacheRead, speed
    }

    /// The kept members, in place (no allocation): fourteen slots.
    private struct Fields {
        private var storage = (
            Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(), Slot(),
            Slot()
        )

        subscript(_ field: Field) -> Slot {
            get {
                withUnsafeBytes(of: storage) {
                    $0.load(fromByteOffset: field.rawValue * MemoryLayout<Slot>.stride, as: Slot.self)
                }
            }
            set {
                withUnsafeMutableBytes(of: &storage) {
                    $0.storeBytes(of: newValue, toByteOffset: field.rawValue * MemoryLayout<Slot>.stride, as: Slot.self)
                }
            }
        }

        mutating func clear(from first: Field, through last: Field) {
            for raw in first.rawValue...last.rawValue { self[Field(rawValue: raw)!] = Slot() }
        }
    }

    // MARK: - The line

    mutating func parseLine() -> UsageLine.Verdict {
        do {
            skipSpace()
            _ = try value(.root)
            skipSpace()
            guard index == count else { throw Malformed() }
        } catch {
            return .skipped(.malformed)
        }
        return verdict()
    }

    private func verdict() -> UsageLine.Verdict {
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

    /// A token count: an integer from 0 to 2^53 written without fraction or exponent.
    private func tokens(_ slot: Slot) -> UInt64? {
        guard slot.kind == .number, !slot.flag, base[Int(slot.start)] != UInt8(ascii: "-") else { return nil }
        guard slot.end - slot.start <= 16 else { return nil }
        var value: UInt64 = 0
        for offset in Int(slot.start)..<Int(slot.end) { value = value * 10 + UInt64(base[offset] &- 0x30) }
        return value <= 1 << 53 ? value : nil
    }

    /// Absent is zero; present must be a token count (`nil` then means "wrong").
    private func optionalTokens(_ slot: Slot) -> UInt64? {
        slot.kind == .absent ? 0 : tokens(slot)
    }

    /// `body` over the UTF-8 bytes of a string member; `nil` if it is not a string or holds a lone surrogate (which
    /// has no UTF-8 form). Without escapes the bytes are the line's own.
    private func withString<Result>(_ slot: Slot, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        guard slot.kind == .string else { return nil }
        let start = Int(slot.start)
        let end = Int(slot.end)
        if !slot.flag { return body(UnsafeRawBufferPointer(start: base + start, count: end - start)) }
        guard let decoded = decode(start, end) else { return nil }
        return decoded.withUnsafeBytes(body)
    }

    /// An optional string member: absent, or a string `test` accepts.
    private func isAbsentOr(_ slot: Slot, _ test: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        slot.kind == .absent || withString(slot, test) == true
    }

    private enum Speed {
        case standard, fast, other
    }

    private static func speedWord(_ text: UnsafeRawBufferPointer) -> Speed {
        if equals(text, "standard") { return .standard }
        if equals(text, "fast") { return .fast }
        return .other
    }

    private static func equals(_ text: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
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

    // MARK: - Grammar

    private var current: UInt8 { index < count ? base[index] : 0 }

    private mutating func skipSpace() {
        while index < count {
            let byte = base[index]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            index += 1
        }
    }

    private mutating func value(_ role: Role) throws(Malformed) -> Slot {
        guard index < count else { throw Malformed() }
        switch base[index] {
        case UInt8(ascii: "{"):
            try object(role)
            return Slot(kind: .object)
        case UInt8(ascii: "["):
            try array()
            return Slot(kind: .array)
        case UInt8(ascii: "\""):
            return try string()
        case UInt8(ascii: "t"):
            try literal("true")
            return Slot(kind: .bool)
        case UInt8(ascii: "f"):
            try literal("false")
            return Slot(kind: .bool)
        case UInt8(ascii: "n"):
            try literal("null")
            return Slot(kind: .null)
        default:
            return try number()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Malformed) {
        let length = word.utf8CodeUnitCount
        guard count - index >= length else { throw Malformed() }
        for offset in 0..<length where base[index + offset] != word.utf8Start[offset] { throw Malformed() }
        index += length
    }

    private mutating func enter() throws(Malformed) {
        depth += 1
        guard depth <= UsageLine.maximumDepth else { throw Malformed() }
        index += 1
        skipSpace()
    }

    private mutating func object(_ role: Role) throws(Malformed) {
        try enter()
        defer { depth -= 1 }
        if current == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            guard current == UInt8(ascii: "\"") else { throw Malformed() }
            let key = try string()
            skipSpace()
            guard current == UInt8(ascii: ":") else { throw Malformed() }
            index += 1
            skipSpace()
            let field = role == .other ? nil : self.field(role, key)
            switch field {
            case .message?:
                fields.clear(from: .id, through: .speed)
                fields[.message] = try value(current == UInt8(ascii: "{") ? .message : .other)
            case .usage?:
                fields.clear(from: .inputTokens, through: .speed)
                fields[.usage] = try value(current == UInt8(ascii: "{") ? .usage : .other)
            case let field?:
                fields[field] = try value(.other)
            case nil:
                _ = try value(.other)
            }
            skipSpace()
            if current == UInt8(ascii: ",") {
                index += 1
                skipSpace()
                continue
            }
            guard current == UInt8(ascii: "}") else { throw Malformed() }
            index += 1
            return
        }
    }

    private mutating func array() throws(Malformed) {
        try enter()
        defer { depth -= 1 }
        if current == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            _ = try value(.other)
            skipSpace()
            if current == UInt8(ascii: ",") {
                index += 1
                skipSpace()
                continue
            }
            guard current == UInt8(ascii: "]") else { throw Malformed() }
            index += 1
            return
        }
    }

    /// Which kept member a key names at `role`: by length, then by bytes (decoded first only if it has escapes).
    private func field(_ role: Role, _ key: Slot) -> Field? {
        if key.flag {
            guard let decoded = decode(Int(key.start), Int(key.end)) else { return nil }
            return decoded.withUnsafeBytes { Self.field(role, $0) }
        }
        return Self.field(role, UnsafeRawBufferPointer(start: base + Int(key.start), count: Int(key.end - key.start)))
    }

    private static func field(_ role: Role, _ key: UnsafeRawBufferPointer) -> Field? {
        switch (role, key.count) {
        case (.root, 7):
            if equals(key, "message") { return .message }
            if equals(key, "version") { return .version }
            if equals(key, "costUSD") { return .costUSD }
        case (.root, 9):
            if equals(key, "requestId") { return .requestId }
            if equals(key, "timestamp") { return .timestamp }
        case (.root, 17):
            if equals(key, "isApiErrorMessage") { return .isApiErrorMessage }
        case (.message, 5):
            if equals(key, "usage") { return .usage }
            if equals(key, "model") { return .model }
        case (.message, 2):
            if equals(key, "id") { return .id }
        case (.usage, 12):
            if equals(key, "input_tokens") { return .inputTokens }
        case (.usage, 13):
            if equals(key, "output_tokens") { return .outputTokens }
        case (.usage, 27):
            if equals(key, "cache_creation_input_tokens") { return .cacheCreation }
        case (.usage, 23):
            if equals(key, "cache_read_input_tokens") { return .cacheRead }
        case (.usage, 5):
            if equals(key, "speed") { return .speed }
        default:
            break
        }
        return nil
    }

    // MARK: - Numbers

    private mutating func number() throws(Malformed) -> Slot {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        guard isDigit(current) else { throw Malformed() }
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            while isDigit(current) { index += 1 }
        }
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard isDigit(current) else { throw Malformed() }
            while isDigit(current) { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard isDigit(current) else { throw Malformed() }
            while isDigit(current) { index += 1 }
        }
        return Slot(start: Int32(start), end: Int32(index), kind: .number, flag: !integral)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    // MARK: - Strings

    /// Validates a string from its opening quote; returns its contents' range.
    private mutating func string() throws(Malformed) -> Slot {
        index += 1
        let start = index
        var escaped = false
        while true {
            // Eight bytes at a time while none is a quote, a backslash, a control character or non-ASCII.
            while count - index >= 8 {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if Self.needsAttention(word) { break }
                index += 8
            }
            guard index < count else { throw Malformed() }
            let byte = base[index]
            switch byte {
            case UInt8(ascii: "\""):
                let end = index
                index += 1
                return Slot(start: Int32(start), end: Int32(end), kind: .string, flag: escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                try escape()
            case 0..<0x20:
                throw Malformed()
            case 0x80...:
                try multiByte()
            default:
                index += 1
            }
        }
    }

    /// True if any byte of `word` is `"`, `\`, below 0x20, or 0x80 and above.
    @inline(__always)
    private static func needsAttention(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = word &- (ones &* 0x20)
        return ((hasQuote | hasBackslash | hasControl | word) & highs) != 0
    }

    private mutating func escape() throws(Malformed) {
        guard count - index >= 2 else { throw Malformed() }
        switch base[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            guard count - index >= 6 else { throw Malformed() }
            for offset in 2..<6 where Self.hexValue(base[index + offset]) == nil { throw Malformed() }
            index += 6
        default:
            throw Malformed()
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// One UTF-8 sequence of two to four bytes, strictly (no overlong forms, no surrogates, nothing past U+10FFFF).
    private mutating func multiByte() throws(Malformed) {
        let lead = base[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xED:
            length = 3
            high = 0x9F
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw Malformed()
        }
        guard count - index >= length else { throw Malformed() }
        let second = base[index + 1]
        guard second >= low && second <= high else { throw Malformed() }
        for offset in 2..<length where base[index + offset] & 0xC0 != 0x80 { throw Malformed() }
        index += length
    }

    /// The UTF-8 bytes of an escaped string's contents (already validated); `nil` for a lone surrogate.
    private func decode(_ start: Int, _ end: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(end - start)
        var offset = start
        func hex4(_ at: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 << 4 | Self.hexValue(base[at + $1])! }
        }
        while offset < end {
            let byte = base[offset]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                offset += 1
                continue
            }
            let kind = base[offset + 1]
            offset += 2
            switch kind {
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(offset)
                offset += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    guard offset + 6 <= end, base[offset] == UInt8(ascii: "\\"), base[offset + 1] == UInt8(ascii: "u")
                    else { return nil }
                    let low = hex4(offset + 2)
                    guard low >= 0xDC00 && low <= 0xDFFF else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    offset += 6
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    return nil
                }
                bytes.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar)!)!)
            default: bytes.append(kind)  // " \ /
            }
        }
        return bytes
    }
}

/// The de-duplication key of one API response: a 64-bit hash of `message.id` and `requestId` (FNV-1a over both,
/// a 0xFF byte between them, which UTF-8 never holds, then MurmurHash3's 64-bit finaliser to spread the bits).
public enum ResponseHash {
    public static func of(id: [UInt8], requestId: [UInt8]) -> UInt64 {
        id.withUnsafeBytes { id in requestId.withUnsafeBytes { of(id: id, requestId: $0) } }
    }

    public static func of(id: UnsafeRawBufferPointer, requestId: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in id { mix(byte) }
        mix(0xFF)
        for byte in requestId { mix(byte) }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}

#if canImport(Glibc)
import Glibc
#endif
