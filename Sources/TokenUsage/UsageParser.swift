/// A validating JSON parser (RFC 8259 over UTF-8, as Python's `json.loads` on strictly decoded text) that keeps
/// only the few members ``UsageLine`` needs and checks everything else without building anything.
///
/// It never allocates on the common path: strings are validated in place, eight bytes at a time while they hold
/// nothing but printable ASCII (the bulk of a transcript), and only the wanted strings with escapes are decoded.
/// Duplicate keys behave as in Python: the last one wins, a later `message` replacing all of an earlier one.
struct UsageParser {
    let base: UnsafePointer<UInt8>
    let count: Int
    var index = 0
    var depth = 0
    var fields = Fields()
    let names: ModelNames?

    /// `line` must not be empty (``UsageLine/read(_:models:)`` never passes one: it lacks the marker).
    init(_ line: UnsafeRawBufferPointer, names: ModelNames?) {
        precondition(line.count > 0, "an empty line has no usage")
        base = line.baseAddress!.assumingMemoryBound(to: UInt8.self)
        count = line.count
        self.names = names
    }

    struct Malformed: Error {}

    /// Where a value sits: only objects at these three places have members worth keeping.
    enum Role {
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

    enum Field: Int {
        // root
        case timestamp, version, requestId, costUSD, isApiErrorMessage, message
        // message
        case id, model, usage
        // usage
        case inputTokens, outputTokens, cacheCreation, cacheRead, speed
    }

    /// The kept members, in place (no allocation): fourteen slots.
    struct Fields {
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

    // MARK: - Grammar

    var current: UInt8 { index < count ? base[index] : 0 }

    mutating func skipSpace() {
        while index < count {
            let byte = base[index]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            index += 1
        }
    }

    mutating func value(_ role: Role) throws(Malformed) -> Slot {
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

    mutating func literal(_ word: StaticString) throws(Malformed) {
        let length = word.utf8CodeUnitCount
        guard count - index >= length else { throw Malformed() }
        for offset in 0..<length where base[index + offset] != word.utf8Start[offset] { throw Malformed() }
        index += length
    }

    mutating func enter() throws(Malformed) {
        depth += 1
        guard depth <= UsageLine.maximumDepth else { throw Malformed() }
        index += 1
        skipSpace()
    }

    mutating func object(_ role: Role) throws(Malformed) {
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

    mutating func array() throws(Malformed) {
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
    func field(_ role: Role, _ key: Slot) -> Field? {
        if key.flag {
            guard let decoded = decode(Int(key.start), Int(key.end)) else { return nil }
            return decoded.withUnsafeBytes { Self.field(role, $0) }
        }
        return Self.field(role, UnsafeRawBufferPointer(start: base + Int(key.start), count: Int(key.end - key.start)))
    }

    static func field(_ role: Role, _ key: UnsafeRawBufferPointer) -> Field? {
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

    mutating func number() throws(Malformed) -> Slot {
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

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

}
