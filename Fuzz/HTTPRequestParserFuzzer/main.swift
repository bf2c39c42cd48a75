import HTTPServer

/// libFuzzer entry point: feeds arbitrary bytes to the request parser the way a connection does (request after
/// request until one is incomplete or refused) and checks the parser's promises: a request's length is
/// positive and within the input, and a refusal is a 4xx/5xx status.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let parser = HTTPRequestParser()
    var offset = 0
    while offset < bytes.count {
        switch parser.parse(bytes[offset...]) {
        case .request(let request, let length):
            precondition(length > 0 && offset + length <= bytes.count, "request length out of bounds")
            precondition(!request.method.isEmpty && (request.path.hasPrefix("/") || request.path == "*"))
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

// SwiftPM links an executable target's entry point as `<module>_main` (it points `main` there), so libFuzzer's
// own `main` is not used: this entry hands the command line to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("HTTPRequestParserFuzzer_main")
func fuzzerMain(
    _ argc: Int32,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
