import Foundation
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client for tests: sends raw bytes, reads raw responses. No keep-alive magic, no
/// parsing beyond what a test asks for, so tests can send anything, including garbage.
public final class RawHTTPClient: Sendable {
    public let fd: Int32

    /// Connects to `host` (an IPv4 or IPv6 literal) on `port`, with a receive timeout.
    /// `receiveBuffer`, when given, is set before connecting (a small one makes a client that does not read
    /// hold the server's response in flight).
    public init(host: String = "127.0.0.1", port: Int, timeoutSeconds: Int = 10, receiveBuffer: Int32? = nil) throws {
        let isV6 = host.contains(":")
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var result: Int32
        repeat {
            result = IPAddress.withSocketAddress(host: host, port: port) { connect(fd, $0, $1) } ?? -1
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
    }

    deinit { close(fd) }

    /// `recv`, retried when a signal (a test's child process exiting: SIGCHLD) interrupts it.
    private func receive(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        while true {
            let result = recv(fd, buffer, count, 0)
            if result < 0 && errno == EINTR { continue }
            return result
        }
    }

    public func send(_ text: String) {
        send(Array(text.utf8))
    }

    /// Sends `bytes`; returns how many the peer took before it closed or the timeout passed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
        return offset
    }

    /// Reads until the peer closes the connection or the timeout passes.
    public func readToEnd() -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = receive(&buffer, buffer.count)
            if count <= 0 { break }
            data += buffer[0..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads exactly one response (head plus `Content-Length` body; no body for HEAD).
    public func readResponse(headOnly: Bool = false) -> HTTPTestResponse? {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1)
        // Byte at a time for the head, so a pipelined next response stays in the socket.
        while !data.ends(with: Array("\r\n\r\n".utf8)) {
            let count = receive(&buffer, 1)
            if count <= 0 { return nil }
            data.append(buffer[0])
        }
        let head = String(decoding: data, as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        var body = [UInt8]()
        let length = headOnly ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while body.count < length {
            let count = receive(&chunk, min(chunk.count, length - body.count))
            if count <= 0 { return nil }
            body += chunk[0..<count]
        }
        return HTTPTestResponse(status: status, headers: headers, bytes: body)
    }

    /// Whether the server has closed the connection within the timeout: EOF, or a reset (what a close with
    /// unread request bytes in the server's buffer sends).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let result = receive(&byte, 1)
        return result == 0 || (result < 0 && errno == ECONNRESET)
    }

    /// One GET on a fresh connection.
    public static func get(_ path: String, host: String = "127.0.0.1", port: Int) throws -> HTTPTestResponse? {
        let client = try RawHTTPClient(host: host, port: port)
        client.send("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        return client.readResponse()
    }
}

public struct HTTPTestResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    /// The body as received (compressed, if the server coded it).
    public var bytes: [UInt8]
    /// The body as UTF-8 text.
    public var body: String { String(decoding: bytes, as: UTF8.self) }
}

/// `bytes` decompressed by the system's `gzip -dc`, which also checks the CRC and the size; nil if it refuses.
public func gunzip(_ bytes: [UInt8]) throws -> [UInt8]? {
    let path = NSTemporaryDirectory() + "cme-gzip-\(UUID().uuidString).gz"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-dc", path]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? [UInt8](data) : nil
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}

/// Waits until `condition` holds, polling every 10 ms, for at most `timeout` seconds (generous: the
/// tests run on slow, noisy machines; benchmarks measure speed, tests only correctness).
public func waitUntil(
    timeout: Double = 10,
    _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
}

/// Parses Prometheus text samples into `series -> value`.
public func metricSamples(_ text: String) -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        samples[String(line[..<space])] = Double(line[line.index(after: space)...])
    }
    return samples
}
