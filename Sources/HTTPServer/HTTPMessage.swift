/// A parsed request head. Bodies are never accepted (see ``HTTPRequestParser``).
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path, without the query string.
    public var path: String
    /// The query string after `?`, if any.
    public var query: String?
    /// `1.0` or `1.1`, as `(1, 0)` or `(1, 1)`.
    public var version: (major: Int, minor: Int)
    /// Header fields in order; names are lowercased.
    public var headers: [(name: String, value: String)]
    /// The request announced a body (a non-zero `Content-Length`). The body is never read: the server
    /// answers and then closes the connection.
    public var hasBody = false

    public init(
        method: String,
        path: String,
        query: String? = nil,
        version: (major: Int, minor: Int) = (1, 1),
        headers: [(name: String, value: String)] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
    }

    /// The first value of header `name` (lowercase).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// Whether the connection may carry another request after this one.
    public var keepAlive: Bool {
        let connection = header("connection")?.lowercased() ?? ""
        let tokens = connection.split(separator: ",").map { $0.trimmingASCIISpaces() }
        if version.minor == 0 && version.major == 1 { return tokens.contains("keep-alive") }
        return !tokens.contains("close")
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.query == rhs.query
            && lhs.version == rhs.version && lhs.hasBody == rhs.hasBody
            && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 })
    }
}

/// A response to send. The server adds `Content-Length` and `Connection`, and drops the body for HEAD.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String, body: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    /// A plain-text response, as the server's own errors use.
    public static func text(
        _ status: Int,
        _ text: String,
        headers: [(name: String, value: String)] = []
    ) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: [("Content-Type", "text/plain; charset=utf-8")] + headers,
            body: Array(text.utf8)
        )
    }

    public static func == (lhs: HTTPResponse, rhs: HTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 })
    }

    /// The reason phrase for a status code.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    /// The bytes on the wire: status line, headers, blank line and, unless `headOnly`, the body.
    func serialized(keepAlive: Bool, headOnly: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        write(to: &bytes, keepAlive: keepAlive, headOnly: headOnly)
        return bytes
    }

    /// Appends the bytes on the wire to `out` (the connection's output buffer, so nothing is copied twice).
    func write(to out: inout [UInt8], keepAlive: Bool, headOnly: Bool) {
        out.reserveCapacity(out.count + 128 + body.count)
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.append(contentsOf: String(status).utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: Self.reason(status).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "Content-Length: ".utf8)
        out.append(contentsOf: String(body.count).utf8)
        out.append(contentsOf: keepAlive ? "\r\n\r\n".utf8 : "\r\nConnection: close\r\n\r\n".utf8)
        if !headOnly { out.append(contentsOf: body) }
    }
}

extension Substring {
    func trimmingASCIISpaces() -> Substring {
        var view = self
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return view
    }
}
