#if canImport(Glibc)
import Glibc
#endif

/// A serial executor backed by one dedicated thread.
///
/// The state actor runs on it: its work includes `stat`/`getdents` calls (a full rescan of 100,000
/// files takes tens of milliseconds) that must not occupy a thread of the cooperative pool.
public final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var thread: PlatformThread?

    /// Starts the executor's thread, named `name`.
    public init(name: String) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        // The thread keeps the executor alive for the life of the process, which is how long actors use it.
        thread = PlatformThread(name: name) { self.run() }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(&mutex)
        jobs.append(unowned)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    private func run() -> Never {
        while true {
            pthread_mutex_lock(&mutex)
            while head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
                pthread_cond_wait(&condition, &mutex)
            }
            let job = jobs[head]
            head += 1
            pthread_mutex_unlock(&mutex)
            job.runSynchronously(on: asUnownedSerialExecutor())
        }
    }
}
