#if canImport(Glibc)
import Glibc
#endif

/// Numeric IP address literals (`inet_pton(3)`); no name resolution ever happens.
public enum IPAddress {
    /// The address family of `text` if it is an IPv4 (`AF_INET`) or IPv6 (`AF_INET6`) literal.
    /// IPv6 may be written in brackets (`[::1]`).
    public static func family(of text: String) -> Int32? {
        let bare = unbracketed(text)
        var v4 = in_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 { return AF_INET }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, bare, &v6) == 1 { return AF_INET6 }
        return nil
    }

    /// `text` without surrounding brackets.
    public static func unbracketed(_ text: String) -> String {
        if text.hasPrefix("[") && text.hasSuffix("]") { return String(text.dropFirst().dropLast()) }
        return text
    }
}

extension IPAddress {
    /// Calls `body` with the socket address of `host` (an IPv4 or IPv6 literal, brackets allowed) and `port`,
    /// as `bind(2)` and `connect(2)` take it. Returns `nil` if `host` is not a literal.
    public static func withSocketAddress<Result>(
        host: String,
        port: Int,
        _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
    ) -> Result? {
        let bare = unbracketed(host)
        switch family(of: bare) {
        case AF_INET6:
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(truncatingIfNeeded: port).bigEndian
            inet_pton(AF_INET6, bare, &address.sin6_addr)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        case AF_INET:
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(truncatingIfNeeded: port).bigEndian
            inet_pton(AF_INET, bare, &address.sin_addr)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        default:
            return nil
        }
    }
}
