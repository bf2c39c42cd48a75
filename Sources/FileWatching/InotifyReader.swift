import CInotify
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The calls the reader's thread makes: the kernel's, or in tests ones scripted to overflow or fail. `EINTR` is
/// retried here; a failure is thrown as an ``Errno`` naming the call.
struct ReaderCalls: Sendable {
    var rawPoll: @Sendable (_ fds: UnsafeMutablePointer<pollfd>, _ count: UInt, _ timeout: Int32) -> Int32
    var rawRead: @Sendable (_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int

    static let system = ReaderCalls(
        rawPoll: { Glibc.poll($0, $1, $2) },
        rawRead: { Glibc.read($0, $1, $2) }
    )

    /// Descriptors ready (0: timed out).
    func poll(_ fds: inout [pollfd], timeout: Int32) throws(Errno) -> Int32 {
        let count = UInt(fds.count)
        return try fds.withUnsafeMutableBufferPointer { buffer throws(Errno) in
            try Syscall.retrying("poll") { rawPoll(buffer.baseAddress!, count, timeout) }
        }
    }

    /// Bytes read; `nil` when nothing is queued (`EAGAIN`: the descriptor is non-blocking).
    func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int? {
        do {
            return try Syscall.retrying("read") { rawRead(fd, buffer.baseAddress!, buffer.count) }
        } catch {
            if error.wouldBlock { return nil }
            throw error
        }
    }
}

/// Reads an ``Inotify`` instance on a thread of its own and delivers the events as an `AsyncSequence`
/// of batches.
///
/// The blocking `poll(2)` never runs on the cooperative pool; ``stop()`` wakes it through an eventfd.
/// Events are coalesced: the first event after a quiet spell is delivered at once, and while events keep
/// coming, the reader delivers at most one batch per `coalescingInterval`, reading everything the kernel
/// queued meanwhile (identical events merge in the kernel queue). A file appended a million times then costs
/// a few hundred wake-ups, not a million thread hand-offs.
/// The stream's buffer is bounded: when the consumer falls more than `bufferedBatches` behind, newer
/// batches are dropped and a synthetic ``InotifyEvent/overflow`` is delivered as soon as there is room,
/// exactly as if the kernel queue had overflowed, so the consumer rescans instead of drifting.
public final class InotifyReader: Sendable {
    /// The batches of events, in kernel order.
    public let events: AsyncStream<[InotifyEvent]>

    private let continuation: AsyncStream<[InotifyEvent]>.Continuation
    /// Held so that its descriptor, which it closes when it goes, stays open while this reader reads it.
    private let inotify: Inotify?
    private let inotifyDescriptor: Int32
    private let thread: WakeableThread
    private let coalescingNanoseconds: UInt64
    private let calls: ReaderCalls

    /// Creates a reader of `inotify`. Call ``start()`` to begin reading.
    public convenience init(
        inotify: Inotify,
        bufferedBatches: Int = 4096,
        coalescingInterval: Double = 0.005
    ) throws(Errno) {
        try self.init(
            descriptor: inotify.fileDescriptor,
            owner: inotify,
            bufferedBatches: bufferedBatches,
            coalescingInterval: coalescingInterval
        )
    }

    /// A reader of a raw descriptor that something else keeps open (tests hand it one that is not open), whose
    /// system calls go through `calls` (tests script them).
    init(
        descriptor: Int32,
        owner: Inotify? = nil,
        bufferedBatches: Int = 4096,
        coalescingInterval: Double = 0.005,
        calls: ReaderCalls = .system
    ) throws(Errno) {
        self.calls = calls
        inotify = owner
        inotifyDescriptor = descriptor
        coalescingNanoseconds = UInt64(max(0, coalescingInterval) * 1e9)
        thread = try WakeableThread()
        (events, continuation) = AsyncStream.makeStream(
            of: [InotifyEvent].self,
            bufferingPolicy: .bufferingOldest(bufferedBatches)
        )
    }

    /// Starts the reading thread.
    public func start() {
        let inotifyDescriptor = inotifyDescriptor
        let wakeDescriptor = thread.wakeDescriptor
        let continuation = continuation
        let interval = coalescingNanoseconds
        let calls = calls
        thread.start(name: "inotify-reader") {
            Self.readLoop(
                calls: calls,
                inotify: inotifyDescriptor,
                wake: wakeDescriptor,
                interval: interval,
                continuation: continuation
            )
        }
    }

    /// Wakes the reading thread, waits for it to end, and finishes the stream.
    public func stop() {
        thread.stop()
        continuation.finish()
    }

    /// Events read in one delivery at most (a few reads of the 64 KiB buffer), so one batch stays bounded.
    private static let maximumBatch = 16384

    private static func readLoop(
        calls: ReaderCalls,
        inotify: Int32,
        wake: Int32,
        interval: UInt64,
        continuation: AsyncStream<[InotifyEvent]>.Continuation
    ) {
        let bufferSize = max(64 * 1024, InotifyDecoder.minimumBufferSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        var pendingOverflow = false
        var nextDelivery: UInt64 = 0
        var fds = [
            pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        var wakeOnly = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while true {
            // Within the coalescing window after a delivery, wait for the window's end (or a stop) only.
            let now = MonotonicClock.nanoseconds()
            if now < nextDelivery {
                wakeOnly[0].revents = 0
                let milliseconds = Int32((nextDelivery - now + 999_999) / 1_000_000)
                if (try? calls.poll(&wakeOnly, timeout: milliseconds)) ?? 0 > 0 && wakeOnly[0].revents != 0 { return }
                if MonotonicClock.nanoseconds() < nextDelivery { continue }
            }
            fds[0].revents = 0
            fds[1].revents = 0
            // While an overflow notice is waiting for room in the stream, poll with a timeout so it is retried.
            do {
                _ = try calls.poll(&fds, timeout: pendingOverflow ? 10 : -1)
            } catch {
                // Cannot wait any more: end the stream, so the consumer knows events stopped.
                continuation.finish()
                return
            }
            if fds[1].revents != 0 { return }
            // POLLNVAL (the descriptor was closed) or POLLERR would be reported again at once, forever: end.
            if fds[0].revents & Int16(POLLNVAL | POLLERR) != 0 {
                continuation.finish()
                return
            }
            if pendingOverflow, case .enqueued = continuation.yield([.overflow]) {
                pendingOverflow = false
            }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            // Everything queued now, in one batch (the descriptor is non-blocking: EAGAIN ends it).
            var batch: [InotifyEvent] = []
            while batch.count < maximumBatch {
                let count: Int
                do {
                    guard let read = try calls.read(inotify, buffer) else { break }
                    count = read
                } catch {
                    // The instance is broken: end the stream, so the consumer knows events stopped.
                    continuation.finish()
                    return
                }
                if count == 0 { break }
                batch += InotifyDecoder.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count])).0
            }
            if batch.isEmpty { continue }
            if pendingOverflow { continue }  // Dropped anyway: the rescan after the overflow covers it.
            switch continuation.yield(batch) {
            case .enqueued: nextDelivery = MonotonicClock.nanoseconds() + interval
            case .dropped: pendingOverflow = true
            case .terminated: return
            @unknown default: return
            }
        }
    }
}
