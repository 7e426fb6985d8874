import Foundation
import Synchronization

/// Reads a file one chunk per call, for `AsyncThrowingStream(unfolding:)`: the consumer's pace
/// bounds memory. Closes the file at its end or when released.
final class FileChunkReader: Sendable {
    private let handle: FileHandle
    private let chunkSize: Int
    /// Bytes still to be read when the reader was given a limit (a ranged read), else `Int64.max`.
    private let remaining: Atomic<Int64>

    /// Reads `handle` from where it stands: to the end of the file, or `limit` bytes at most.
    init(_ handle: FileHandle, chunkSize: Int = 256 * 1024, limit: Int64 = .max) {
        self.handle = handle
        self.chunkSize = chunkSize
        remaining = Atomic(limit)
    }

    /// - Throws: ``StorageError/Code/localFile`` if the file cannot be opened.
    convenience init(_ url: URL, chunkSize: Int = 256 * 1024) throws {
        do {
            self.init(try FileHandle(forReadingFrom: url), chunkSize: chunkSize)
        } catch {
            throw StorageError(code: .localFile, message: "cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    /// The next chunk, or `nil` at the end of the file.
    func next() throws -> [UInt8]? {
        let left = remaining.load(ordering: .relaxed)
        guard left > 0, let data = try handle.read(upToCount: Int(min(Int64(chunkSize), left))), !data.isEmpty else {
            try? handle.close()
            return nil
        }
        remaining.subtract(Int64(data.count), ordering: .relaxed)
        return [UInt8](data)
    }

    deinit {
        try? handle.close()
    }
}
