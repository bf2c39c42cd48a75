import CZlib
import Synchronization

/// gzip (RFC 1952) through zlib: what Prometheus asks for with `Accept-Encoding: gzip`.
///
/// zlib is linked statically, so it adds nothing to the binary's `ldd` list. Level 6 (zlib's default) with its
/// dynamic Huffman codes: a 4.8 kB scrape becomes about 1.3 kB. One compressor's state (about 256 KiB) is kept
/// and reset for each body: setting it up anew for every scrape cost more than compressing.
public enum Gzip {
    /// The compression level used for responses.
    public static let level: Int32 = 6

    /// The kept compressor, if one is idle: a single slot, taken and put back with atomic exchanges (no lock). A
    /// second caller at the same moment sets up its own, and the one put back second is freed.
    private static let idle = Atomic<Unmanaged<Deflater>?>(nil)

    /// `input`, gzip-compressed; `nil` only if zlib cannot allocate its state (the caller sends it uncoded).
    public static func compress(_ input: [UInt8]) -> [UInt8]? {
        let kept = idle.exchange(nil, ordering: .acquiring)?.takeRetainedValue()
        guard let deflater = kept ?? Deflater(level: level) else { return nil }
        defer {
            let back = Unmanaged.passRetained(deflater)
            if !idle.compareExchange(expected: nil, desired: back, ordering: .releasing).exchanged {
                back.release()
            }
        }
        return deflater.compress(input)
    }

    /// The contents of a gzip stream, at most `limit` bytes of them; `nil` if it is not one, is cut short, or
    /// holds more. For tests and the fuzzer's round trip.
    public static func decompress(_ input: [UInt8], limit: Int = 1 << 24) -> [UInt8]? {
        // zlib keeps a pointer back to its z_stream: the stream must not move, so it is allocated.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return nil
        }
        defer { inflateEnd(stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var result = Z_OK
        input.withUnsafeBufferPointer { source in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.pointee.avail_in = uInt(source.count)
            while result == Z_OK && output.count <= limit {
                chunk.withUnsafeMutableBufferPointer { target in
                    stream.pointee.next_out = target.baseAddress
                    stream.pointee.avail_out = uInt(target.count)
                    result = inflate(stream, Z_NO_FLUSH)
                    output += target[0..<(target.count - Int(stream.pointee.avail_out))]
                }
            }
        }
        guard result == Z_STREAM_END, stream.pointee.avail_in == 0, output.count <= limit else { return nil }
        return output
    }
}

/// One zlib compressor producing gzip streams, reset between bodies.
private final class Deflater: @unchecked Sendable {
    /// Allocated, never moved: zlib's state points back to it. Used by one caller at a time (``Gzip`` hands it
    /// out under a lock).
    private let stream: UnsafeMutablePointer<z_stream>

    init?(level: Int32) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
        let started = deflateInit2_(
            stream,
            level,
            Z_DEFLATED,
            15 + 16,
            8,
            Z_DEFAULT_STRATEGY,
            zlibVersion(),
            Int32(MemoryLayout<z_stream>.size)
        )
        // On failure deinit still runs (every property is set): it ends and frees the stream.
        guard started == Z_OK else { return nil }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    func compress(_ input: [UInt8]) -> [UInt8]? {
        guard deflateReset(stream) == Z_OK else { return nil }
        let bound = Int(deflateBound(stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let result = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.pointee.avail_in = uInt(source.count)
                stream.pointee.next_out = target.baseAddress
                stream.pointee.avail_out = uInt(target.count)
                // deflateBound guarantees room for everything in one call.
                return deflate(stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { return nil }
        output.removeLast(bound - Int(stream.pointee.total_out))
        return output
    }
}
