#if canImport(Glibc)
import Glibc
#endif

/// How glibc's allocator serves a VMP3 process: settings that keep memory a conversion or a
/// transfer freed from staying resident. Each does nothing with another C library.
///
/// glibc's `malloc.h` is not in Swift's Glibc module, so `mallopt` and `malloc_trim` are looked
/// up by name. Measured effects are in Docs/performance.md.
public enum ProcessAllocator {
    private typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// `M_MMAP_THRESHOLD` and `M_ARENA_MAX` in glibc's `malloc.h`.
    private static let mappingThreshold: Int32 = -3, arenaMaximum: Int32 = -8

    /// Caps glibc's malloc arenas at `count`: by default it gives threads that allocate at once
    /// arenas of their own, up to eight a core, and each arena keeps what its threads freed. A
    /// conversion's threads (the pipeline's, one LAME encoder's a segment, Swift's and Dispatch's)
    /// all allocate: with two arenas the conversion of a 10-minute video peaks 6 MB lower. Call it
    /// first thing, before threads allocate.
    public static func limitArenas(to count: Int = 2) {
        mallopt(arenaMaximum, Int32(clamping: max(1, count)))
    }

    /// Serves blocks of `bytes` and more from mappings of their own, which go back to the system
    /// when freed. glibc's default raises that threshold to the size of the largest block freed,
    /// after which large blocks (request bodies, S3 parts) come from the heap and stay resident
    /// once freed: an 8 MiB-part upload of 300 MB peaked at 113 MB with it, 72 MB without it.
    public static func mapLargeBlocks(from bytes: Int = 1 << 20) {
        mallopt(mappingThreshold, Int32(clamping: bytes))
    }

    /// Hands the memory freed in every arena back to the system (`malloc_trim`), after a phase
    /// that needed several megabytes for a moment (the video decoder of a cover taken from a
    /// frame), so that they do not stay resident through the work that follows.
    public static func returnFreedMemory() {
        _ = function("malloc_trim", as: MallocTrim.self)?(0)
    }

    private static func mallopt(_ parameter: Int32, _ value: Int32) {
        _ = function("mallopt", as: MallOpt.self)?(parameter, value)
    }

    /// The C library's function `name`, if it has one.
    private static func function<Function>(_ name: String, as type: Function.Type) -> Function? {
        #if canImport(Glibc)
        return dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
        #else
        return nil
        #endif
    }
}
