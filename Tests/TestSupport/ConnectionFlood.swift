import Platform

#if canImport(Glibc)
import Glibc
#endif

/// A local attacker for connection-cap tests: keeps `connections` connections to 127.0.0.1:`port` open on a
/// thread of its own, reconnecting each one the server closes. With `sendOneRequest`, each new connection
/// sends one request, reads its answer and then sits in keep-alive; without, it never sends anything.
/// Bounded: it stops when told, or after `maximumSeconds`.
public final class ConnectionFlood: Sendable {
    private let port: Int
    private let connections: Int
    private let sendOneRequest: Bool
    private let maximumSeconds: Double
    private let state = Locked<(stop: Bool, reconnections: Int)>((false, 0))
    private let thread = Locked<PlatformThread?>(nil)

    public init(port: Int, connections: Int, sendOneRequest: Bool, maximumSeconds: Double = 60) {
        self.port = port
        self.connections = connections
        self.sendOneRequest = sendOneRequest
        self.maximumSeconds = maximumSeconds
    }

    /// How many times a connection closed by the server was opened again.
    public var reconnections: Int { state.withLock { $0.reconnections } }

    public func start() {
        let started = PlatformThread(name: "connection-flood") { [self] in run() }
        thread.withLock { $0 = started }
    }

    public func stop() {
        state.withLock { $0.stop = true }
        thread.withLock { thread in
            defer { thread = nil }
            return thread
        }?.join()
    }

    private func open() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        let result = IPAddress.withSocketAddress(host: "127.0.0.1", port: port) { connect(fd, $0, $1) } ?? -1
        guard result == 0 else {
            close(fd)
            return -1
        }
        if sendOneRequest {
            let request = Array("GET /flood HTTP/1.1\r\nHost: flood\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        return fd
    }

    private func run() {
        let deadline = MonotonicClock.nanoseconds() + UInt64(maximumSeconds * 1e9)
        var fds = (0..<connections).map { _ in pollfd(fd: open(), events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !state.withLock({ $0.stop }) && MonotonicClock.nanoseconds() < deadline {
            _ = poll(&fds, nfds_t(fds.count), 20)
            for index in fds.indices {
                if fds[index].fd < 0 {
                    fds[index].fd = open()
                    continue
                }
                guard fds[index].revents != 0 else { continue }
                // An answer is read and dropped (the connection then sits idle); an end is a reconnection.
                let count = recv(fds[index].fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count > 0 || (count < 0 && (errno == EAGAIN || errno == EINTR)) { continue }
                close(fds[index].fd)
                fds[index].fd = open()
                state.withLock { $0.reconnections += 1 }
            }
        }
        for entry in fds where entry.fd >= 0 { close(entry.fd) }
    }
}
