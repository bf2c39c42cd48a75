import CEpoll
import Logging
import Platform
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits and timeouts of the server; the README has them as a table.
public struct HTTPServerConfiguration: Sendable {
    public var parser = HTTPParserLimits()
    /// Connections served at once. At the cap a newcomer takes the place of the connection that costs least
    /// to lose (lingering, then idle keep-alive, then the oldest without a complete request head); only when
    /// every connection has a response in flight is it answered 503 and closed.
    public var maxConnections = 512
    /// Seconds a client has to send a complete request head, counted from the connection's start (first
    /// request) or from the request's first byte (later requests). Slow clients are closed.
    public var headerTimeout = 10.0
    /// Seconds a keep-alive connection may wait for its next request.
    public var idleTimeout = 60.0
    /// Seconds a response may wait for the client to read it, counted from when sending first had to wait
    /// and not restarted by partial reads (so a client reading a byte now and then is closed all the same).
    public var writeTimeout = 10.0
    /// At the connection cap, when no connection is idle or still sending its head, one whose response has
    /// waited this long for the client to read it is closed to make room (a scrape takes milliseconds).
    public var evictBlockedAfter = 1.0
    /// Requests on one connection before the server closes it.
    public var maxRequestsPerConnection = 1000
    /// On shutdown, responses in flight get this long to finish.
    public var shutdownGracePeriod = 2.0
    /// Requests held back at once (``DeferredResponse``), and from one peer address; one more is answered 503
    /// at once. The per-peer bound keeps one client from taking every place (the kubelet calls from its node).
    public var maxParkedRequests = 16
    public var maxParkedRequestsPerPeer = 4

    public init() {}
}

/// Produces a response for a request. Runs on the server's event-loop thread, so it must be quick and
/// must not block (the exporter's handler renders from an immutable snapshot).
public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// A handler that may hold a request back (``HTTPReply/later(_:)``).
public typealias HTTPDeferringHandler = @Sendable (HTTPRequest) -> HTTPReply

/// An HTTP/1.1 server on plain POSIX sockets: one event-loop thread with epoll, non-blocking sockets,
/// keep-alive and pipelining, per-connection timeouts, no SwiftNIO and no Foundation.
///
/// One slow client never blocks another: reads and writes never block, and each connection's input and
/// output are buffered separately.
public final class HTTPServer: Sendable {
    private let listener: Listener
    private let configuration: HTTPServerConfiguration
    private let logger: Logger
    private let handler: HTTPDeferringHandler
    private let parked: ParkedRequestCount
    private let thread: WakeableThread
    private let calls: SocketCalls

    public convenience init(
        listener: Listener,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger,
        handler: @escaping HTTPHandler
    ) throws(Errno) {
        try self.init(listener: listener, configuration: configuration, logger: logger, parked: ParkedRequestCount()) {
            .now(handler($0))
        }
    }

    /// A server whose handler may park requests; `parked` counts them for whoever wants to show it.
    public convenience init(
        listener: Listener,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger,
        parked: ParkedRequestCount,
        handler: @escaping HTTPDeferringHandler
    ) throws(Errno) {
        try self.init(
            listener: listener,
            configuration: configuration,
            logger: logger,
            parked: parked,
            calls: .system,
            handler: handler
        )
    }

    /// A server whose system calls go through `calls` (tests inject failures there).
    init(
        listener: Listener,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger,
        parked: ParkedRequestCount = ParkedRequestCount(),
        calls: SocketCalls,
        handler: @escaping HTTPDeferringHandler
    ) throws(Errno) {
        self.calls = calls
        self.listener = listener
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
        self.parked = parked
        thread = try WakeableThread()
    }

    /// Starts serving on the event-loop thread.
    public func start() throws(Errno) {
        let loop = try EventLoop(
            listener: listener,
            wake: thread.wakeDescriptor,
            configuration: configuration,
            logger: logger,
            parked: parked,
            calls: calls,
            handler: handler
        )
        thread.start(name: "http") { loop.run() }
    }

    /// Stops accepting, lets responses in flight finish (within the grace period), closes every
    /// connection and the listening socket, and returns when the event loop has ended.
    public func shutdown() {
        thread.stop()
        listener.close()
    }
}
