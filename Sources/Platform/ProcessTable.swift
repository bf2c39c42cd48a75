#if canImport(Glibc)
import Glibc
#endif

/// Where the exporter looks up other processes: `/proc`, or a fake in tests.
public protocol ProcessTable: Sendable {
    /// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot), or `nil` if no such process is
    /// visible.
    func startTicks(of pid: Int32) -> UInt64?
    /// Whether processes outside this process's own container are visible. When they are not, a pid that
    /// is not found may belong to a live process: its absence proves nothing.
    var seesOtherProcesses: Bool { get }
    /// This process's own pid, which a registry entry may name but never as a live agent.
    var ownProcessID: Int32 { get }
}

/// The real process table.
public struct LocalProcessTable: ProcessTable {
    /// Other processes are taken as visible unless this process is pid 1 of its own pid namespace, which is
    /// what a container's entrypoint is when the pod does not share its process namespace (with
    /// `shareProcessNamespace: true`, pid 1 is the pod's pause process; on a host, it is the init system).
    public let seesOtherProcesses: Bool

    public let ownProcessID: Int32

    public init() {
        ownProcessID = getpid()
        seesOtherProcesses = ownProcessID != 1
    }

    public func startTicks(of pid: Int32) -> UInt64? {
        guard pid > 0, let stat = try? SmallFile.read("/proc/\(pid)/stat", limit: 4096).bytes else { return nil }
        return ProcStat.startTicks(stat)
    }
}
