#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// Reads a file one chunk per call, for `AsyncThrowingStream(unfolding:)`: the consumer's pace
/// bounds memory. Closes the file at its end or when released.
final class FileChunkReader: Sendable {
    private let file: OpenFile
    private let chunkSize: Int
    /// Bytes still to be read when the reader was given a limit (a ranged read), else `Int64.max`.
    private let remaining: Atomic<Int64>

    /// Reads `file` from where it stands: to the end of the file, or `limit` bytes at most.
    init(_ file: OpenFile, chunkSize: Int = 256 * 1024, limit: Int64 = .max) {
        self.file = file
        self.chunkSize = chunkSize
        remaining = Atomic(limit)
    }

    /// - Throws: ``StorageError/Code/localFile`` if the file cannot be opened.
    convenience init(_ url: URL, chunkSize: Int = 256 * 1024) throws {
        do {
            self.init(try OpenFile(path: url.path, mode: .read), chunkSize: chunkSize)
        } catch {
            throw StorageError(code: .localFile, message: "cannot read \(url.path): \(error.reason)")
        }
    }

    /// The next chunk, or `nil` at the end of the file.
    ///
    /// - Throws: ``StorageError/Code/localFile`` if the file cannot be read.
    func next() throws -> [UInt8]? {
        let left = remaining.load(ordering: .relaxed)
        guard left > 0 else {
            file.close()
            return nil
        }
        let chunk: [UInt8]
        do {
            chunk = try file.read(upTo: Int(min(Int64(chunkSize), left)))
        } catch {
            file.close()
            throw StorageError(code: .localFile, message: "cannot read \(file.path): \(error.reason)")
        }
        guard !chunk.isEmpty else {
            file.close()
            return nil
        }
        remaining.subtract(Int64(chunk.count), ordering: .relaxed)
        return chunk
    }
}
