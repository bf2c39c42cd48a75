import CPthread

#if canImport(Glibc)
import Glibc
#endif

/// A joinable POSIX thread running one closure.
///
/// Blocking work (the inotify read loop, the HTTP event loop, the state actor's executor) runs on
/// threads of its own so that it never occupies Swift's cooperative pool, which has one thread per
/// core (two on the machines this runs on).
public final class PlatformThread: @unchecked Sendable {
    private var handle = pthread_t()

    private final class Box {
        let body: () -> Void
        init(body: @escaping () -> Void) {
            self.body = body
        }
    }

    /// Starts a thread running `body`; `name` says what it is for in crash reports and debuggers.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        // The kernel keeps 15 bytes of a thread's name (`/proc/<pid>/task/<tid>/comm`, `top -H`, gdb).
        let shortName = String(decoding: name.utf8.prefix(15), as: UTF8.self)
        let named: @Sendable () -> Void = {
            _ = pthread_setname_np(pthread_self(), shortName)
            body()
        }
        let box = Unmanaged.passRetained(Box(body: named)).toOpaque()
        let result = pthread_create(
            &handle,
            nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            },
            box
        )
        precondition(result == 0, "pthread_create failed: \(Errno(result).description)")
    }

    /// Waits for the thread to finish.
    public func join() {
        pthread_join(handle, nil)
    }
}
