#if canImport(Glibc)
import Glibc
#endif

/// Reads whole small files (`/proc` entries, registry files) without Foundation.
public enum SmallFile {
    /// Reads at most `limit` bytes of the file at `path`; `truncated` is true when the file is longer.
    public static func read(
        _ path: String,
        limit: Int = 64 * 1024
    ) throws(Errno) -> (bytes: [UInt8], truncated: Bool) {
        let fd = try Syscall.retrying("open") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { Syscall.close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var filled = 0
        while filled < bytes.count {
            let base = filled
            let count = try Syscall.retrying("read") {
                bytes.withUnsafeMutableBytes { buffer in
                    Glibc.read(fd, buffer.baseAddress! + base, buffer.count - base)
                }
            }
            if count == 0 { break }
            filled += count
        }
        let truncated = filled > limit
        bytes.removeLast(bytes.count - min(filled, limit))
        return (bytes, truncated)
    }
}

/// Writes to standard error with `write(2)`: whole lines, no stdio buffering, safe from any thread.
public enum StandardError {
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
