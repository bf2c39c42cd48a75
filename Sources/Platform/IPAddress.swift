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
