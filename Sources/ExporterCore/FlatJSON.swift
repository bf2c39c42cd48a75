/// A small, strict JSON reader for the top-level object of a session-registry file.
///
/// The registry files are flat JSON objects of a few hundred bytes. Foundation's `JSONDecoder` would
/// bring FoundationEssentials (+2.7 MB of resident memory against a budget of 8 MB); this reads the
/// whole grammar (nested values are parsed and skipped), keeps the top-level strings, numbers and
/// booleans, and says where it stopped on malformed or partial input.
enum FlatJSON {
    enum Value: Equatable, Sendable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        /// An object or array, parsed and left out.
        case nested
    }

    struct ParseError: Error, Equatable, Sendable {
        var offset: Int
        var reason: String
    }

    /// The members of the top-level object.
    static func parseObject(_ bytes: [UInt8]) throws(ParseError) -> [String: Value] {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        guard parser.peek() == UInt8(ascii: "{") else { throw parser.error("expected an object") }
        let members = try parser.object(keep: true)
        parser.skipSpace()
        guard parser.atEnd else { throw parser.error("unexpected bytes after the object") }
        return members
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        var atEnd: Bool { index >= bytes.count }
        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
        func error(_ reason: String) -> ParseError { ParseError(offset: index, reason: reason) }

        mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(ParseError) {
            guard peek() == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
            index += 1
        }

        mutating func object(keep: Bool) throws(ParseError) -> [String: Value] {
            depth += 1
            guard depth <= 64 else { throw error("nested too deeply") }
            defer { depth -= 1 }
            try expect(UInt8(ascii: "{"))
            var members: [String: Value] = [:]
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return members
            }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                let value = try value()
                if keep { members[key] = value }
                skipSpace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect(UInt8(ascii: "}"))
                return members
            }
        }

        mutating func array() throws(ParseError) {
            depth += 1
            guard depth <= 64 else { throw error("nested too deeply") }
            defer { depth -= 1 }
            try expect(UInt8(ascii: "["))
            skipSpace()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipSpace()
                _ = try value()
                skipSpace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect(UInt8(ascii: "]"))
                return
            }
        }

        mutating func value() throws(ParseError) -> Value {
            switch peek() {
            case UInt8(ascii: "{"):
                _ = try object(keep: false)
                return .nested
            case UInt8(ascii: "["):
                try array()
                return .nested
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case .some(let byte) where byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39):
                return .number(try number())
            case nil: throw error("unexpected end of input")
            default: throw error("unexpected byte")
            }
        }

        mutating func literal(_ word: String, _ value: Value) throws(ParseError) -> Value {
            for byte in word.utf8 { try expect(byte) }
            return value
        }

        mutating func number() throws(ParseError) -> Double {
            let start = index
            if peek() == UInt8(ascii: "-") { index += 1 }
            var digits = 0
            while let byte = peek(), byte >= 0x30 && byte <= 0x39 {
                index += 1
                digits += 1
            }
            guard digits > 0 else { throw error("malformed number") }
            if peek() == UInt8(ascii: ".") {
                index += 1
                var fraction = 0
                while let byte = peek(), byte >= 0x30 && byte <= 0x39 {
                    index += 1
                    fraction += 1
                }
                guard fraction > 0 else { throw error("malformed number") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                index += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
                var exponent = 0
                while let byte = peek(), byte >= 0x30 && byte <= 0x39 {
                    index += 1
                    exponent += 1
                }
                guard exponent > 0 else { throw error("malformed number") }
            }
            guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                throw error("malformed number")
            }
            return value
        }

        mutating func string() throws(ParseError) -> String {
            try expect(UInt8(ascii: "\""))
            var run = index
            func flush(_ parser: Parser, _ until: Int) -> String {
                String(decoding: parser.bytes[run..<until], as: UTF8.self)
            }
            var result = ""
            while true {
                guard let byte = peek() else { throw error("unterminated string") }
                if byte == UInt8(ascii: "\"") {
                    result += flush(self, index)
                    index += 1
                    return result
                }
                if byte < 0x20 { throw error("control character in string") }
                if byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                result += flush(self, index)
                index += 1
                guard let escape = peek() else { throw error("unterminated escape") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): result += "\""
                case UInt8(ascii: "\\"): result += "\\"
                case UInt8(ascii: "/"): result += "/"
                case UInt8(ascii: "b"): result += "\u{8}"
                case UInt8(ascii: "f"): result += "\u{C}"
                case UInt8(ascii: "n"): result += "\n"
                case UInt8(ascii: "r"): result += "\r"
                case UInt8(ascii: "t"): result += "\t"
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), peek() == UInt8(ascii: "\\"),
                        index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    result.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default: throw error("invalid escape")
                }
                run = index
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            var code: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = peek() else { throw error("unterminated escape") }
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                code = code << 4 | digit
                index += 1
            }
            return code
        }
    }
}
