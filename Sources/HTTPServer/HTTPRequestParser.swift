/// Limits the parser enforces; see the README's table.
public struct HTTPParserLimits: Sendable, Equatable {
    /// The longest request line accepted (longer: 414).
    public var maxRequestLineBytes = 8 * 1024
    /// The largest request head (request line and header fields) accepted (larger: 431).
    public var maxHeadBytes = 16 * 1024
    /// The most header fields accepted (more: 431).
    public var maxHeaderFields = 100

    public init() {}
}

/// The result of looking at the start of a connection's input.
public enum HTTPParseResult: Sendable, Equatable {
    /// A complete request head of `length` bytes.
    case request(HTTPRequest, length: Int)
    /// More bytes are needed.
    case incomplete
    /// A malformed or refused request: answer `status` and close the connection.
    case error(status: Int, reason: String)
}

/// Parses HTTP/1.x request heads strictly.
///
/// Strict on purpose, because the exporter sits on a pod network any pod can reach: lines end in CRLF
/// only (a bare CR or LF is refused), no NUL or other control bytes, no obsolete line folding, and no
/// request bodies: `Transfer-Encoding` of any kind, or `Content-Length` together with it, duplicated
/// with different values, or not a number, is refused with 400 and the connection is closed, so no
/// smuggled second request can ever be read from a body. A request with a valid non-zero
/// `Content-Length` is answered, then the connection is closed without reading the body.
public struct HTTPRequestParser: Sendable {
    public var limits: HTTPParserLimits

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Parses the head at the start of `input`.
    public func parse(_ input: ArraySlice<UInt8>) -> HTTPParseResult {
        let start = input.startIndex
        // Find the end of the head (CRLF CRLF) within the limit, checking bytes as we go.
        var index = start
        var lineStart = start
        var requestLineEnd: Int?
        let scanEnd = min(input.endIndex, start + limits.maxHeadBytes)
        var headEnd: Int?
        while index < scanEnd {
            let byte = input[index]
            if byte == 0x0D {
                guard index + 1 < input.endIndex else { break }
                guard input[index + 1] == 0x0A else { return .error(status: 400, reason: "bare CR in request head") }
                if requestLineEnd == nil { requestLineEnd = index }
                if index == lineStart {
                    if lineStart == start {
                        // Tolerate nothing before the request line: an empty first line is malformed.
                        return .error(status: 400, reason: "empty request line")
                    }
                    headEnd = index + 2
                    break
                }
                index += 2
                lineStart = index
                continue
            }
            if byte == 0x0A { return .error(status: 400, reason: "bare LF in request head") }
            if byte == 0 || (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                return .error(status: 400, reason: "control character in request head")
            }
            index += 1
            if requestLineEnd == nil && index - start > limits.maxRequestLineBytes {
                return .error(status: 414, reason: "request line longer than \(limits.maxRequestLineBytes) bytes")
            }
        }
        guard let headEnd, let requestLineEnd else {
            if requestLineEnd == nil && input.count > limits.maxRequestLineBytes {
                return .error(status: 414, reason: "request line longer than \(limits.maxRequestLineBytes) bytes")
            }
            if input.count >= limits.maxHeadBytes {
                return .error(status: 431, reason: "request head larger than \(limits.maxHeadBytes) bytes")
            }
            return .incomplete
        }
        guard var request = parseRequestLine(input[start..<requestLineEnd]) else {
            return .error(status: 400, reason: "malformed request line")
        }
        if request.version.major != 1 { return .error(status: 505, reason: "only HTTP/1.0 and HTTP/1.1 are served") }

        // Header fields.
        var lineIndex = requestLineEnd + 2
        var contentLength: Int?
        var hostFields = 0
        while lineIndex < headEnd - 2 {
            var lineEnd = lineIndex
            while input[lineEnd] != 0x0D { lineEnd += 1 }
            let line = input[lineIndex..<lineEnd]
            lineIndex = lineEnd + 2
            if line.first == 0x20 || line.first == 0x09 { return .error(status: 400, reason: "obsolete line folding") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[line.startIndex..<colon].allSatisfy(Self.isTokenByte)
            else { return .error(status: 400, reason: "malformed header field") }
            let name = String(decoding: line[line.startIndex..<colon].lazy.map(Self.asciiLowercased), as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self)[...].trimmingASCIISpaces()
            request.headers.append((name, String(value)))
            if request.headers.count > limits.maxHeaderFields {
                return .error(status: 431, reason: "more than \(limits.maxHeaderFields) header fields")
            }
            switch name {
            case "host":
                // RFC 9112 section 3.2: more than one Host field line is a 400, whatever the values.
                hostFields += 1
                if hostFields > 1 { return .error(status: 400, reason: "more than one Host header field") }
            case "transfer-encoding":
                return .error(status: 400, reason: "request bodies are not accepted (Transfer-Encoding)")
            case "content-length":
                for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                    let digits = part.trimmingASCIISpaces()
                    guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                        let length = Int(digits)
                    else { return .error(status: 400, reason: "invalid Content-Length") }
                    if let contentLength, contentLength != length {
                        return .error(status: 400, reason: "conflicting Content-Length values")
                    }
                    contentLength = length
                }
            default: break
            }
        }
        if request.version.minor >= 1 && request.header("host") == nil {
            return .error(status: 400, reason: "HTTP/1.1 request without Host")
        }
        if let contentLength, contentLength > 0 {
            request.hasBody = true
        }
        return .request(request, length: headEnd - start)
    }

    private func parseRequestLine(_ line: ArraySlice<UInt8>) -> HTTPRequest? {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(Self.isTokenByte), !parts[1].isEmpty
        else { return nil }
        let versionBytes = parts[2]
        guard versionBytes.count == 8, versionBytes.starts(with: "HTTP/".utf8),
            let major = Self.digit(versionBytes[versionBytes.startIndex + 5]),
            versionBytes[versionBytes.startIndex + 6] == UInt8(ascii: "."),
            let minor = Self.digit(versionBytes[versionBytes.startIndex + 7])
        else { return nil }
        var target = String(decoding: parts[1], as: UTF8.self)
        if target.hasPrefix("http://") || target.hasPrefix("https://") {
            // absolute-form: keep the path.
            let afterScheme = target[target.index(target.firstIndex(of: ":")!, offsetBy: 3)...]
            target = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        } else if !target.hasPrefix("/") && target != "*" {
            return nil
        }
        var query: String?
        if let mark = target.firstIndex(of: "?") {
            query = String(target[target.index(after: mark)...])
            target = String(target[..<mark])
        }
        return HTTPRequest(
            method: String(decoding: parts[0], as: UTF8.self),
            path: target,
            query: query,
            version: (major, minor),
            headers: []
        )
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
