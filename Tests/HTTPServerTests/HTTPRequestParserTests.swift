import Testing

@testable import HTTPServer

private func parse(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseResult {
    HTTPRequestParser(limits: limits).parse(Array(text.utf8)[...])
}

private func status(_ result: HTTPParseResult) -> Int? {
    if case .error(let status, _) = result { return status }
    return nil
}

@Suite("Request head parsing")
struct HTTPRequestParserTests {
    @Test("A GET with headers")
    func get() {
        let text = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  text/plain \r\n\r\n"
        guard case .request(let request, let length) = parse(text) else {
            Issue.record("not parsed: \(parse(text))")
            return
        }
        #expect(length == text.utf8.count)
        #expect(request.method == "GET")
        #expect(request.path == "/metrics")
        #expect(request.query == "x=1")
        #expect(request.header("accept") == "text/plain")
        #expect(request.keepAlive)
        #expect(!request.hasBody)
    }

    @Test("Incomplete heads wait for more bytes")
    func incomplete() {
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n") == .incomplete)
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\n\r") == .incomplete)
        #expect(parse("GE") == .incomplete)
    }

    @Test("Pipelined requests: the length says where the next one starts")
    func pipelined() {
        let first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
        guard case .request(_, let length) = parse(first + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(length == first.utf8.count)
    }

    @Test("Keep-alive rules of HTTP/1.0 and 1.1")
    func keepAlive() {
        guard case .request(let old, _) = parse("GET / HTTP/1.0\r\n\r\n"),
            case .request(let oldKeep, _) = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
            case .request(let close, _) = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        else {
            Issue.record("not parsed")
            return
        }
        #expect(!old.keepAlive)
        #expect(oldKeep.keepAlive)
        #expect(!close.keepAlive)
    }

    @Test(
        "Malformed and smuggling-prone heads are refused with the right status",
        arguments: [
            (RawHead("GET / HTTP/1.1\nHost: a\n\n"), 400),
            (RawHead("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\n\r\n"), 400),
            (RawHead("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505),
            (RawHead("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n"), 400),
            (RawHead("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400),
            (RawHead("GET nopath HTTP/1.1\r\nHost: a\r\n\r\n"), 400),
            (RawHead("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nBad Name: a\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400),
            (RawHead("\r\nGET / HTTP/1.1\r\n\r\n"), 400),
            // RFC 9112 section 3.2: two Host field lines, the same value or not, in either version.
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), 400),
            (RawHead("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n"), 400),
        ] as [(RawHead, Int)]
    )
    func refused(head: RawHead, expected: Int) {
        #expect(status(parse(head.text)) == expected)
    }

    @Test("A Content-Length body is flagged (answered, then the connection closes), never parsed")
    func body() {
        guard case .request(let request, _) = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc")
        else {
            Issue.record("not parsed")
            return
        }
        #expect(request.hasBody)
    }

    @Test("Limits: request line 414, head 431, field count 431")
    func limits() {
        var limits = HTTPParserLimits()
        limits.maxRequestLineBytes = 64
        limits.maxHeadBytes = 256
        limits.maxHeaderFields = 3
        #expect(status(parse("GET /\(String(repeating: "a", count: 100)) HTTP/1.1\r\n\r\n", limits: limits)) == 414)
        #expect(status(parse("GET /\(String(repeating: "a", count: 100))", limits: limits)) == 414)
        #expect(status(parse("GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 300))", limits: limits)) == 431)
        let fields = (0..<5).map { "X\($0): y\r\n" }.joined()
        #expect(status(parse("GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n", limits: limits)) == 431)
    }

    @Test("Absolute-form targets keep their path")
    func absoluteForm() {
        guard case .request(let request, _) = parse("GET http://host:9/metrics HTTP/1.1\r\nHost: a\r\n\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(request.path == "/metrics")
    }
}

/// A raw request head as a test argument, shown escaped (`GET / HTTP/1.1\r\n...`) so that the test log keeps one
/// line per case.
struct RawHead: Sendable, CustomTestStringConvertible {
    let text: String
    init(_ text: String) { self.text = text }
    var testDescription: String { text.debugDescription }
}
