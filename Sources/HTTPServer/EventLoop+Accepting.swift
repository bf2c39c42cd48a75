import CEpoll
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// Accepting connections, and choosing which to lose at the connection cap.
extension EventLoop {
    func acceptConnections(_ now: UInt64) {
        // A bounded number per turn: connections just accepted get their requests read before a flood of
        // newcomers can make them the oldest without a complete head (the listener stays ready for the rest).
        for _ in 0..<max(1, configuration.maxConnections / 4) {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd: Int32
            do {
                fd = try calls.accept(listener.fileDescriptor, &address, &length)
            } catch {
                switch error.code {
                case ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM: pauseAccepting(now, error)
                default:
                    // Nobody waits any more (EAGAIN): a shortage spell is over too.
                    if error.wouldBlock {
                        endShortage(now)
                    } else {
                        logger.debug("accept failed", metadata: ["error": "\(error)"])
                    }
                }
                return
            }
            endShortage(now)
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
                _ = refusal.withUnsafeBytes { bytes in try? calls.send(fd, bytes) }
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
    func cheapestToLose(_ now: UInt64) -> Connection? {
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
    func hasUnreadInput(_ connection: Connection) -> Bool {
        var byte: UInt8 = 0
        return (try? calls.receive(connection.fd, &byte, 1, flags: Int32(MSG_PEEK | MSG_DONTWAIT))) == 1
    }

    /// The client's host address (without the port: one peer may open many connections).
    static func peerKey(_ address: sockaddr_storage, length: socklen_t) -> [UInt8] {
        var copy = address
        return withUnsafeBytes(of: &copy) { raw in
            switch Int32(address.ss_family) {
            case AF_INET: Array(raw[4..<8])  // sin_addr
            case AF_INET6: Array(raw[8..<24])  // sin6_addr
            default: Array(raw.prefix(Int(length)))
            }
        }
    }

    /// Out of descriptors (or kernel memory): the listener stays readable while connections wait in its backlog,
    /// so waiting on it again would spin. It leaves the epoll set for 50 ms at a time, until an accept succeeds;
    /// the spell is logged once, with the limit, and its end too. Established connections are served meanwhile.
    func pauseAccepting(_ now: UInt64, _ error: Errno) {
        calls.epollRemove(epoll, listener.fileDescriptor)
        acceptPausedUntil = now + 50_000_000
        guard shortageSince == nil else { return }
        shortageSince = now
        let metadata: Logger.Metadata = ["error": "\(error)", "connections": "\(connections.count)"]
        if error.code == EMFILE || error.code == ENFILE {
            logger.warning(
                "out of file descriptors; not accepting new connections until one is free (raise LimitNOFILE or ulimit -n)",
                metadata: metadata
            )
        } else {
            logger.warning(
                "out of kernel memory for sockets; not accepting new connections until there is some",
                metadata: metadata
            )
        }
    }

    /// Ends a spell of ``pauseAccepting(_:_:)``: logged once, with how long it lasted.
    func endShortage(_ now: UInt64) {
        guard let since = shortageSince else { return }
        shortageSince = nil
        logger.notice("accepting connections again", metadata: ["paused_ms": "\((now - since) / 1_000_000)"])
    }

    /// Puts the listener back into the epoll set after a pause (a refusal is logged once per spell).
    func resumeAccepting() {
        acceptPausedUntil = nil
        do {
            try add(listener.fileDescriptor, EPOLLIN.rawValue)
            resumeFailureLogged = false
        } catch {
            acceptPausedUntil = MonotonicClock.nanoseconds() + 50_000_000
            if !resumeFailureLogged {
                resumeFailureLogged = true
                logger.warning(
                    "cannot put the listener back into the event loop; retrying",
                    metadata: ["error": "\(error)"]
                )
            }
        }
    }
}
