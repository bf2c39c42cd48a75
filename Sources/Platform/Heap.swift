import CMalloc

/// glibc heap settings for a small daemon.
public enum Heap {
    /// Returns free heap memory to the kernel (after a full scan, whose transient listings are gone).
    public static func trim() {
        _ = malloc_trim(0)
    }
}
