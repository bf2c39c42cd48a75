import CEpoll
import Platform

#if canImport(Glibc)
import Glibc
#endif

/// The system calls the event loop makes, in one place: the kernel's (``system``), or in tests ones that fail
/// on cue (out of descriptors, a refused `epoll_ctl`, a reset connection). `EINTR` is retried here, once for all
/// callers, and a failure is thrown as an ``Errno`` naming the call.
struct SocketCalls: Sendable {
    /// The raw calls: each returns what the C function returns and leaves the cause of a failure in `errno`.
    var rawAccept:
        @Sendable (
            _ listener: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>
        ) -> Int32
    var rawEpollControl:
        @Sendable (_ epoll: Int32, _ operation: Int32, _ fd: Int32, _ event: UnsafeMutablePointer<epoll_event>?) ->
            Int32
    var rawEpollWait:
        @Sendable (_ epoll: Int32, _ events: UnsafeMutablePointer<epoll_event>, _ capacity: Int32, _ timeout: Int32) ->
            Int32
    var rawReceive: @Sendable (_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ flags: Int32) -> Int
    var rawSend: @Sendable (_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int

    static let system = SocketCalls(
        rawAccept: { accept4($0, $1, $2, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)) },
        rawEpollControl: { epoll_ctl($0, $1, $2, $3) },
        rawEpollWait: { epoll_wait($0, $1, $2, $3) },
        rawReceive: { recv($0, $1, $2, $3) },
        rawSend: { Glibc.send($0, $1, $2, $3) }
    )

    /// A new connection (non-blocking, close-on-exec) and its peer's address.
    func accept(_ listener: Int32, _ address: inout sockaddr_storage, _ length: inout socklen_t) throws(Errno) -> Int32
    {
        try withUnsafeMutablePointer(to: &address) { pointer throws(Errno) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(Errno) in
                try Syscall.retrying("accept4") { rawAccept(listener, address, &length) }
            }
        }
    }

    func epollControl(_ epoll: Int32, _ operation: Int32, _ fd: Int32, _ event: inout epoll_event) throws(Errno) {
        _ = try Syscall.retrying("epoll_ctl") { rawEpollControl(epoll, operation, fd, &event) }
    }

    /// Removes `fd` from the epoll set (a failure changes nothing the caller could act on).
    func epollRemove(_ epoll: Int32, _ fd: Int32) {
        _ = try? Syscall.retrying("epoll_ctl") { rawEpollControl(epoll, EPOLL_CTL_DEL, fd, nil) }
    }

    func epollWait(_ epoll: Int32, _ events: inout [epoll_event], timeout: Int32) throws(Errno) -> Int {
        let capacity = Int32(events.count)
        return Int(
            try events.withUnsafeMutableBufferPointer { buffer throws(Errno) in
                try Syscall.retrying("epoll_wait") { rawEpollWait(epoll, buffer.baseAddress!, capacity, timeout) }
            }
        )
    }

    /// Bytes read (0: the peer closed its side).
    func receive(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, flags: Int32 = 0) throws(Errno) -> Int {
        try Syscall.retrying("recv") { rawReceive(fd, buffer, count, flags) }
    }

    /// Bytes written; never raises `SIGPIPE`.
    func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return try Syscall.retrying("send") { rawSend(fd, base, bytes.count, Int32(MSG_NOSIGNAL)) }
    }
}
