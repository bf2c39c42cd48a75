import Synchronization

/// What a handler answers: a response now, or one that waits for a condition (a parked request).
public enum HTTPReply: Sendable {
    case now(HTTPResponse)
    case later(DeferredResponse)
}

/// A response the event loop holds back until `answer` has one, asking it again every 250 ms (the loop's
/// sweep); at the deadline it sends `timedOut()` instead. A parked request holds no thread, is never cut off by
/// the head, keep-alive or eviction rules, and the number parked at once is bounded, in all and per peer address
/// (``HTTPServerConfiguration/maxParkedRequests``: one more gets `503` at once). While parked, the connection
/// is not read (what the client pipelines waits in the socket); a client that goes away frees its place, and a
/// server that stops answers `503`.
public struct DeferredResponse: Sendable {
    /// Seconds to wait at most.
    public var timeout: Double
    /// The response once the condition holds, else `nil`. Runs on the event-loop thread: quick, never blocking.
    public var answer: @Sendable () -> HTTPResponse?
    /// The response when the wait ran out.
    public var timedOut: @Sendable () -> HTTPResponse

    public init(
        timeout: Double,
        answer: @escaping @Sendable () -> HTTPResponse?,
        timedOut: @escaping @Sendable () -> HTTPResponse
    ) {
        self.timeout = timeout
        self.answer = answer
        self.timedOut = timedOut
    }
}

/// How many requests are parked right now, for a metric (`claude_exporter_drain_requests_waiting`).
public final class ParkedRequestCount: Sendable {
    private let value = Atomic(0)

    public init() {}

    public var current: Int { value.load(ordering: .relaxed) }

    func add(_ delta: Int) { value.add(delta, ordering: .relaxed) }
}
