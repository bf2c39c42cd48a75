import FuzzSupport
import HTTPServer

/// libFuzzer entry point: feeds arbitrary bytes to the request parser the way a connection does (request after
/// request until one is incomplete or refused) and checks the parser's promises: a request's length is
/// positive and within the input, and a refusal is a 4xx/5xx status. Each request's content negotiation
/// runs too, and the input itself is gzip-compressed and inflated back (under AddressSanitizer, so the
/// encoder's table and window arithmetic is checked on every input).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if size <= 16384 {  // larger inputs add time, not paths
        precondition(inflateFixed(Gzip.compress(bytes)) == bytes, "gzip round trip differs")
    }
    let parser = HTTPRequestParser()
    var offset = 0
    while offset < bytes.count {
        switch parser.parse(bytes[offset...]) {
        case .request(let request, let length):
            precondition(length > 0 && offset + length <= bytes.count, "request length out of bounds")
            precondition(!request.method.isEmpty && (request.path.hasPrefix("/") || request.path == "*"))
            let response = HTTPResponse(status: 200, body: bytes).compressed(for: request, minimumBytes: 0)
            precondition(response.headers.contains { $0.name == "Content-Encoding" } == request.acceptsGzip)
            _ = request.keepAlive
            offset += length
        case .incomplete:
            return 0
        case .error(let status, _):
            precondition((400...505).contains(status), "refusal with status \(status)")
            return 0
        }
    }
    return 0
}

/// The inverse of `Gzip.compress`, for the single fixed-Huffman block it writes (RFC 1951 §3.2.6): the oracle
/// of the round trip. Nil when the stream is not what the encoder promises, or its CRC or size is wrong.
func inflateFixed(_ gzip: [UInt8]) -> [UInt8]? {
    guard gzip.count >= 18, gzip[0] == 0x1F, gzip[1] == 0x8B, gzip[2] == 8, gzip[3] == 0 else { return nil }
    var position = 10 * 8  // in bits, after the header
    let end = (gzip.count - 8) * 8
    func bit() -> Int? {
        guard position < end else { return nil }
        defer { position += 1 }
        return Int(gzip[position >> 3] >> UInt8(position & 7)) & 1
    }
    func bits(_ count: Int) -> Int? {  // least significant first
        var value = 0
        for shift in 0..<count {
            guard let next = bit() else { return nil }
            value |= next << shift
        }
        return value
    }
    func huffman(_ count: Int) -> Int? {  // most significant first
        var value = 0
        for _ in 0..<count {
            guard let next = bit() else { return nil }
            value = value << 1 | next
        }
        return value
    }
    func literalOrLength() -> Int? {
        guard let seven = huffman(7) else { return nil }
        if seven <= 0b001_0111 { return 256 + seven }
        guard let eighth = bit() else { return nil }
        let eight = seven << 1 | eighth
        if (0x30...0xBF).contains(eight) { return eight - 0x30 }
        if (0xC0...0xC7).contains(eight) { return 280 + eight - 0xC0 }
        guard let ninth = bit() else { return nil }
        return 144 + (eight << 1 | ninth) - 0x190
    }
    let lengthBases = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
        163, 195, 227, 258,
    ]
    let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    let distanceBases = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ]
    let distanceExtra = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
        13,
    ]
    guard bits(3) == 0b011 else { return nil }  // final block, fixed codes
    var output: [UInt8] = []
    while true {
        guard let symbol = literalOrLength() else { return nil }
        if symbol < 256 {
            output.append(UInt8(symbol))
            continue
        }
        if symbol == 256 { break }
        let index = symbol - 257
        guard index < 29, let extra = bits(lengthExtra[index]), let code = huffman(5), code < 30,
            let distanceBits = bits(distanceExtra[code])
        else { return nil }
        let length = lengthBases[index] + extra
        let distance = distanceBases[code] + distanceBits
        guard distance <= output.count else { return nil }
        for _ in 0..<length { output.append(output[output.count - distance]) }
    }
    let trailer = gzip.suffix(8).map { UInt32($0) }
    let crc = trailer[0] | trailer[1] << 8 | trailer[2] << 16 | trailer[3] << 24
    let size = trailer[4] | trailer[5] << 8 | trailer[6] << 16 | trailer[7] << 24
    guard crc == Gzip.crc32(output), size == UInt32(truncatingIfNeeded: output.count) else { return nil }
    return output
}

/// The entry point SwiftPM links for this executable target (see `FuzzSupport`).
@_cdecl("HTTPRequestParserFuzzer_main")
func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
