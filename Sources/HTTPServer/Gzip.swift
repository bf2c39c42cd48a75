/// gzip (RFC 1952) for response bodies, in plain Swift: no zlib, so the binary keeps its short `ldd` list.
///
/// One DEFLATE block (RFC 1951) with the fixed Huffman codes and greedy LZ77 matching over a 32 KiB window.
/// Metrics text is mostly repeated label sets and metric-name prefixes, which matching alone removes; a dynamic
/// Huffman table would save a further fifth at several times the code. Any inflater reads the output.
public enum Gzip {
    /// `input`, gzip-compressed.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var writer = BitWriter(capacity: input.count / 3 + 64)
        // Magic, CM=8 (deflate), no flags, MTIME 0 (none), XFL 0, OS 3 (Unix).
        writer.bytes.append(contentsOf: [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])
        input.withUnsafeBufferPointer { deflate($0, into: &writer) }
        writer.flush()
        let crc = crc32(input)
        let size = UInt32(truncatingIfNeeded: input.count)
        for value in [crc, size] {
            for shift in stride(from: 0, to: 32, by: 8) {
                writer.bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            }
        }
        return writer.bytes
    }

    /// The CRC-32 of `bytes` (the IEEE polynomial, as gzip and zlib compute it).
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer {
                crc = crcTable[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] ^ (crc >> 8)
            }
        }
        return ~crc
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    // MARK: DEFLATE

    private static let windowSize = 32768
    private static let minMatch = 3
    private static let maxMatch = 258
    private static let hashBits = 14
    /// Candidates tried per position, and a match long enough to stop looking (zlib's `max_chain` and
    /// `nice_length`): bounded work per byte whatever the input, good matches on repeated label sets.
    private static let maxChain = 16
    private static let niceLength = 64
    private static let codes = FixedCodes()

    private static func deflate(_ input: UnsafeBufferPointer<UInt8>, into writer: inout BitWriter) {
        let codes = Self.codes
        writer.write(0b011, bits: 3)  // BFINAL = 1, BTYPE = 01 (fixed Huffman codes)
        let count = input.count
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var previous = [Int32](repeating: -1, count: min(windowSize, max(count, 1)))
        let previousMask = windowSize - 1
        head.withUnsafeMutableBufferPointer { head in
            previous.withUnsafeMutableBufferPointer { previous in
                func hash(_ position: Int) -> Int {
                    let word =
                        UInt32(input[position]) | UInt32(input[position + 1]) << 8 | UInt32(input[position + 2]) << 16
                    return Int((word &* 2_654_435_761) >> UInt32(32 - hashBits))
                }
                func insert(_ position: Int) {
                    let key = hash(position)
                    previous[position & previousMask] = head[key]
                    head[key] = Int32(position)
                }
                var position = 0
                while position < count {
                    guard position + minMatch <= count else {
                        codes.writeLiteral(input[position], into: &writer)
                        position += 1
                        continue
                    }
                    let limit = min(maxMatch, count - position)
                    let nice = min(niceLength, limit)
                    var bestLength = 0
                    var bestDistance = 0
                    var candidate = Int(head[hash(position)])
                    var chain = maxChain
                    while candidate >= 0, position - candidate <= windowSize, chain > 0 {
                        if input[candidate + bestLength] == input[position + bestLength] {
                            var length = 0
                            while length < limit, input[candidate + length] == input[position + length] { length += 1 }
                            if length > bestLength {
                                bestLength = length
                                bestDistance = position - candidate
                                if length >= nice { break }
                            }
                        }
                        let next = Int(previous[candidate & previousMask])
                        // An entry overwritten by a newer position ends the chain (it would point forward).
                        guard next < candidate else { break }
                        candidate = next
                        chain -= 1
                    }
                    insert(position)
                    if bestLength >= minMatch {
                        codes.writeMatch(length: bestLength, distance: bestDistance, into: &writer)
                        let end = position + bestLength
                        position += 1
                        while position < end {
                            if position + minMatch <= count { insert(position) }
                            position += 1
                        }
                    } else {
                        codes.writeLiteral(input[position], into: &writer)
                        position += 1
                    }
                }
            }
        }
        codes.writeEndOfBlock(into: &writer)
    }
}

/// The fixed Huffman codes of RFC 1951 §3.2.6, bit-reversed for the LSB-first stream and packed with their
/// extra bits (`code << 5 | bit count`), so a literal or a match costs one or two table reads.
private struct FixedCodes: Sendable {
    let literals: [UInt32]
    /// Indexed by match length 0...258 (3...258 used): the length symbol's code and its extra bits.
    let lengths: [UInt32]
    /// zlib's two-level distance-code table: `distance - 1` below 256, else `256 + (distance - 1) >> 7`.
    let distanceCodeIndex: [UInt8]

    static let lengthBases: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227,
        258,
    ]
    static let lengthExtraBits: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    static let distanceBases: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtraBits: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    /// Per distance code: its 5-bit code, bit-reversed, and the base and extra-bit count of its range.
    let distances: [(reversedCode: UInt32, base: Int, extraBits: Int)]

    init() {
        func literal(_ symbol: Int) -> (code: UInt32, length: Int) {
            let (code, length): (Int, Int) =
                switch symbol {
                case 0...143: (0x30 + symbol, 8)
                case 144...255: (0x190 + symbol - 144, 9)
                case 256...279: (symbol - 256, 7)
                default: (0xC0 + symbol - 280, 8)
                }
            return (Self.reversed(UInt32(code), length: length), length)
        }
        literals = (0..<288).map {
            let (code, length) = literal($0)
            return code << 5 | UInt32(length)
        }
        lengths = (0...258).map { length in
            guard length >= 3 else { return 0 }
            let index = Self.lastIndex(in: Self.lengthBases, notAbove: length)
            let (code, codeLength) = literal(257 + index)
            let extra = UInt32(length - Self.lengthBases[index]) << UInt32(codeLength)
            return (code | extra) << 5 | UInt32(codeLength + Self.lengthExtraBits[index])
        }
        distances = (0..<30).map {
            (Self.reversed(UInt32($0), length: 5), Self.distanceBases[$0], Self.distanceExtraBits[$0])
        }
        distanceCodeIndex = (0..<512).map { slot in
            let distance = slot < 256 ? slot + 1 : ((slot - 256) << 7) + 1
            return UInt8(Self.lastIndex(in: Self.distanceBases, notAbove: distance))
        }
    }

    func writeLiteral(_ byte: UInt8, into writer: inout BitWriter) {
        let packed = literals[Int(byte)]
        writer.write(packed >> 5, bits: Int(packed & 31))
    }

    func writeEndOfBlock(into writer: inout BitWriter) {
        let packed = literals[256]
        writer.write(packed >> 5, bits: Int(packed & 31))
    }

    func writeMatch(length: Int, distance: Int, into writer: inout BitWriter) {
        let packed = lengths[length]
        writer.write(packed >> 5, bits: Int(packed & 31))
        let slot = distance <= 256 ? distance - 1 : 256 + (distance - 1) >> 7
        let code = distances[Int(distanceCodeIndex[slot])]
        writer.write(code.reversedCode | UInt32(distance - code.base) << 5, bits: 5 + code.extraBits)
    }

    private static func lastIndex(in bases: [Int], notAbove value: Int) -> Int {
        var index = 0
        while index + 1 < bases.count, bases[index + 1] <= value { index += 1 }
        return index
    }

    private static func reversed(_ code: UInt32, length: Int) -> UInt32 {
        var result: UInt32 = 0
        var code = code
        for _ in 0..<length {
            result = result << 1 | code & 1
            code >>= 1
        }
        return result
    }
}

/// Bits into bytes, least significant bit first, as DEFLATE orders them.
private struct BitWriter {
    var bytes: [UInt8] = []
    private var buffer: UInt64 = 0
    private var count = 0

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func write(_ value: UInt32, bits: Int) {
        buffer |= UInt64(value) << UInt64(count)
        count += bits
        if count >= 32 {  // at most 31 + 18 bits are held, so one 32-bit step keeps the buffer from overflowing
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: buffer >> shift)) }
            buffer >>= 32
            count -= 32
        }
    }

    /// Writes the bits still held, padding the last byte with zeros.
    mutating func flush() {
        while count > 0 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            count -= 8
        }
        buffer = 0
        count = 0
    }
}
