import CInotify
import Platform
import Testing

@testable import FileWatching

#if canImport(Glibc)
import Glibc
#endif

/// Scripted kernel answers for an ``InotifyReader``'s calls: what each `read` returns, and whether `poll` fails or
/// reports an error. The wake descriptor is polled for real, so ``InotifyReader/stop()`` works as in production.
private final class Script: Sendable {
    enum Read {
        case bytes([UInt8])
        case failure(Int32)
    }

    private struct State {
        var reads: [Read] = []
        /// The last poll reported the inotify descriptor readable: the next read gets the next scripted answer.
        var armed = false
        var pollFailure: Int32?
        var pollEvents: Int16 = 0
    }

    private let state = Locked(State())

    func push(_ read: Read) { state.withLock { $0.reads.append(read) } }
    func failPoll(with code: Int32) { state.withLock { $0.pollFailure = code } }
    func report(_ events: Int16) { state.withLock { $0.pollEvents = events } }
    var pending: Int { state.withLock { $0.reads.count } }

    var calls: ReaderCalls {
        let system = ReaderCalls.system
        return ReaderCalls(
            rawPoll: { [self] fds, count, timeout in
                let deadline = timeout < 0 ? UInt64.max : MonotonicClock.nanoseconds() + UInt64(timeout) * 1_000_000
                while true {
                    // The wake descriptor is always the last one.
                    var wake = fds[Int(count) - 1]
                    wake.revents = 0
                    _ = system.rawPoll(&wake, 1, 1)
                    fds[Int(count) - 1].revents = wake.revents
                    if count == 2 {
                        let answer: (failure: Int32?, events: Int16) = state.withLock { state in
                            if let failure = state.pollFailure { return (failure, 0) }
                            state.armed = !state.reads.isEmpty
                            return (nil, state.armed ? Int16(POLLIN) : state.pollEvents)
                        }
                        if let failure = answer.failure {
                            errno = failure
                            return -1
                        }
                        fds[0].revents = answer.events
                    }
                    let ready = (0..<Int(count)).filter { fds[$0].revents != 0 }.count
                    if ready > 0 || MonotonicClock.nanoseconds() >= deadline { return Int32(ready) }
                }
            },
            rawRead: { [self] _, buffer, capacity in
                let next: Read? = state.withLock { state in
                    guard state.armed, !state.reads.isEmpty else { return nil }
                    state.armed = false
                    return state.reads.removeFirst()
                }
                switch next {
                case nil:
                    errno = EAGAIN
                    return -1
                case .failure(let code):
                    errno = code
                    return -1
                case .bytes(let bytes):
                    let count = min(bytes.count, capacity)
                    bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: count) }
                    return count
                }
            }
        )
    }
}

/// One `struct inotify_event` record.
private func record(wd: Int32, mask: UInt32, name: String) -> [UInt8] {
    var bytes: [UInt8] = []
    let padded = (name.utf8.count + 1 + 15) / 16 * 16
    for value in [UInt32(bitPattern: wd), mask, 0, UInt32(padded)] {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
    return bytes + Array(name.utf8) + [UInt8](repeating: 0, count: padded - name.utf8.count)
}

/// Collects what the stream delivers until it ends, or `timeout` seconds pass (then `ended` is false).
private func drain(_ reader: InotifyReader, timeout: Double = 20) async -> (batches: [[InotifyEvent]], ended: Bool) {
    let collected = Locked<[[InotifyEvent]]>([])
    let finished = Locked(false)
    let consumer = Task {
        for await batch in reader.events { collected.withLock { $0.append(batch) } }
        finished.withLock { $0 = true }
    }
    let deadline = MonotonicClock.nanoseconds() + UInt64(timeout * 1e9)
    while !finished.withLock({ $0 }) && MonotonicClock.nanoseconds() < deadline {
        try? await Task.sleep(for: .milliseconds(10))
    }
    consumer.cancel()
    return (collected.withLock { $0 }, finished.withLock { $0 })
}

@Suite("The inotify reader's overflow and end, through its system-call seam", .serialized, .timeLimit(.minutes(2)))
struct ReaderFaultTests {
    @Test("A consumer that falls behind gets the batches that fit, then an overflow notice, then events again")
    func streamOverflow() async throws {
        let script = Script()
        for index in 0..<5 { script.push(.bytes(record(wd: 1, mask: UInt32(IN_MODIFY), name: "f\(index)"))) }
        let reader = try InotifyReader(
            descriptor: 900_001,
            bufferedBatches: 2,
            coalescingInterval: 0,
            calls: script.calls
        )
        reader.start()
        defer { reader.stop() }
        // Nothing consumes until the reader has read all five: two fit, three are dropped.
        let deadline = MonotonicClock.nanoseconds() + 20_000_000_000
        while script.pending > 0 && MonotonicClock.nanoseconds() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(script.pending == 0)
        var iterator = reader.events.makeAsyncIterator()
        #expect(await iterator.next()?.map(\.name) == ["f0"])
        #expect(await iterator.next()?.map(\.name) == ["f1"])
        let notice = await iterator.next()
        #expect(notice?.count == 1 && notice?.first?.mask.contains(.queueOverflow) == true)
        script.push(.bytes(record(wd: 1, mask: UInt32(IN_MODIFY), name: "after")))
        #expect(await iterator.next()?.map(\.name) == ["after"])
    }

    @Test("The kernel's own overflow record reaches the consumer as an overflow")
    func kernelOverflow() async throws {
        let script = Script()
        script.push(.bytes(record(wd: -1, mask: UInt32(IN_Q_OVERFLOW), name: "")))
        let reader = try InotifyReader(descriptor: 900_001, calls: script.calls)
        reader.start()
        defer { reader.stop() }
        var iterator = reader.events.makeAsyncIterator()
        let batch = await iterator.next()
        #expect(batch?.first?.mask.contains(.queueOverflow) == true)
        #expect(batch?.first?.descriptor == WatchDescriptor(-1))
    }

    @Test("A failing read, a failing poll, or an error on the descriptor ends the stream (no spin, no silence)")
    func streamEnds() async throws {
        let readFails = Script()
        readFails.push(.bytes(record(wd: 1, mask: UInt32(IN_CREATE), name: "seen")))
        readFails.push(.failure(EIO))
        let pollFails = Script()
        pollFails.failPoll(with: ENOMEM)
        let descriptorErrs = Script()
        descriptorErrs.report(Int16(POLLERR))
        for (script, expected) in [(readFails, [["seen"]]), (pollFails, []), (descriptorErrs, [])] {
            let reader = try InotifyReader(descriptor: 900_001, coalescingInterval: 0, calls: script.calls)
            reader.start()
            let (batches, ended) = await drain(reader)
            #expect(ended, "the stream did not end within 20 s")
            #expect(batches.map { $0.map { $0.name ?? "" } } == expected)
            reader.stop()
        }
    }
}
