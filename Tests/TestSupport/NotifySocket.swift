import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fake systemd notification socket: an AF_UNIX datagram socket bound at a temporary path, as the
/// service manager's `NOTIFY_SOCKET` is.
public final class NotifySocket {
    public let path: String
    private let fd: Int32

    public init() throws {
        path = NSTemporaryDirectory() + "cme-notify-\(UUID().uuidString.prefix(8))"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next notification, or `nil` if none arrives within `timeout` seconds.
    public func receive(timeout: Double) -> String? {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }

    /// Notifications until one satisfies `condition` (returned), or `nil` after `timeout` seconds.
    public func receive(until condition: (String) -> Bool, timeout: Double) -> (match: String, before: [String])? {
        let deadline = Date().addingTimeInterval(timeout)
        var before: [String] = []
        while Date() < deadline {
            guard let message = receive(timeout: deadline.timeIntervalSinceNow) else { return nil }
            if condition(message) { return (message, before) }
            before.append(message)
        }
        return nil
    }
}
