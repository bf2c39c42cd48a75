import CEpoll
import InMemoryLogging
import Logging
import Platform
import TestSupport
import Testing

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// Failures injected into the server's system calls (its ``SocketCalls``), switched on and off by a test.
private final class Faults: Sendable {
    private struct State {
        /// While set, `accept4` fails with this code.
        var acceptError: Int32?
        var acceptCalls = 0
        /// Fail this many `EPOLL_CTL_ADD`s of connections (never the listener's or the wake descriptor's).
        var failConnectionAdds = 0
        var connectionAddsFailed = 0
        /// While set, `recv` on connections fails with this code.
        var receiveError: Int32?
    }

    private let state = Locked(State())
    let listener: Int32

    init(listener: Int32) { self.listener = listener }

    func failAccept(with code: Int32?) { state.withLock { $0.acceptError = code } }
    func failConnectionAdds(_ count: Int) { state.withLock { $0.failConnectionAdds = count } }
    func failReceive(with code: Int32?) { state.withLock { $0.receiveError = code } }
    var acceptCalls: Int { state.withLock { $0.acceptCalls } }
    var connectionAddsFailed: Int { state.withLock { $0.connectionAddsFailed } }

    var calls: SocketCalls {
        let system = SocketCalls.system
        var calls = system
        calls.rawAccept = { [self] listener, address, length in
            let failure: Int32? = state.withLock { state in
                state.acceptCalls += 1
                return state.acceptError
            }
            if let failure {
                errno = failure
                return -1
            }
            return system.rawAccept(listener, address, length)
        }
        calls.rawEpollControl = { [self] epoll, operation, fd, event in
            // A connection's descriptor is added with a nonzero serial in the upper half of its tag.
            if operation == EPOLL_CTL_ADD, fd != listener, let event, event.pointee.data.u64 >> 32 != 0 {
                let fail = state.withLock { state in
                    guard state.failConnectionAdds > 0 else { return false }
                    state.failConnectionAdds -= 1
                    state.connectionAddsFailed += 1
                    return true
                }
                if fail {
                    errno = ENOMEM
                    return -1
                }
            }
            return system.rawEpollControl(epoll, operation, fd, event)
        }
        calls.rawReceive = { [self] fd, buffer, count, flags in
            if let failure = state.withLock({ $0.receiveError }) {
                errno = failure
                return -1
            }
            return system.rawReceive(fd, buffer, count, flags)
        }
        return calls
    }
}

private func withFaultyServer(_ body: (Int, Faults, InMemoryLogHandler) async throws -> Void) async throws {
    let listener = try Listener.bind(host: "127.0.0.1", port: 0)
    let faults = Faults(listener: listener.fileDescriptor)
    let logs = InMemoryLogHandler()
    let server = try HTTPServer(
        listener: listener,
        logger: Logger(label: "test") { _ in logs },
        calls: faults.calls
    ) { request in .now(.text(200, "path=\(request.path)")) }
    try server.start()
    defer { server.shutdown() }
    try await body(listener.port, faults, logs)
}

private func messages(_ logs: InMemoryLogHandler, containing text: String) -> Int {
    logs.entries.filter { $0.message.description.contains(text) }.count
}

@Suite("The server's failure paths, through its system-call seam", .serialized)
struct SocketFaultTests {
    @Test("Out of descriptors: accepting pauses instead of spinning, open connections are served, then it recovers")
    func outOfDescriptors() async throws {
        try await withFaultyServer { port, faults, logs in
            let established = try RawHTTPClient(port: port)
            established.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(established.readResponse()?.body == "path=/before")

            faults.failAccept(with: EMFILE)
            let waiting = try RawHTTPClient(port: port)  // sits in the kernel's backlog meanwhile
            waiting.send("GET /waiting HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(await waitUntil { messages(logs, containing: "out of file descriptors") == 1 })
            let callsBefore = faults.acceptCalls
            let started = MonotonicClock.nanoseconds()
            try await Task.sleep(for: .milliseconds(500))
            let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
            // A spinning loop retries accept4 some 100,000 times a second; a pausing one 20 times (every 50 ms).
            // The bound is a rate, so a slow, loaded machine (a sleep that overruns) cannot fail it.
            let rate = Double(faults.acceptCalls - callsBefore) / seconds
            #expect(rate <= 200, "accept4 called \(rate) times a second while out of descriptors")
            established.send("GET /during HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(established.readResponse()?.body == "path=/during")
            #expect(messages(logs, containing: "out of file descriptors") == 1)

            faults.failAccept(with: nil)
            #expect(waiting.readResponse()?.body == "path=/waiting")
            #expect(messages(logs, containing: "accepting connections again") == 1)
        }
    }

    @Test("A connection the event loop cannot register is closed, not left counted and never served")
    func failedRegistration() async throws {
        try await withFaultyServer { port, faults, logs in
            faults.failConnectionAdds(1)
            let refused = try RawHTTPClient(port: port, timeoutSeconds: 30)
            refused.send("GET /lost HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(refused.isClosedByPeer(), "the unregistered connection must be closed, not left hanging")
            #expect(faults.connectionAddsFailed == 1)
            #expect(messages(logs, containing: "cannot add a socket to the event loop") == 1)
            #expect(try RawHTTPClient.get("/next", port: port)?.body == "path=/next")
        }
    }

    @Test("A read that fails (connection reset) closes that connection only")
    func failedReceive() async throws {
        try await withFaultyServer { port, faults, _ in
            let victim = try RawHTTPClient(port: port, timeoutSeconds: 30)
            faults.failReceive(with: ECONNRESET)
            victim.send("GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(victim.isClosedByPeer())
            faults.failReceive(with: nil)
            #expect(try RawHTTPClient.get("/after", port: port)?.body == "path=/after")
        }
    }
}
