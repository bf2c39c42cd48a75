/// One client connection's buffers and deadlines.
final class Connection {
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
