import CEventFD

#if canImport(Glibc)
import Glibc
#endif

/// A thread running a blocking loop (`poll`, `epoll_wait`) that ``stop()`` wakes through an eventfd: the loop
/// waits on ``wakeDescriptor`` beside its own descriptors and returns once it is readable. The inotify reader,
/// the mount-table monitor and the HTTP event loop are all of this shape.
public final class WakeableThread: Sendable {
    /// Readable once ``stop()`` was called; the loop must return then.
    public let wakeDescriptor: Int32
    private let thread = Locked<PlatformThread?>(nil)

    public init() throws(Errno) {
        wakeDescriptor = try Syscall.retrying("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
    }

    deinit { Syscall.close(wakeDescriptor) }

    /// Starts the thread running `loop`.
    public func start(name: String, _ loop: @escaping @Sendable () -> Void) {
        let started = PlatformThread(name: name, loop)
        thread.withLock { $0 = started }
    }

    /// Wakes the loop and waits for its thread to end (at once if it was never started).
    public func stop() {
        var one: UInt64 = 1
        _ = try? Syscall.retrying("write") { write(wakeDescriptor, &one, 8) }
        thread.withLock { thread in
            defer { thread = nil }
            return thread
        }?.join()
    }
}
