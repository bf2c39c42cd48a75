#if canImport(Glibc)
import Glibc
#endif

/// Where the exporter looks up other processes: `/proc`, or a fake in tests.
public protocol ProcessTable: Sendable {
    /// Whether `pid` runs, with its start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot).
    func lookUp(_ pid: Int32) -> ProcessLookup
    /// Whether processes outside this process's own container are visible. When they are not, a pid that
    /// is not found may belong to a live process: its absence proves nothing.
    var seesOtherProcesses: Bool { get }
    /// This process's own pid, which a registry entry may name but never as a live agent.
    var ownProcessID: Int32 { get }
    /// The wall-clock time of a start time in clock ticks since boot (`nil` when the boot time is unknown).
    func wallClock(ofStartTicks ticks: UInt64) -> Timestamp?
}

extension ProcessTable {
    public func wallClock(ofStartTicks ticks: UInt64) -> Timestamp? { nil }
}

/// What a look-up in the process table found.
public enum ProcessLookup: Sendable, Equatable {
    /// The process runs, and started at this many clock ticks after boot.
    case running(startTicks: UInt64)
    /// No such process is visible (`ENOENT`).
    case gone
    /// The look-up failed for another reason (out of descriptors or memory, an unreadable line): nothing
    /// is known, and a caller should look again later rather than conclude.
    case unknown
}

/// The real process table.
public struct LocalProcessTable: ProcessTable {
    /// Other processes are taken as visible unless this process is pid 1 of its own pid namespace, which is
    /// what a container's entrypoint is when the pod does not share its process namespace (with
    /// `shareProcessNamespace: true`, pid 1 is the pod's pause process; on a host, it is the init system).
    public let seesOtherProcesses: Bool

    public let ownProcessID: Int32
    private let bootTime: Double?
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    public init() {
        ownProcessID = getpid()
        seesOtherProcesses = ownProcessID != 1
        bootTime = (try? SmallFile.read("/proc/stat", limit: 64 * 1024).bytes).flatMap(ProcStat.bootTime)
    }

    public func wallClock(ofStartTicks ticks: UInt64) -> Timestamp? {
        guard let bootTime, ticksPerSecond > 0 else { return nil }
        let seconds = bootTime + Double(ticks) / ticksPerSecond
        return Timestamp(seconds: Int64(seconds), nanoseconds: Int64((seconds - seconds.rounded(.down)) * 1e9))
    }

    /// A zombie (`Z`) or dead (`X`) process is gone: it runs nothing and will not write again.
    public func lookUp(_ pid: Int32) -> ProcessLookup {
        guard pid > 0 else { return .gone }
        do {
            let stat = try SmallFile.read("/proc/\(pid)/stat", limit: 4096).bytes
            if let state = ProcStat.state(stat), state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") {
                return .gone
            }
            return ProcStat.startTicks(stat).map { .running(startTicks: $0) } ?? .unknown
        } catch {
            return error.code == ENOENT || error.code == ESRCH ? .gone : .unknown
        }
    }
}
