import FuzzSupport
import TokenUsage

/// libFuzzer entry point (under AddressSanitizer): feeds arbitrary bytes to the token-usage line reader, which
/// walks raw memory eight bytes at a time, and checks its promises: never a read outside the line, never a trap;
/// a usage verdict's counts are within 2^53 and its model is non-empty.
/// Agreement with Python's json module is checked by Tests/Differential/usage_differential.py.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // An exact-size copy, so that AddressSanitizer catches a read one byte past the end.
    let line = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
    defer { line.deallocate() }
    if size > 0 { line.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size)) }
    let verdict = UsageLine.read(UnsafeRawBufferPointer(line))
    if case .usage(let record) = verdict {
        for count in [record.tokens.input, record.tokens.output, record.tokens.cacheCreation, record.tokens.cacheRead] {
            precondition(count <= 1 << 53, "count \(count)")
        }
        precondition(record.model.map { !$0.isEmpty } ?? true, "empty model")
    }
    return 0
}

/// The entry point SwiftPM links for this executable target (see `FuzzSupport`).
@_cdecl("UsageLineFuzzer_main")
func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
