import ExporterCore
import FuzzSupport
import Platform

/// libFuzzer entry point: feeds arbitrary bytes to the session registry's parser, as a file in
/// `$CLAUDE_DIR/sessions/` would, and checks its promises: never a trap (any number, any nesting, any bytes),
/// an entry's pid is positive, its strings are bounded, its status time is in range; and the liveness rules
/// evaluated with that entry at the extremes of time and freshness never trap either.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks the file name, so both ways of finding the pid are fuzzed.
    let fileName = size > 0 && data[0] & 1 == 1 ? "4242.json" : "x.json"
    guard case .success(let entry) = RegistryEntry.parse(bytes, fileName: fileName, modified: Timestamp(seconds: 1))
    else { return 0 }
    precondition(entry.pid > 0, "pid \(entry.pid)")
    precondition(entry.sessionID.utf8.count <= RegistryEntry.maxSessionIDBytes, "session id too long")
    precondition(entry.cwd.utf8.count <= RegistryEntry.maxDirectoryBytes, "cwd too long")
    precondition(entry.rawStatus.utf8.count <= RegistryEntry.maxStatusBytes, "status too long")
    if let updated = entry.statusUpdatedAt {
        precondition(updated.seconds >= 0 && updated.seconds < 100_000_000_000_000, "time out of range")
        precondition((0..<1_000_000_000).contains(updated.nanoseconds), "nanoseconds out of range")
    }
    let times: [Timestamp] = [.earliest, .zero, Timestamp(seconds: 1_800_000_000), .latest]
    for processes in [FuzzProcesses(visible: true, pid: entry.pid), FuzzProcesses(visible: false, pid: 1)] {
        for readAt in times {
            for now in times {
                for freshness in [0, 600, 1e300] {
                    _ = entry.liveness(processes: processes, readAt: readAt, now: now, freshness: freshness)
                }
            }
        }
    }
    return 0
}

/// A process table in which the entry's own pid runs with another start time, and this process is `pid`.
struct FuzzProcesses: ProcessTable {
    let visible: Bool
    let pid: Int32
    var seesOtherProcesses: Bool { visible }
    var ownProcessID: Int32 { pid }
    func lookUp(_ pid: Int32) -> ProcessLookup { pid == self.pid ? .running(startTicks: 12_345) : .gone }
}

/// The entry point SwiftPM links for this executable target (see `FuzzSupport`).
@_cdecl("RegistryParserFuzzer_main")
func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
