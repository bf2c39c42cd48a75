#if canImport(Glibc)
import Glibc
#endif

/// A value behind a `pthread_mutex_t`: the lock this codebase uses instead of `Synchronization.Mutex`.
///
/// Why not `Mutex`: on Linux its contended path (`_lockSlow`, futex waits) is compiled into the Swift runtime,
/// which is not built with ThreadSanitizer, so under contention TSan cannot see the hand-over between the two
/// holders and reports their accesses as a race (CI's `make tsan` did, twice, on correct code). `pthread_mutex_lock`
/// is intercepted by TSan, so every lock and unlock is seen. The cost is one allocation per lock and a call
/// instead of an inlined compare-exchange, which none of our locks (held to copy a struct or swap a slot) can feel.
/// The shape follows swift-nio's `NIOLockedValueBox`.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched between `pthread_mutex_lock` and `pthread_mutex_unlock` of `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: sending Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock; `body` must not take this lock again.
    public func withLock<Result, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
