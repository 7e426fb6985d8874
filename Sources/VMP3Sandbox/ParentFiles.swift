#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VMP3Core

/// The input of a sandboxed conversion, opened by the parent (the child opens nothing): the same
/// checks, and the same errors, as an in-process conversion's. Closed in `deinit`.
final class ParentInputFile {
    let descriptor: Int32

    init(url: URL) throws(ConversionError) {
        let path = url.path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw ConversionError(code: .inputNotFound, message: "\(path): no such file")
            }
            throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(String(cString: strerror(code)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(String(cString: strerror(code)))")
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            close(descriptor)
            throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): it is a directory")
        }
        if status.st_mode & S_IFMT == S_IFREG && status.st_size == 0 {
            close(descriptor)
            throw ConversionError(code: .notMediaFile, message: "\(path) is empty")
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}

/// The output of a sandboxed conversion: made by the parent under a temporary name beside its
/// destination, written by the child through the descriptor, renamed into place by ``commit()``
/// after the child's success and removed otherwise (``AtomicOutputFile``).
final class ParentOutputFile {
    private let file: AtomicOutputFile

    init(destination: URL, maxSize: Int64?) throws(ConversionError) {
        file = try AtomicOutputFile(destination: destination.path, maxSize: maxSize)
    }

    var descriptor: Int32 { file.fileDescriptor }

    /// The file's size now, in bytes (what the child wrote).
    var writtenSize: Int64 {
        var status = stat()
        return fstat(file.fileDescriptor, &status) == 0 ? Int64(status.st_size) : -1
    }

    func commit() throws(ConversionError) {
        try file.commit()
    }
}
