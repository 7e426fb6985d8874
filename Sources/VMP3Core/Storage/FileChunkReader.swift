import Foundation

/// Reads a file one chunk per call, for `AsyncThrowingStream(unfolding:)`: the consumer's pace
/// bounds memory. Closes the file at its end or when released.
final class FileChunkReader: Sendable {
    private let handle: FileHandle
    private let chunkSize: Int

    init(_ handle: FileHandle, chunkSize: Int = 256 * 1024) {
        self.handle = handle
        self.chunkSize = chunkSize
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
        guard let data = try handle.read(upToCount: chunkSize), !data.isEmpty else {
            try? handle.close()
            return nil
        }
        return [UInt8](data)
    }

    deinit {
        try? handle.close()
    }
}
