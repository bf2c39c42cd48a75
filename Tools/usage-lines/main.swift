import TokenUsage

#if canImport(Glibc)
import Glibc
#endif

// Reads lines on standard input and prints, for each, what the token-usage reader makes of it, one line each:
//   irrelevant
//   skipped <reason>
//   usage <model as hex UTF-8, or -> <input> <output> <cache creation> <cache read> <response hash as hex, or ->
// Tests/usage_differential.py compares this with the same rules written over Python's json module.

var input: [UInt8] = []
var chunk = [UInt8](repeating: 0, count: 1 << 16)
while true {
    let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
    if count <= 0 { break }
    input.append(contentsOf: chunk[..<count])
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

var output = ""
var start = 0
while start < input.count {
    let end = input[start...].firstIndex(of: 0x0A) ?? input.count
    let verdict = input[start..<end].withUnsafeBytes { UsageLine.read($0) }
    switch verdict {
    case .irrelevant:
        output += "irrelevant\n"
    case .skipped(let reason):
        output += "skipped \(reason.rawValue)\n"
    case .usage(let record):
        let model = record.model.map { hex($0.utf8) } ?? "-"
        let response = record.response.map { String($0, radix: 16) } ?? "-"
        let tokens = record.tokens
        output +=
            "usage \(model) \(tokens.input) \(tokens.output) \(tokens.cacheCreation) \(tokens.cacheRead) \(response)\n"
    }
    if output.utf8.count > 1 << 16 {
        print(output, terminator: "")
        output = ""
    }
    start = end + 1
}
print(output, terminator: "")
