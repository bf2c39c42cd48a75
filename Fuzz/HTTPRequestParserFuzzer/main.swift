import FuzzSupport
import HTTPServer

/// libFuzzer entry point: feeds arbitrary bytes to the request parser the way a connection does (request after
/// request until one is incomplete or refused) and checks the parser's promises: a request's length is
/// positive and within the input, and a refusal is a 4xx/5xx status. Each request's content negotiation
/// runs too, and the input itself makes a round trip through zlib (compressed, then inflated back).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if size <= 16384 {  // larger inputs add time, not paths
        let compressed = Gzip.compress(bytes)
        precondition(compressed.flatMap { Gzip.decompress($0) } == bytes, "gzip round trip through zlib differs")
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

/// The entry point SwiftPM links for this executable target (see `FuzzSupport`).
@_cdecl("HTTPRequestParserFuzzer_main")
func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
