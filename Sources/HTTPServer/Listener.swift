import CEpoll
import Platform
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the server could not start.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var errno: Errno?

    public init(_ message: String, errno: Errno? = nil) {
        self.message = message
        self.errno = errno
    }

    public var description: String { errno.map { "\(message): \($0)" } ?? message }
}

/// A listening TCP socket. It owns its descriptor: ``close()`` (or the end of its life) closes it, and
/// nothing else does.
public final class Listener: Sendable {
    /// The socket descriptor (non-blocking, close-on-exec).
    public let fileDescriptor: Int32
    private let closed = Atomic(false)
    /// The address it listens on, for logs: `[::]:8080`, `127.0.0.1:8080`.
    public let address: String
    /// The port it listens on (the kernel's choice when 0 was asked for).
    public let port: Int

    /// Binds `host` (an IP literal, or `nil` for all interfaces: dual-stack `::`, falling back to
    /// `0.0.0.0` where IPv6 is off) on `port`, and listens.
    public static func bind(host: String?, port: Int, backlog: Int32 = 511) throws(HTTPServerError) -> Listener {
        guard let host else {
            do {
                return try bind(family: AF_INET6, host: "::", port: port, backlog: backlog, dualStack: true)
            } catch {
                let code = error.errno?.code
                guard code == EAFNOSUPPORT || code == EADDRNOTAVAIL || code == EPROTONOSUPPORT else { throw error }
                return try bind(family: AF_INET, host: "0.0.0.0", port: port, backlog: backlog, dualStack: false)
            }
        }
        guard let family = IPAddress.family(of: host) else {
            throw HTTPServerError("LISTEN_ADDRESS \"\(host)\" is not an IP address literal")
        }
        return try bind(
            family: family,
            host: IPAddress.unbracketed(host),
            port: port,
            backlog: backlog,
            dualStack: false
        )
    }

    /// Closes the socket (once; later calls do nothing).
    public func close() {
        if !closed.exchange(true, ordering: .relaxed) { Syscall.close(fileDescriptor) }
    }

    deinit { close() }

    /// Wraps a socket that is already listening (systemd socket activation).
    public init(adopting descriptor: Int32) {
        fileDescriptor = descriptor
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        (address, port) = Self.localAddress(descriptor)
    }

    private init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        (address, port) = Self.localAddress(fileDescriptor)
    }

    private static func bind(
        family: Int32,
        host: String,
        port: Int,
        backlog: Int32,
        dualStack: Bool
    ) throws(HTTPServerError) -> Listener {
        let shown = family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
        let fd: Int32
        do {
            fd = try Syscall.retrying("socket") {
                socket(
                    family,
                    Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                    0
                )
            }
        } catch {
            throw HTTPServerError("cannot create a socket for \(shown)", errno: error)
        }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            var v6Only: Int32 = dualStack ? 0 : 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6Only, socklen_t(MemoryLayout<Int32>.size))
        }
        let result = IPAddress.withSocketAddress(host: host, port: port) { Glibc.bind(fd, $0, $1) } ?? -1
        if result != 0 {
            let error = Errno.current("bind")
            Syscall.close(fd)
            if error.code == EADDRINUSE {
                throw HTTPServerError(
                    "port \(port) is already in use on \(shown); stop the other process or choose another METRICS_PORT",
                    errno: error
                )
            }
            if error.code == EACCES {
                throw HTTPServerError("not allowed to bind \(shown) (ports below 1024 need privileges)", errno: error)
            }
            throw HTTPServerError("cannot bind \(shown)", errno: error)
        }
        if listen(fd, backlog) != 0 {
            let error = Errno.current("listen")
            Syscall.close(fd)
            throw HTTPServerError("cannot listen on \(shown)", errno: error)
        }
        return Listener(fileDescriptor: fd)
    }

    private static func localAddress(_ fd: Int32) -> (String, Int) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return ("?", 0) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if Int32(storage.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    let port = Int(UInt16(bigEndian: address.pointee.sin6_port))
                    return ("[\(host)]:\(port)", port)
                }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                var raw = address.pointee.sin_addr
                inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let port = Int(UInt16(bigEndian: address.pointee.sin_port))
                return ("\(host):\(port)", port)
            }
        }
    }
}
