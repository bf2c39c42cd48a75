#if canImport(Glibc)
import Glibc
#endif

/// Lets the kernel reclaim the executable's own code pages that startup touched.
///
/// The binary's code is mapped from its file. Startup runs code that never runs again (configuration,
/// the first full scan, logging setup), and the kernel maps code in 64 KiB windows around each page
/// touched, so after startup most of the 6 MB of code is resident although the steady state uses a
/// fraction of it. These pages are clean and file-backed (the kernel would drop them under memory
/// pressure anyway); `MADV_PAGEOUT` (Linux 5.4+) drops them now, and the pages the running exporter
/// needs come back on first use. Nothing allocated is affected. On older kernels this does nothing.
public enum CodePages {
    /// `MADV_PAGEOUT` from `<linux/mman.h>`, which glibc's headers in the Swift module do not expose.
    static let pageOut: Int32 = 21

    /// Advises `MADV_PAGEOUT` on every read-only or executable private mapping of the executable file.
    /// Returns how many bytes of mappings were advised.
    @discardableResult
    public static func release() -> Int {
        guard let executable = executablePath(),
            let maps = try? SmallFile.read("/proc/self/maps", limit: 1 << 20).bytes
        else { return 0 }
        var advised = 0
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            guard fields.count >= 6 else { continue }
            let permissions = Array(fields[1])
            // r-xp (code) and r--p (read-only data); never writable mappings.
            guard permissions.count == 4, permissions[0] == UInt8(ascii: "r"), permissions[1] == UInt8(ascii: "-"),
                permissions[3] == UInt8(ascii: "p"),
                String(decoding: Array(fields[5...].joined(separator: [UInt8(ascii: " ")])), as: UTF8.self)
                    == executable
            else { continue }
            let range = fields[0].split(separator: UInt8(ascii: "-"))
            guard range.count == 2,
                let low = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                let high = UInt(String(decoding: range[1], as: UTF8.self), radix: 16),
                let start = UnsafeMutableRawPointer(bitPattern: low)
            else { continue }
            // MADV_RANDOM first: a page needed again is then read alone, without the readahead that would
            // bring its neighbours back too.
            _ = madvise(start, Int(high - low), MADV_RANDOM)
            if madvise(start, Int(high - low), pageOut) == 0 { advised += Int(high - low) }
        }
        return advised
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
