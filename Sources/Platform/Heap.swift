import CMalloc

/// glibc heap settings for a small daemon.
public enum Heap {
    /// One malloc arena for the whole process. glibc gives each thread that allocates its own arena
    /// (up to 8 per core), and memory freed into one of them is not reused by the others: with scan
    /// threads, the state actor and the HTTP loop, that cost several megabytes of resident memory for
    /// nothing. The exporter's threads rarely allocate at the same time, so one arena costs no speed.
    public static func useSingleArena() {
        _ = mallopt(M_ARENA_MAX, 1)
    }

    /// Returns free heap memory to the kernel (after a full scan, whose transient listings are gone).
    public static func trim() {
        _ = malloc_trim(0)
    }
}
