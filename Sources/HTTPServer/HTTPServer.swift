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
    public init(
        listener: Listener,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        logger: Logger,
        parked: ParkedRequestCount,
        handler: @escaping HTTPDeferringHandler
    ) throws(Errno) {
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

/// One client connection's buffers and deadlines.
private final class Connection {
    enum State {
        case open
        /// Send what is buffered, then close.
        case closingAfterWrite
        /// Output sent and write side shut down; discarding input until the client closes (so a
        /// response is not lost to a reset caused by unread request bytes).
        case lingering
    }

    let fd: Int32
    /// The client's host address, as bytes, for the per-peer bound on parked requests.
    var peer: [UInt8] = []
    /// The order of acceptance: breaks ties between connections accepted in the same loop turn (they share a
    /// clock reading), so "the oldest" is always well defined.
    let serial: UInt64
    var input: [UInt8] = []
    var inputStart = 0
    var output: [UInt8] = []
    var outputStart = 0
    var state = State.open
    var requests = 0
    var interest: UInt32 = 0
    /// Deadline (monotonic ns) for the current request head, or nil while waiting between requests.
    var headerDeadline: UInt64?
    var idleDeadline: UInt64
    var writeDeadline: UInt64?
    var lingerDeadline: UInt64 = 0
    var discarded = 0
    /// A request held back (``DeferredResponse``): answered later, before anything pipelined after it.
    var parked: (response: DeferredResponse, deadline: UInt64, keepAlive: Bool, headOnly: Bool)?

    init(fd: Int32, serial: UInt64, now: UInt64, headerTimeout: UInt64, idleTimeout: UInt64) {
        self.fd = fd
        self.serial = serial
        headerDeadline = now + headerTimeout
        idleDeadline = now + idleTimeout
    }

    var pendingInput: ArraySlice<UInt8> { input[inputStart...] }
    var hasOutput: Bool { outputStart < output.count }
}

/// The event loop, owned by its thread; nothing here is shared.
private final class EventLoop: @unchecked Sendable {
    private let listener: Listener
    private let wake: Int32
    private let configuration: HTTPServerConfiguration
    private let logger: Logger
    private let handler: HTTPDeferringHandler
    private let parkedCount: ParkedRequestCount
    private var parkedConnections: Set<Int32> = []
    private let parser: HTTPRequestParser
    private let epoll: Int32
    private var connections: [Int32: Connection] = [:]
    private var stopping = false
    /// Connections with pipelined requests left over after their turn: served again before the next wait,
    /// after every other ready connection has had its turn.
    private var backlog: [(fd: Int32, serial: UInt64)] = []
    /// Connections accepted so far (see ``Connection/serial``).
    private var accepted: UInt64 = 0
    /// Requests one connection may have answered per turn, so that a deep pipeline cannot delay a scrape.
    private static let requestsPerTurn = 4
    private var stopDeadline: UInt64 = 0
    private let readChunk: UnsafeMutableRawBufferPointer

    private let headerTimeout: UInt64
    private let idleTimeout: UInt64
    private let writeTimeout: UInt64
    private static let lingerTimeout: UInt64 = 2_000_000_000
    private static let maxDiscard = 1 << 20
    /// Responses queued for a client that is not reading stop the processing of its pipelined requests here
    /// (three scrapes' worth), and unparsed input beyond one head stops reading. Measured: 510 connections
    /// each pipelining 999 scrapes without reading hold 40 MB of RSS in all.
    private static let maxPendingOutput = 16 * 1024

    init(
        listener: Listener,
        wake: Int32,
        configuration: HTTPServerConfiguration,
        logger: Logger,
        parked: ParkedRequestCount,
        handler: @escaping HTTPDeferringHandler
    ) throws(Errno) {
        self.listener = listener
        self.wake = wake
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
        self.parkedCount = parked
        parser = HTTPRequestParser(limits: configuration.parser)
        headerTimeout = UInt64(configuration.headerTimeout * 1_000_000_000)
        idleTimeout = UInt64(configuration.idleTimeout * 1_000_000_000)
        writeTimeout = UInt64(configuration.writeTimeout * 1_000_000_000)
        epoll = try Syscall.retrying("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        readChunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        // On failure, deinit releases the buffer and the epoll descriptor.
        guard register(listener.fileDescriptor, EPOLLIN.rawValue), register(wake, EPOLLIN.rawValue) else {
            throw Errno.current("epoll_ctl")
        }
    }

    deinit {
        readChunk.deallocate()
        Syscall.close(epoll)
    }

    /// Adds a descriptor to the epoll set; false (logged) if the kernel refused (`ENOMEM`, `ENOSPC`).
    /// What epoll hands back with an event: the descriptor and (for connections) the low 32 bits of its serial,
    /// so an event left over from a connection closed in this turn never reaches a newer one on the same number.
    private static func tag(_ fd: Int32, serial: UInt64 = 0) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) | (serial & 0xFFFF_FFFF) << 32
    }

    private func register(_ fd: Int32, _ events: UInt32, serial: UInt64 = 0) -> Bool {
        var event = epoll_event()
        event.events = events
        event.data.u64 = Self.tag(fd, serial: serial)
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            logger.warning(
                "cannot add a socket to the event loop",
                metadata: ["error": "\(Errno.current("epoll_ctl"))"]
            )
            return false
        }
        return true
    }

    /// Changes what the loop waits for on a connection; a connection the kernel will not change is closed
    /// (it could never be served).
    private func setInterest(_ connection: Connection, _ events: UInt32) {
        guard connection.interest != events else { return }
        connection.interest = events
        var event = epoll_event()
        event.events = events
        event.data.u64 = Self.tag(connection.fd, serial: connection.serial)
        if epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, &event) != 0 {
            logger.warning(
                "cannot change a connection in the event loop; closing it",
                metadata: ["error": "\(Errno.current("epoll_ctl"))"]
            )
            close(connection)
        }
    }

    func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var nextSweep: UInt64 = 0
        while true {
            let timeout: Int32 = !backlog.isEmpty ? 0 : connections.isEmpty && !stopping ? -1 : 250
            let count = epoll_wait(epoll, &events, Int32(events.count), timeout)
            if count < 0 && errno != EINTR {
                logger.error(
                    "epoll_wait failed; the HTTP server stops",
                    metadata: ["error": "\(Errno.current("epoll_wait"))"]
                )
                break
            }
            let now = MonotonicClock.nanoseconds()
            for index in 0..<max(0, Int(count)) {
                let tag = events[index].data.u64
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: tag))
                let flags = events[index].events
                if fd == wake {
                    beginStopping(now)
                } else if fd == listener.fileDescriptor {
                    if !stopping { acceptConnections(now) }
                } else if let connection = connections[fd], Self.tag(fd, serial: connection.serial) == tag {
                    service(connection, flags, now)
                }
            }
            let deferred = backlog
            backlog.removeAll(keepingCapacity: true)
            for (fd, serial) in deferred {
                if let connection = connections[fd], connection.serial == serial { service(connection, 0, now) }
            }
            if stopping && (connections.isEmpty || now >= stopDeadline) { break }
            if now >= nextSweep {
                sweep(now)
                nextSweep = now + 250_000_000
            }
        }
        for connection in Array(connections.values) { close(connection) }
    }

    private func beginStopping(_ now: UInt64) {
        var value: UInt64 = 0
        _ = read(wake, &value, 8)
        guard !stopping else { return }
        stopping = true
        stopDeadline = now + UInt64(configuration.shutdownGracePeriod * 1_000_000_000)
        epoll_ctl(epoll, EPOLL_CTL_DEL, listener.fileDescriptor, nil)
        // Parked requests are answered (the server is going away); idle connections go now; those with a
        // response in flight may finish.
        for connection in Array(connections.values) {
            if let parked = connection.parked {
                unpark(connection)
                respond(connection, .text(503, "the server is stopping\n"), keepAlive: false, headOnly: parked.headOnly)
                connection.state = .closingAfterWrite
                setInterest(connection, EPOLLIN.rawValue)
                flush(connection, now)
            } else if !connection.hasOutput {
                close(connection)
            }
        }
    }

    private func acceptConnections(_ now: UInt64) {
        // A bounded number per turn: connections just accepted get their requests read before a flood of
        // newcomers can make them the oldest without a complete head (the listener stays ready for the rest).
        for _ in 0..<max(1, configuration.maxConnections / 4) {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listener.fileDescriptor, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    logger.warning(
                        "out of file descriptors; not accepting for now",
                        metadata: ["error": "\(Errno.current("accept4"))"]
                    )
                }
                return
            }
            if connections.count >= configuration.maxConnections, let victim = cheapestToLose(now) {
                // At the cap, make room instead of refusing the newcomer: otherwise any local process holding
                // idle connections could keep every scrape out.
                logger.debug("at the connection cap; closed the connection that costs least to lose")
                close(victim)
            }
            if connections.count >= configuration.maxConnections {
                let refusal = HTTPResponse.text(503, "too many connections\n").serialized(
                    keepAlive: false,
                    headOnly: false
                )
                _ = refusal.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                Syscall.close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            // A fixed send buffer (the kernel doubles it: 128 KiB, some 25 scrapes) instead of autotuning to
            // megabytes: a client that pipelines and never reads then costs bounded kernel memory and work.
            var sendBuffer: Int32 = 64 * 1024
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
            accepted &+= 1
            let connection = Connection(
                fd: fd,
                serial: accepted,
                now: now,
                headerTimeout: headerTimeout,
                idleTimeout: idleTimeout
            )
            connection.interest = EPOLLIN.rawValue
            connection.peer = Self.peerKey(address, length: length)
            // A connection the loop cannot wait on would be counted and never served: refuse it instead.
            guard register(fd, EPOLLIN.rawValue, serial: connection.serial) else {
                Syscall.close(fd)
                continue
            }
            connections[fd] = connection
        }
    }

    /// At the connection cap, the connection whose loss costs least: one lingering after its answer, else the
    /// one idle longest between requests (keep-alive: a client reconnects for its next request) that has nothing
    /// unread, else the oldest that has not sent a complete request head, else the one whose response has
    /// waited longest (at least ``HTTPServerConfiguration/evictBlockedAfter``) for its client to read it.
    /// A connection with requests read but not yet answered is never chosen; when nothing qualifies, the
    /// newcomer is refused.
    private func cheapestToLose(_ now: UInt64) -> Connection? {
        typealias Age = (deadline: UInt64, serial: UInt64)
        var idle: [(connection: Connection, age: Age)] = []
        var waiting: (connection: Connection, age: Age)?
        var blocked: (connection: Connection, age: Age)?
        let never: Age = (.max, .max)
        for connection in connections.values {
            switch connection.state {
            case .lingering:
                return connection
            case .open where !connection.hasOutput && connection.parked == nil:
                if let deadline = connection.headerDeadline {
                    let age = (deadline, connection.serial)
                    if age < waiting?.age ?? never { waiting = (connection, age) }
                } else if connection.pendingInput.isEmpty {
                    idle.append((connection, (connection.idleDeadline, connection.serial)))
                }
            case .open, .closingAfterWrite:
                if connection.parked == nil, let deadline = connection.writeDeadline {
                    let age = (deadline, connection.serial)
                    if age < blocked?.age ?? never { blocked = (connection, age) }
                }
            }
        }
        // Idle longest first; one whose next request already sits unread in the socket is not idle.
        for candidate in idle.sorted(by: { $0.age < $1.age }).prefix(8) where !hasUnreadInput(candidate.connection) {
            return candidate.connection
        }
        if let waiting { return waiting.connection }
        let grace = UInt64(configuration.evictBlockedAfter * 1_000_000_000)
        if let blocked, let deadline = blocked.connection.writeDeadline, deadline + grace <= now + writeTimeout {
            return blocked.connection
        }
        return nil
    }

    /// Whether the client has sent bytes the server has not read yet (peeked, not consumed).
    private func hasUnreadInput(_ connection: Connection) -> Bool {
        var byte: UInt8 = 0
        return recv(connection.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 1
    }

    /// The client's host address (without the port: one peer may open many connections).
    private static func peerKey(_ address: sockaddr_storage, length: socklen_t) -> [UInt8] {
        var copy = address
        return withUnsafeBytes(of: &copy) { raw in
            switch Int32(address.ss_family) {
            case AF_INET: Array(raw[4..<8])  // sin_addr
            case AF_INET6: Array(raw[8..<24])  // sin6_addr
            default: Array(raw.prefix(Int(length)))
            }
        }
    }

    private func service(_ connection: Connection, _ flags: UInt32, _ now: UInt64) {
        if connection.parked != nil {
            // While parked, the loop waits only for the client to go away (no reading: what it pipelines waits
            // in the socket, so a full buffer cannot make the level-triggered loop spin).
            if flags & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { close(connection) }
            return
        }
        if flags & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            guard readInput(connection, now) else { return }
        }
        // Pipelined requests already read are answered as the client takes the responses, without waiting
        // for more input that may never come; past its turn's share, the rest waits in the backlog.
        let first = connection.requests
        while true {
            let answered = connection.requests
            let budget = Self.requestsPerTurn - (answered - first)
            if connection.state == .open && budget > 0 { process(connection, now, budget: budget) }
            let progressed = connection.requests != answered
            flush(connection, now)
            guard connections[connection.fd] === connection, progressed, connection.state == .open,
                !connection.hasOutput, !connection.pendingInput.isEmpty
            else { return }
            if connection.requests - first >= Self.requestsPerTurn {
                backlog.append((connection.fd, connection.serial))
                return
            }
        }
    }

    /// Reads what is available. Returns false if the connection was closed.
    private func readInput(_ connection: Connection, _ now: UInt64) -> Bool {
        while true {
            // Never buffer much more than one head (the parser refuses anything larger): with that much
            // unparsed, reading waits until processing makes room.
            let room = configuration.parser.maxHeadBytes + 4096 - connection.pendingInput.count
            if room <= 0 && connection.state != .lingering { return true }
            let count = recv(connection.fd, readChunk.baseAddress, min(readChunk.count, max(room, 4096)), 0)
            if count > 0 {
                if connection.state == .lingering {
                    connection.discarded += count
                    if connection.discarded > Self.maxDiscard {
                        close(connection)
                        return false
                    }
                    continue
                }
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: readChunk[0..<count]))
                if connection.headerDeadline == nil { connection.headerDeadline = now + headerTimeout }
                if count < readChunk.count { return true }
                continue
            }
            if count == 0 {
                // The client closed its side: answer what is complete, then close.
                if connection.state == .lingering || (!connection.hasOutput && connection.pendingInput.isEmpty) {
                    close(connection)
                    return false
                }
                if connection.state == .open {
                    process(connection, now)
                    connection.state = .closingAfterWrite
                }
                return true
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return true }
            close(connection)
            return false
        }
    }

    private func process(_ connection: Connection, _ now: UInt64, budget: Int = .max) {
        let first = connection.requests
        while connection.state == .open && connection.parked == nil
            && connection.output.count - connection.outputStart < Self.maxPendingOutput
            && connection.requests - first < budget
        {
            let pending = connection.pendingInput
            if pending.isEmpty {
                connection.headerDeadline = nil
                connection.idleDeadline = now + idleTimeout
                break
            }
            switch parser.parse(pending) {
            case .incomplete:
                return
            case .error(let status, let reason):
                logger.debug("refused request", metadata: ["status": "\(status)", "reason": "\(reason)"])
                respond(connection, .text(status, reason + "\n"), keepAlive: false, headOnly: false)
                connection.state = .closingAfterWrite
            case .request(let request, let length):
                connection.inputStart += length
                connection.requests += 1
                connection.headerDeadline = nil
                let keepAlive =
                    request.keepAlive && !request.hasBody && !stopping
                    && connection.requests < configuration.maxRequestsPerConnection
                let headOnly = request.method == "HEAD"
                switch handler(request) {
                case .now(let response):
                    respond(connection, response, keepAlive: keepAlive, headOnly: headOnly)
                case .later(let deferred):
                    if let response = deferred.answer() {
                        respond(connection, response, keepAlive: keepAlive, headOnly: headOnly)
                    } else if parkedConnections.count >= configuration.maxParkedRequests
                        || parkedFrom(connection.peer) >= configuration.maxParkedRequestsPerPeer
                    {
                        respond(
                            connection,
                            .text(503, "too many requests waiting\n"),
                            keepAlive: keepAlive,
                            headOnly: headOnly
                        )
                    } else {
                        let seconds = deferred.timeout.isNaN ? 0 : min(max(deferred.timeout, 0), 1e6)
                        connection.parked = (deferred, now + UInt64(seconds * 1_000_000_000), keepAlive, headOnly)
                        parkedConnections.insert(connection.fd)
                        parkedCount.add(1)
                        setInterest(connection, EPOLLRDHUP.rawValue)
                        return
                    }
                }
                if !keepAlive { connection.state = .closingAfterWrite }
            }
        }
        if connection.inputStart > 0 && connection.inputStart * 2 >= connection.input.count {
            connection.input.removeFirst(connection.inputStart)
            connection.inputStart = 0
        }
    }

    private func respond(_ connection: Connection, _ response: HTTPResponse, keepAlive: Bool, headOnly: Bool) {
        response.write(to: &connection.output, keepAlive: keepAlive, headOnly: headOnly)
    }

    private func flush(_ connection: Connection, _ now: UInt64) {
        while connection.hasOutput {
            let written = connection.output.withUnsafeBytes { bytes in
                send(
                    connection.fd,
                    bytes.baseAddress! + connection.outputStart,
                    bytes.count - connection.outputStart,
                    Int32(MSG_NOSIGNAL)
                )
            }
            if written > 0 {
                connection.outputStart += written
                continue
            }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if connection.writeDeadline == nil { connection.writeDeadline = now + writeTimeout }
                setInterest(connection, EPOLLOUT.rawValue)
                return
            }
            close(connection)
            return
        }
        connection.output.removeAll(keepingCapacity: connection.output.count <= 64 * 1024)
        connection.outputStart = 0
        connection.writeDeadline = nil
        switch connection.state {
        case .open:
            // A parked connection waits only for its client to go away (see service).
            setInterest(connection, connection.parked == nil ? EPOLLIN.rawValue : EPOLLRDHUP.rawValue)
            if stopping { close(connection) }
        case .closingAfterWrite:
            if connection.pendingInput.isEmpty {
                close(connection)
            } else {
                shutdown(connection.fd, Int32(SHUT_WR))
                connection.state = .lingering
                connection.lingerDeadline = now + Self.lingerTimeout
                setInterest(connection, EPOLLIN.rawValue)
            }
        case .lingering:
            break
        }
    }

    /// Answers the parked requests whose condition holds or whose time ran out, then goes on with what the
    /// client pipelined after them.
    private func resolveParked(_ now: UInt64) {
        for fd in Array(parkedConnections) {
            guard let connection = connections[fd], let parked = connection.parked else {
                parkedConnections.remove(fd)
                continue
            }
            let response: HTTPResponse
            if let answer = parked.response.answer() {
                response = answer
            } else if now >= parked.deadline {
                response = parked.response.timedOut()
            } else {
                continue
            }
            unpark(connection)
            respond(connection, response, keepAlive: parked.keepAlive, headOnly: parked.headOnly)
            if !parked.keepAlive { connection.state = .closingAfterWrite }
            // Reading again, and on with what the client pipelined after the parked request.
            setInterest(connection, EPOLLIN.rawValue)
            service(connection, EPOLLIN.rawValue, now)
        }
    }

    private func unpark(_ connection: Connection) {
        guard connection.parked != nil else { return }
        connection.parked = nil
        parkedConnections.remove(connection.fd)
        parkedCount.add(-1)
    }

    private func parkedFrom(_ peer: [UInt8]) -> Int {
        parkedConnections.count { connections[$0]?.peer == peer }
    }

    private func sweep(_ now: UInt64) {
        resolveParked(now)
        for connection in Array(connections.values) where connection.parked == nil {
            switch connection.state {
            case .lingering:
                if now >= connection.lingerDeadline { close(connection) }
            case .open, .closingAfterWrite:
                if let deadline = connection.writeDeadline, now >= deadline {
                    close(connection)
                } else if connection.hasOutput {
                    continue
                } else if let deadline = connection.headerDeadline, now >= deadline {
                    logger.debug("closing a connection that did not send a request head in time")
                    respond(
                        connection,
                        .text(408, "request head not received in time\n"),
                        keepAlive: false,
                        headOnly: false
                    )
                    connection.state = .closingAfterWrite
                    flush(connection, now)
                } else if connection.headerDeadline == nil && now >= connection.idleDeadline {
                    close(connection)
                }
            }
        }
    }

    /// Closes a connection once: a connection already closed (its descriptor perhaps reused) is left alone.
    private func close(_ connection: Connection) {
        guard connections[connection.fd] === connection else { return }
        unpark(connection)
        epoll_ctl(epoll, EPOLL_CTL_DEL, connection.fd, nil)
        Syscall.close(connection.fd)
        connections[connection.fd] = nil
    }
}
