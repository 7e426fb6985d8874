#if canImport(Glibc)
import Glibc
#endif

/// The number of glibc malloc arenas a converting process keeps, and freed memory handed back.
///
/// glibc gives threads that allocate at once arenas of their own, up to eight a core, and memory
/// freed in one arena serves only that arena's threads. A conversion's threads (the pipeline's,
/// one LAME encoder's a segment, Swift's and Dispatch's) each allocate, so the arenas' free
/// memory adds up: `vmp3 convert` of a 10-minute video peaked at 80.6 MB with glibc's default and
/// 74.4 MB with two arenas, no slower (Docs/performance.md). A process that converts (the `vmp3`
/// tool, the converter service) calls ``limit(to:)`` first thing, before it starts threads.
public enum AllocatorArenas {
    private typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// `M_ARENA_MAX` in glibc's `malloc.h`.
    private static let arenaMaximum: Int32 = -8

    /// Caps the arenas at `count`. Does nothing with another C library. `mallopt` is looked up by
    /// name: Swift's Glibc module does not declare `malloc.h`.
    public static func limit(to count: Int = 2) {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: MallOpt.self)(arenaMaximum, Int32(clamping: max(1, count)))
        #endif
    }

    /// Hands the memory freed in every arena back to the system (glibc's `malloc_trim`), after a
    /// phase that needed several megabytes for a moment (the video decoder of a cover taken from a
    /// frame), so that they do not stay resident through the conversion that follows.
    static func returnFreedMemory() {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }
}
