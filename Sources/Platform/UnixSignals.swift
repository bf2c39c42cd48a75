#if canImport(Glibc)
import Glibc
#endif

/// The write end of the self-pipe the signal handler writes to; set once before handlers are installed.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Delivers Unix signals as an `AsyncStream`.
///
/// The handler does the one async-signal-safe thing, writing the signal number to a pipe (the
/// self-pipe trick); a thread of its own reads the pipe and yields. Unlike a blocked mask and
/// `sigwait`, this does not depend on which thread the runtime runs top-level code on, or on the
/// masks of threads that Dispatch starts.
public final class UnixSignals: Sendable {
    /// The signals, in the order they arrived.
    public let signals: AsyncStream<Int32>

    private init(signals: AsyncStream<Int32>) {
        self.signals = signals
    }

    /// Installs handlers for `numbers` and starts the reading thread. `SIGPIPE` is ignored as well:
    /// a client that goes away must not kill the server. Call once.
    public static func handle(_ numbers: [Int32]) -> UnixSignals {
        signal(SIGPIPE, SIG_IGN)
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0, "pipe failed: \(Errno.current("pipe"))")
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        signalPipeWriteEnd = ends[1]
        for number in numbers {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                // The interrupted code may be about to read errno: leave it as it was.
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
                errno = saved
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let readEnd = ends[0]
        _ = PlatformThread(name: "signals") {
            while true {
                var byte: UInt8 = 0
                guard let count = try? Syscall.retrying("read", { read(readEnd, &byte, 1) }), count == 1 else { return }
                continuation.yield(Int32(byte))
            }
        }
        return UnixSignals(signals: stream)
    }

    /// The name of a signal number, for logs.
    public static func name(_ number: Int32) -> String {
        switch number {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}

/// The process environment as a dictionary (read once at startup).
public enum ProcessEnvironment {
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
