/// JSON strings in place: validated eight bytes at a time while they hold only printable ASCII, escapes and UTF-8
/// checked strictly, and decoded only when a kept member needs its value.
extension UsageParser {
    // MARK: - Strings

    /// Validates a string from its opening quote; returns its contents' range.
    mutating func string() throws(Malformed) -> Slot {
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
    static func needsAttention(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = word &- (ones &* 0x20)
        return ((hasQuote | hasBackslash | hasControl | word) & highs) != 0
    }

    mutating func escape() throws(Malformed) {
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
    mutating func multiByte() throws(Malformed) {
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
    func decode(_ start: Int, _ end: Int) -> [UInt8]? {
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
