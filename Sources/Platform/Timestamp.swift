#if canImport(Glibc)
import Glibc
#endif

/// A point in wall-clock time with nanosecond precision, as file modification times are stored.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Whole seconds since the Unix epoch.
    public var seconds: Int64
    /// Nanoseconds within the second, `0..<1_000_000_000`.
    public var nanoseconds: Int64

    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The Unix epoch; used as "no activity yet".
    public static let zero = Timestamp(seconds: 0)

    init(_ spec: timespec) {
        self.init(seconds: Int64(spec.tv_sec), nanoseconds: Int64(spec.tv_nsec))
    }

    /// Seconds since the epoch as a floating-point number, as the Prometheus format wants it.
    public var secondsSinceEpoch: Double {
        Double(seconds) + Double(nanoseconds) / 1_000_000_000
    }

    /// The current wall-clock time (`CLOCK_REALTIME`).
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(spec)
    }

    /// `self + seconds`, for deadlines. Saturates instead of trapping: an enormous `delta` gives the
    /// earliest or latest representable time; NaN changes nothing.
    public func adding(seconds delta: Double) -> Timestamp {
        guard !delta.isNaN else { return self }
        let whole = delta.rounded(.down)
        guard abs(whole) < 9.2e18 else { return delta > 0 ? .latest : .earliest }
        var nanos = nanoseconds + Int64(((delta - whole) * 1_000_000_000).rounded())
        let (sum, overflow) = seconds.addingReportingOverflow(Int64(whole))
        guard !overflow else { return delta > 0 ? .latest : .earliest }
        var secs = sum
        if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000
            guard secs < Int64.max else { return .latest }
            secs += 1
        }
        return Timestamp(seconds: secs, nanoseconds: nanos)
    }

    /// The latest and earliest representable times, for saturating arithmetic.
    public static let latest = Timestamp(seconds: Int64.max, nanoseconds: 999_999_999)
    public static let earliest = Timestamp(seconds: Int64.min, nanoseconds: 0)

    /// `self - other` in seconds. Computed in floating point, so any two times (a file dated in the year
    /// 292 billion included) give a finite answer instead of an integer overflow trap.
    public func seconds(since other: Timestamp) -> Double {
        let (whole, overflow) = seconds.subtractingReportingOverflow(other.seconds)
        if !overflow, whole.magnitude < 9_000_000_000 {
            // Exact in nanoseconds where that fits (centuries either way).
            return Double(whole * 1_000_000_000 + (nanoseconds - other.nanoseconds)) / 1_000_000_000
        }
        return (Double(seconds) - Double(other.seconds)) + Double(nanoseconds - other.nanoseconds) / 1_000_000_000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    public var description: String { secondsSinceEpoch.description }
}

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`), for durations and deadlines that must not jump.
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
