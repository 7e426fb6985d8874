#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VMP3Core

/// An exclusive `flock` on a file, held from creation until deinit (or the process's end, which
/// the kernel releases it on whatever killed the process).
final class ProcessLock: Sendable {
    private let descriptor: Int32

    /// - Throws: ``ConfigurationError`` if another process holds the lock, or the file cannot be opened.
    init(path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another process is using it" : String(cString: strerror(errno))
            close(descriptor)
            throw ConfigurationError("cannot lock \(path): \(reason)")
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}
