import CEpoll
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The event loop, owned by its thread; nothing here is shared.
final class EventLoop: @unchecked Sendable {
    let listener: Listener
    let wake: Int32
    let configuration: HTTPServerConfiguration
    let logger: Logger
    let handler: HTTPDeferringHandler
    let parkedCount: ParkedRequestCount
    var parkedConnections: Set<Int32> = []
    let parser: HTTPRequestParser
    let epoll: Int32
    var connections: [Int32: Connection] = [:]
    var stopping = false
    /// Connections with pipelined requests left over after their turn: served again before the next wait,
    /// after every other ready connection has had its turn.
    var backlog: [(fd: Int32, serial: UInt64)] = []
    /// Connections accepted so far (see ``Connection/serial``).
    var accepted: UInt64 = 0
    /// Requests one connection may have answered per turn, so that a deep pipeline cannot delay a scrape.
    static let requestsPerTurn = 4
    var stopDeadline: UInt64 = 0
    let readChunk: UnsafeMutableRawBufferPointer
    /// Every system call on sockets and the epoll set goes through here.
    let calls: SocketCalls
    /// While out of descriptors: when the listener goes back into the epoll set (see ``pauseAccepting(_:_:)``).
    var acceptPausedUntil: UInt64?
    /// Since when accepting has failed for want of descriptors or memory (logged once per such spell).
    var shortageSince: UInt64?
    var resumeFailureLogged = false

    let headerTimeout: UInt64
    let idleTimeout: UInt64
    let writeTimeout: UInt64
    static let lingerTimeout: UInt64 = 2_000_000_000
    static let maxDiscard = 1 << 20
    /// Responses queued for a client that is not reading stop the processing of its pipelined requests here
    /// (three scrapes' worth), and unparsed input beyond one head stops reading. Measured: 510 connections
    /// each pipelining 999 scrapes without reading hold 40 MB of RSS in all.
    static let maxPendingOutput = 16 * 1024

    init(
        listener: Listener,
        wake: Int32,
        configuration: HTTPServerConfiguration,
        logger: Logger,
        parked: ParkedRequestCount,
        calls: SocketCalls,
        handler: @escaping HTTPDeferringHandler
    ) throws(Errno) {
        self.calls = calls
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

    /// What epoll hands back with an event: the descriptor and (for connections) the low 32 bits of its serial,
    /// so an event left over from a connection closed in this turn never reaches a newer one on the same number.
    static func tag(_ fd: Int32, serial: UInt64 = 0) -> UInt64 {
        UInt64(UInt32(bitPattern: fd)) | (serial & 0xFFFF_FFFF) << 32
    }

    /// Adds a descriptor to the epoll set; false (logged) if the kernel refused (`ENOMEM`, `ENOSPC`).
    func register(_ fd: Int32, _ events: UInt32, serial: UInt64 = 0) -> Bool {
        do {
            try add(fd, events, serial: serial)
            return true
        } catch {
            logger.warning("cannot add a socket to the event loop", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Adds a descriptor to the epoll set, tagged (see ``tag(_:serial:)``).
    func add(_ fd: Int32, _ events: UInt32, serial: UInt64 = 0) throws(Errno) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = Self.tag(fd, serial: serial)
        try calls.epollControl(epoll, EPOLL_CTL_ADD, fd, &event)
    }

    /// Changes what the loop waits for on a connection; a connection the kernel will not change is closed
    /// (it could never be served).
    func setInterest(_ connection: Connection, _ events: UInt32) {
        guard connection.interest != events else { return }
        connection.interest = events
        var event = epoll_event()
        event.events = events
        event.data.u64 = Self.tag(connection.fd, serial: connection.serial)
        do {
            try calls.epollControl(epoll, EPOLL_CTL_MOD, connection.fd, &event)
        } catch {
            logger.warning("cannot change a connection in the event loop; closing it", metadata: ["error": "\(error)"])
            close(connection)
        }
    }

    func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var nextSweep: UInt64 = 0
        while true {
            let waitsForever = connections.isEmpty && !stopping && acceptPausedUntil == nil
            let timeout: Int32 = !backlog.isEmpty ? 0 : waitsForever ? -1 : acceptPausedUntil != nil ? 50 : 250
            let count: Int
            do {
                count = try calls.epollWait(epoll, &events, timeout: timeout)
            } catch {
                logger.error("epoll_wait failed; the HTTP server stops", metadata: ["error": "\(error)"])
                break
            }
            let now = MonotonicClock.nanoseconds()
            if let until = acceptPausedUntil, now >= until, !stopping { resumeAccepting() }
            for index in 0..<count {
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

    func beginStopping(_ now: UInt64) {
        var value: UInt64 = 0
        _ = try? Syscall.retrying("read") { read(wake, &value, 8) }
        guard !stopping else { return }
        stopping = true
        stopDeadline = now + UInt64(configuration.shutdownGracePeriod * 1_000_000_000)
        calls.epollRemove(epoll, listener.fileDescriptor)
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

    func sweep(_ now: UInt64) {
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
    func close(_ connection: Connection) {
        guard connections[connection.fd] === connection else { return }
        unpark(connection)
        calls.epollRemove(epoll, connection.fd)
        Syscall.close(connection.fd)
        connections[connection.fd] = nil
    }
}
