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

/// A file written under a temporary name beside its destination and renamed into place by
/// ``commit()``. Until then the destination is untouched; if the file is never committed, `deinit`
/// removes the temporary file, so a failed or cancelled conversion leaves nothing behind.
///
/// In the conversion child the file is a descriptor it was given (``init(descriptor:maxSize:)``):
/// the child writes and flushes it, and the parent, which made it, renames or removes it.
package final class AtomicOutputFile {
    package let destination: String
    package let temporaryPath: String
    private var descriptor: Int32
    private var committed = false
    /// Whether this object made the file (and so renames or removes it) or was given it.
    private let ownsFile: Bool
    /// The open file (the parent of a conversion child hands it to the child).
    package var fileDescriptor: Int32 { descriptor }
    /// Bytes appended so far.
    package private(set) var size: Int64 = 0
    /// The most bytes the file may hold, or `nil` for no limit.
    package let maxSize: Int64?

    /// - Parameter maxSize: the most bytes that may be appended; one more fails the append with
    ///   ``ConversionError/Code/outputTooLarge``.
    package init(destination: String, maxSize: Int64? = nil) throws(ConversionError) {
        self.destination = destination
        self.maxSize = maxSize
        let url = URL(fileURLWithPath: destination)
        let directory = url.deletingLastPathComponent().path
        var existing = stat()
        if stat(destination, &existing) == 0, existing.st_mode & S_IFMT == S_IFDIR {
            throw Self.failure(destination, "it is a directory")
        }
        temporaryPath = directory + "/." + url.lastPathComponent + "." + UUID().uuidString.prefix(8) + ".partial"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            throw Self.failure(directory, String(cString: strerror(errno)))
        }
        ownsFile = true
    }

    /// Writes to an empty file open for writing at `descriptor`, which stays open and is neither
    /// renamed nor removed here: ``commit()`` only flushes it.
    package init(descriptor: Int32, name: String, maxSize: Int64? = nil) {
        self.destination = name
        self.temporaryPath = name
        self.descriptor = descriptor
        self.maxSize = maxSize
        ownsFile = false
    }

    deinit {
        guard ownsFile else { return }
        if descriptor >= 0 { close(descriptor) }
        if !committed { unlink(temporaryPath) }
    }

    /// Appends `bytes`.
    package func append(_ bytes: UnsafeRawBufferPointer) throws(ConversionError) {
        if let maxSize, size + Int64(bytes.count) > maxSize {
            throw ConversionError(code: .outputTooLarge, message: "the MP3 would be larger than its limit of \(maxSize) bytes")
        }
        try write(bytes, at: size)
        size += Int64(bytes.count)
    }

    /// Appends `bytes`.
    package func append(_ bytes: [UInt8]) throws(ConversionError) {
        let result: Result<Void, ConversionError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(ConversionError) in try append(buffer) }
        }
        try result.get()
    }

    /// Writes `bytes` at `offset`, which must lie within what was appended (used to fill in the
    /// LAME/Xing frame once the length is known).
    package func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(ConversionError) {
        guard offset >= 0, offset + Int64(bytes.count) <= size else {
            throw ConversionError(code: .encodingFailed, message: "the LAME/Xing frame does not fit where the first frame was written")
        }
        try write(bytes, at: offset)
    }

    /// Writes `bytes` at `offset`, which must lie within what was appended.
    package func overwrite(_ bytes: [UInt8], at offset: Int64) throws(ConversionError) {
        let result: Result<Void, ConversionError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(ConversionError) in try overwrite(buffer, at: offset) }
        }
        try result.get()
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(ConversionError) {
        var done = 0
        while done < bytes.count {
            let written = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure(temporaryPath, String(cString: strerror(errno)))
            }
            done += written
        }
    }

    /// Flushes the file to disk and moves it to the destination, replacing any file there.
    package func commit() throws(ConversionError) {
        if fsync(descriptor) != 0 {
            throw Self.failure(temporaryPath, String(cString: strerror(errno)))
        }
        guard ownsFile else {
            committed = true
            return
        }
        close(descriptor)
        descriptor = -1
        if rename(temporaryPath, destination) != 0 {
            throw Self.failure(destination, String(cString: strerror(errno)))
        }
        committed = true
    }

    private static func failure(_ path: String, _ reason: String) -> ConversionError {
        ConversionError(code: .outputNotWritable, message: "cannot write \(path): \(reason)")
    }
}
