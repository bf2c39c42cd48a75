import CEpoll
import Logging
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// Reading requests, answering them (or parking them), and writing responses.
extension EventLoop {
    func service(_ connection: Connection, _ flags: UInt32, _ now: UInt64) {
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
    func readInput(_ connection: Connection, _ now: UInt64) -> Bool {
        while true {
            // Never buffer much more than one head (the parser refuses anything larger): with that much
            // unparsed, reading waits until processing makes room.
            let room = configuration.parser.maxHeadBytes + 4096 - connection.pendingInput.count
            if room <= 0 && connection.state != .lingering { return true }
            let count: Int
            do {
                count = try calls.receive(connection.fd, readChunk.baseAddress!, min(readChunk.count, max(room, 4096)))
            } catch {
                if error.wouldBlock { return true }
                close(connection)
                return false
            }
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
    }

    func process(_ connection: Connection, _ now: UInt64, budget: Int = .max) {
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

    func respond(_ connection: Connection, _ response: HTTPResponse, keepAlive: Bool, headOnly: Bool) {
        response.write(to: &connection.output, keepAlive: keepAlive, headOnly: headOnly)
    }

    func flush(_ connection: Connection, _ now: UInt64) {
        while connection.hasOutput {
            let result = connection.output.withUnsafeBytes { bytes in
                Result { () throws(Errno) in
                    try calls.send(connection.fd, UnsafeRawBufferPointer(rebasing: bytes[connection.outputStart...]))
                }
            }
            let written: Int
            do {
                written = try result.get()
            } catch {
                if error.wouldBlock {
                    if connection.writeDeadline == nil { connection.writeDeadline = now + writeTimeout }
                    setInterest(connection, EPOLLOUT.rawValue)
                    return
                }
                close(connection)
                return
            }
            if written > 0 {
                connection.outputStart += written
                continue
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
    func resolveParked(_ now: UInt64) {
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

    func unpark(_ connection: Connection) {
        guard connection.parked != nil else { return }
        connection.parked = nil
        parkedConnections.remove(connection.fd)
        parkedCount.add(-1)
    }

    func parkedFrom(_ peer: [UInt8]) -> Int {
        parkedConnections.count { connections[$0]?.peer == peer }
    }
}
