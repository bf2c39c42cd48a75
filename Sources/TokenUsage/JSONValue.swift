/// A JSON value, parsed whole: for the few lines that need more than ``UsageParser`` keeps (a Codex rollout's
/// `token_count` and `turn_context` records, one or two per turn). The grammar of RFC 8259, read as Node's
/// `JSON.parse` reads a line of a file decoded as UTF-8 (what ccusage does): a duplicate key's last value wins; a
/// number too large for a double is infinite (ccusage then counts it 0); a lone surrogate escape and bytes that are
/// not UTF-8 become U+FFFD. Nesting deeper than ``UsageLine/maximumDepth`` is rejected.
public indirect enum JSONValue: Equatable, Sendable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    /// The whole of `bytes` as one JSON value (whitespace around it allowed); `nil` if it is not one.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var reader = Reader(base: base, count: bytes.count)
        guard let value = try? reader.value(depth: 0) else { return nil }
        reader.skipSpace()
        return reader.index == reader.count ? value : nil
    }

    public static func parse(_ text: String) -> JSONValue? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// The member `key` of an object (`nil` for anything else).
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    private struct Malformed: Error {}

    private struct Reader {
        let base: UnsafePointer<UInt8>
        let count: Int
        var index = 0

        mutating func skipSpace() {
            while index < count, [0x20, 0x09, 0x0A, 0x0D].contains(base[index]) { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(Malformed) {
            guard index < count, base[index] == byte else { throw Malformed() }
            index += 1
        }

        mutating func literal(_ word: StaticString) throws(Malformed) {
            let bytes = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard count - index >= bytes.count else { throw Malformed() }
            for (offset, byte) in bytes.enumerated() where base[index + offset] != byte { throw Malformed() }
            index += bytes.count
        }

        mutating func value(depth: Int) throws(Malformed) -> JSONValue {
            guard depth < UsageLine.maximumDepth else { throw Malformed() }
            skipSpace()
            guard index < count else { throw Malformed() }
            switch base[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [String: JSONValue] = [:]
                skipSpace()
                if index < count, base[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    members[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard index < count else { throw Malformed() }
                    index += 1
                    if base[index - 1] == UInt8(ascii: "}") { return .object(members) }
                    guard base[index - 1] == UInt8(ascii: ",") else { throw Malformed() }
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [JSONValue] = []
                skipSpace()
                if index < count, base[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                }
                while true {
                    elements.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < count else { throw Malformed() }
                    index += 1
                    if base[index - 1] == UInt8(ascii: "]") { return .array(elements) }
                    guard base[index - 1] == UInt8(ascii: ",") else { throw Malformed() }
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default:
                return .number(try number())
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(Malformed) -> Double {
            let start = index
            func digits() -> Int {
                let first = index
                while index < count, base[index] >= UInt8(ascii: "0"), base[index] <= UInt8(ascii: "9") { index += 1 }
                return index - first
            }
            if index < count, base[index] == UInt8(ascii: "-") { index += 1 }
            guard index < count else { throw Malformed() }
            if base[index] == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw Malformed()
            }
            if index < count, base[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw Malformed() }
            }
            if index < count, base[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < count, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw Malformed() }
            }
            let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
            // `Double` gives ±infinity beyond its range, as JavaScript does.
            guard let value = Double(text) else { throw Malformed() }
            return value
        }

        /// A string token: no raw control characters, valid escapes (surrogates paired), valid UTF-8.
        mutating func string() throws(Malformed) -> String {
            try expect(UInt8(ascii: "\""))
            var bytes: [UInt8] = []
            while true {
                guard index < count else { throw Malformed() }
                let byte = base[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: bytes, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < count else { throw Malformed() }
                    let escape = base[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escape)
                    case UInt8(ascii: "b"): bytes.append(0x08)
                    case UInt8(ascii: "f"): bytes.append(0x0C)
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        // A high surrogate followed by a low one is one character; any other surrogate stands
                        // alone, which JavaScript keeps and a UTF-8 string cannot hold: U+FFFD.
                        if (0xD800..<0xDC00).contains(scalar), count - index >= 6, base[index] == UInt8(ascii: "\\"),
                            base[index + 1] == UInt8(ascii: "u")
                        {
                            let mark = index
                            index += 2
                            let low = try hex4()
                            if (0xDC00..<0xE000).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                index = mark
                            }
                        }
                        let character = Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}"
                        bytes.append(contentsOf: String(character).utf8)
                    default: throw Malformed()
                    }
                case 0..<0x20:
                    throw Malformed()
                default:
                    bytes.append(byte)
                }
            }
        }

        mutating func hex4() throws(Malformed) -> UInt32 {
            guard count - index >= 4 else { throw Malformed() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = base[index]
                index += 1
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Malformed()
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
    }
}
