#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` figures, read the way Prometheus client libraries read them on Linux.
public struct ProcessStatistics: Sendable, Equatable {
    /// Resident set size in bytes (`/proc/self/statm`, field 2, times the page size).
    public var residentMemoryBytes: Double
    /// User plus system CPU time in seconds (`getrusage`).
    public var cpuSeconds: Double
    /// Open file descriptors (entries of `/proc/self/fd`).
    public var openFileDescriptors: Double
    /// The soft `RLIMIT_NOFILE`.
    public var maxFileDescriptors: Double

    public init(
        residentMemoryBytes: Double,
        cpuSeconds: Double,
        openFileDescriptors: Double,
        maxFileDescriptors: Double
    ) {
        self.residentMemoryBytes = residentMemoryBytes
        self.cpuSeconds = cpuSeconds
        self.openFileDescriptors = openFileDescriptors
        self.maxFileDescriptors = maxFileDescriptors
    }

    private static let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))

    /// Reads the current figures; a figure that cannot be read is reported as 0.
    public static func current() -> ProcessStatistics {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1_000_000
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1_000_000
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessStatistics(
            residentMemoryBytes: residentPages() * pageSize,
            cpuSeconds: cpu,
            openFileDescriptors: Double(countOpenDescriptors()),
            maxFileDescriptors: limit.rlim_cur == rlim_t.max ? Double.infinity : Double(limit.rlim_cur)
        )
    }

    private static func residentPages() -> Double {
        guard let bytes = try? SmallFile.read("/proc/self/statm", limit: 256).bytes else { return 0 }
        let fields = bytes.split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return Double(pages)
    }

    private static func countOpenDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        // The descriptor opendir itself holds is not one of ours.
        return max(0, count - 1)
    }

    /// When this process started, in Unix seconds: `/proc/self/stat` field 22 plus the boot time.
    public static func startTime() -> Double? {
        guard let stat = try? SmallFile.read("/proc/self/stat", limit: 4096).bytes,
            let ticks = ProcStat.startTicks(stat),
            let bootFile = try? SmallFile.read("/proc/stat", limit: 64 * 1024).bytes,
            let bootTime = ProcStat.bootTime(bootFile)
        else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return bootTime + Double(ticks) / ticksPerSecond
    }
}

/// Parsers for `/proc/<pid>/stat` and `/proc/stat`, separate so tests can feed them text.
public enum ProcStat {
    /// Field 22 (`starttime`, in clock ticks since boot) of a `/proc/<pid>/stat` line.
    ///
    /// Field 2 (`comm`) is in parentheses and may contain spaces and `)`, so parsing starts after
    /// the last `)`, where field 3 begins.
    public static func startTicks(_ stat: [UInt8]) -> UInt64? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// Field 3 (`state`: `R`, `S`, `Z`...) of a `/proc/<pid>/stat` line.
    public static func state(_ stat: [UInt8]) -> UInt8? {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return nil }
        return stat[close + 2]
    }

    /// The `btime` line of `/proc/stat`: boot time in Unix seconds.
    public static func bootTime(_ stat: [UInt8]) -> Double? {
        for line in stat.split(separator: UInt8(ascii: "\n")) where line.starts(with: "btime ".utf8) {
            return Double(String(decoding: line.dropFirst(6), as: UTF8.self))
        }
        return nil
    }
}

/// ``ProcessStatistics`` read at most once per `maxAge`: under a scrape storm the `/proc` reads (seven
/// system calls) would otherwise cost more than rendering the metrics; at normal scrape rates every
/// scrape reads fresh figures.
public final class ProcessStatisticsCache: Sendable {
    private let maxAgeNanoseconds: UInt64
    private let cached = Locked<(time: UInt64, value: ProcessStatistics)?>(nil)

    public init(maxAgeSeconds: Double = 1) {
        maxAgeNanoseconds = UInt64(maxAgeSeconds * 1_000_000_000)
    }

    public func current() -> ProcessStatistics {
        let now = MonotonicClock.nanoseconds()
        if let entry = cached.withLock({ $0 }), now - entry.time < maxAgeNanoseconds { return entry.value }
        let value = ProcessStatistics.current()
        cached.withLock { $0 = (now, value) }
        return value
    }
}
