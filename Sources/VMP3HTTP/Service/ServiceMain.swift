import Foundation
import VMP3Core

/// The top level of a service executable.
public enum ServiceMain {
    /// Runs `body`, the whole life of the service named `name`. If it throws — a bad setting, a
    /// server that cannot be reached at start, a failure that ends the service — the error is one
    /// line on standard error (`NAME: MESSAGE`) and the exit status 1, instead of the Swift
    /// runtime's "Error raised at top level" crash report with a backtrace.
    public static func run(_ name: String, _ body: () async throws -> Void) async -> Never {
        // Before any thread allocates: a service streams uploads, downloads and MP3s through large
        // buffers, and converts (``ProcessAllocator``).
        ProcessAllocator.limitArenas()
        ProcessAllocator.mapLargeBlocks()
        // Everything a service makes (databases, uploads, MP3s, keys) is its own, created so.
        umask(0o077)
        do {
            try await body()
            exit(0)
        } catch {
            // The throwing write: Foundation's `write(_:)` traps when the stream's reader has
            // gone (EPIPE under an ignored SIGPIPE, as systemd runs services), and a line nobody
            // can read is no reason to crash.
            try? FileHandle.standardError.write(contentsOf: Data("\(name): \(error)\n".utf8))
            exit(1)
        }
    }
}
