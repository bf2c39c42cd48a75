#if canImport(Glibc)
import Glibc
#endif

/// An error number from a failed system call, with the call's name for context.
///
/// Two values are equal when both the number and the call are: code that branches on the cause compares
/// ``code`` (`error.code == ENOENT`), as the exporter does everywhere.
///
/// Carrying the `errno` value (instead of a message string) lets callers branch on the cause
/// (`ENOENT` is normal for a directory that does not exist yet, `EACCES` makes the exporter
/// unhealthy, `ENOSPC` from `inotify_add_watch` means the node-wide watch limit) and lets tests
/// inject exact failures through the fakes.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public var code: Int32
    /// The system call that failed, e.g. `"openat"`.
    public var call: String

    public init(_ code: Int32, call: String = "") {
        self.code = code
        self.call = call
    }

    /// The last error of the calling thread.
    public static func current(_ call: String) -> Errno { Errno(errno, call: call) }

    /// The name of the error code (`ENOENT`) where it is one the exporter knows, else its number.
    public var name: String {
        switch code {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EEXIST: "EEXIST"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case ENOSPC: "ENOSPC"
        case ELOOP: "ELOOP"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case ECONNRESET: "ECONNRESET"
        case EPIPE: "EPIPE"
        default: "errno \(code)"
        }
    }

    /// `strerror(3)` text, e.g. "No such file or directory".
    public var message: String {
        guard let text = strerror(code) else { return name }
        return String(cString: text)
    }

    public var description: String {
        call.isEmpty ? "\(message) (\(name))" : "\(call): \(message) (\(name))"
    }
}

extension Errno {
    /// A non-blocking descriptor has nothing to give or take now (`EAGAIN`, `EWOULDBLOCK`): try again when polled.
    public var wouldBlock: Bool { code == EAGAIN || code == EWOULDBLOCK }
}

/// The one seam system calls go through: retries `EINTR` and turns `-1` into a thrown ``Errno``.
public enum Syscall {
    /// Runs `body` until it does not fail with `EINTR`; a result of `-1` throws the thread's `errno`.
    @inline(__always)
    public static func retrying<Result: FixedWidthInteger>(
        _ call: String,
        _ body: () -> Result
    ) throws(Errno) -> Result {
        while true {
            let result = body()
            if result != -1 { return result }
            let error = errno
            if error == EINTR { continue }
            throw Errno(error, call: call)
        }
    }

    /// Closes a descriptor, ignoring `EINTR` (on Linux the descriptor is released either way).
    public static func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }
}
