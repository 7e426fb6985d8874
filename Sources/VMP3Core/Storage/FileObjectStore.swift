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

/// An ``ObjectStore`` in a directory: the embedded default (`file:///var/lib/vmp3`).
///
/// Layout under the root: `objects/PATH` holds the bytes, `metadata/PATH.json` the content type,
/// `incoming/` the files being written. PATH is the key with `.d` after each folder segment and
/// `.o` after the last (so that `a/b` and `a/b/c` can both be keys, as in S3), and segments
/// longer than a file name may be split into 200-byte pieces marked `.c`. Every put writes to `incoming/` and renames into place,
/// so readers never see part of an object, and a crash leaves only an orphan in `incoming/`
/// (cleared when the store is next opened).
public struct FileObjectStore: ObjectStore {
    public let root: URL
    /// Bytes per chunk when streaming.
    public let chunkSize: Int

    private var objects: URL { root.appendingPathComponent("objects", isDirectory: true) }
    private var metadata: URL { root.appendingPathComponent("metadata", isDirectory: true) }
    private var incoming: URL { root.appendingPathComponent("incoming", isDirectory: true) }

    /// Opens (creating if needed) a store rooted at `root`.
    public init(root: URL, chunkSize: Int = 256 * 1024) throws {
        self.root = root
        self.chunkSize = chunkSize
        let fileManager = FileManager.default
        do {
            for directory in [objects, metadata, incoming] {
                try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            for orphan in try fileManager.contentsOfDirectory(atPath: incoming.path) {
                try? fileManager.removeItem(at: incoming.appendingPathComponent(orphan))
            }
        } catch {
            throw StorageError(code: .localFile, message: "cannot open the object store at \(root.path): \(error.fileFailureReason)")
        }
    }

    private func objectURL(_ key: ObjectKey) -> URL { objects.appendingPathComponent(Self.relativePath(for: key)) }
    private func metadataURL(_ key: ObjectKey) -> URL { metadata.appendingPathComponent(Self.relativePath(for: key) + ".json") }

    /// The key's path under `objects/`: distinct keys always get distinct paths, and no path
    /// component is longer than a file system allows.
    static func relativePath(for key: ObjectKey) -> String {
        let segments = key.rawValue.split(separator: "/")
        var components: [String] = []
        for (index, segment) in segments.enumerated() {
            var piece = ""
            for character in segment {
                if piece.utf8.count + character.utf8.count > 200 {
                    components.append(piece + ".c")
                    piece = ""
                }
                piece.append(character)
            }
            components.append(piece + (index == segments.count - 1 ? ".o" : ".d"))
        }
        return components.joined(separator: "/")
    }

    private struct Metadata: Codable {
        var contentType: String
    }

    public func put(_ key: ObjectKey, fromFile file: URL, contentType: String) async throws -> ObjectInfo {
        let reader = try FileChunkReader(file, chunkSize: chunkSize)
        return try await put(key, body: AsyncThrowingStream<[UInt8], any Error> { try reader.next() }, contentType: contentType)
    }

    public func put<Body: AsyncSequence & Sendable>(_ key: ObjectKey, body: Body, contentType: String) async throws -> ObjectInfo
        where Body.Element == [UInt8]
    {
        let staging = incoming.appendingPathComponent(UUID().uuidString)
        let file: OpenFile
        do {
            file = try OpenFile(path: staging.path, mode: .createNew)
        } catch {
            throw StorageError(code: .localFile, message: "cannot create \(staging.path): \(error.reason)")
        }
        var committed = false
        defer { if !committed { _ = unlink(staging.path) } }

        var size: Int64 = 0
        do {
            defer { file.close() }
            for try await chunk in body {
                try file.write(chunk)
                size += Int64(chunk.count)
            }
            // Flushing an upload of gigabytes takes seconds: off the cooperative pool.
            try await BlockingThreadPool.shared.run { try file.synchronize() }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(code: .localFile, message: "storing \(key) failed: \(error)")
        }
        try writeMetadata(Metadata(contentType: contentType), for: key)
        try moveIntoPlace(staging, objectURL(key))
        committed = true
        return ObjectInfo(key: key, size: size, contentType: contentType)
    }

    public func get(_ key: ObjectKey, toFile file: URL) async throws -> ObjectInfo {
        let info = try await head(key)
        let directory = file.deletingLastPathComponent()
        let staging = directory.appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString.prefix(8)).partial")
        let source = objectURL(key)
        do {
            // A copy as long as the object: off the cooperative pool.
            try await BlockingThreadPool.shared.run { try FileManager.default.copyItem(at: source, to: staging) }
            try moveIntoPlace(staging, file)
        } catch let error as StorageError {
            try? FileManager.default.removeItem(at: staging)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw StorageError(code: .localFile, message: "cannot write \(file.path): \(error.fileFailureReason)")
        }
        return info
    }

    public func get(_ key: ObjectKey) async throws -> ObjectDownload {
        let info = try await head(key)
        let reader = FileChunkReader(try openForReading(key), chunkSize: chunkSize)
        let body = AsyncThrowingStream<[UInt8], any Error> { try reader.next() }
        return ObjectDownload(info: info, body: body)
    }

    public func get(_ key: ObjectKey, range: Range<Int64>) async throws -> ObjectDownload {
        let info = try await head(key)
        let range = try Self.clip(range, toSize: info.size, of: key)
        let file = try openForReading(key)
        do {
            try file.seek(to: range.lowerBound)
        } catch {
            throw StorageError(code: .localFile, message: "cannot seek in \(key): \(error.reason)")
        }
        let reader = FileChunkReader(file, chunkSize: chunkSize, limit: range.upperBound - range.lowerBound)
        return ObjectDownload(info: info, range: range, body: AsyncThrowingStream { try reader.next() })
    }

    private func openForReading(_ key: ObjectKey) throws -> OpenFile {
        do {
            return try OpenFile(path: objectURL(key).path, mode: .read)
        } catch {
            throw StorageError(code: .notFound, message: "no object \(key)")
        }
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo {
        guard let size = try? Self.regularFileSize(atPath: objectURL(key).path) else {
            throw StorageError(code: .notFound, message: "no object \(key)")
        }
        let contentType = (try? JSONDecoder().decode(Metadata.self, from: Data(contentsOf: metadataURL(key))))?.contentType
        return ObjectInfo(
            key: key,
            size: size,
            contentType: contentType ?? "application/octet-stream"
        )
    }

    public func delete(_ key: ObjectKey) async throws {
        for url in [objectURL(key), metadataURL(key)] {
            if unlink(url.path) != 0 && errno != ENOENT {
                throw StorageError(code: .localFile, message: "cannot delete \(key): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// `nil`: a directory cannot sign URLs, so the gateway streams the object.
    public func downloadURL(for key: ObjectKey, expiresIn: Duration, contentDisposition: String?) async throws -> URL? {
        nil
    }

    // MARK: - Files

    private func size(of file: URL) throws -> Int64 {
        let size: Int64?
        do {
            size = try Self.regularFileSize(atPath: file.path)
        } catch {
            throw StorageError(code: .localFile, message: "cannot read \(file.path): \(error.reason)")
        }
        guard let size else {
            throw StorageError(code: .localFile, message: "cannot read \(file.path): not a regular file")
        }
        return size
    }

    /// The size of the regular file at `path` (not followed if it is a link), `nil` when what is
    /// there is not a regular file.
    /// - Throws: ``SystemCallError`` when `lstat(2)` fails: nothing there, or no access.
    private static func regularFileSize(atPath path: String) throws(SystemCallError) -> Int64? {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SystemCallError(call: "lstat", path: path, code: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    private func writeMetadata(_ value: Metadata, for key: ObjectKey) throws {
        let staging = incoming.appendingPathComponent(UUID().uuidString + ".json")
        do {
            try JSONEncoder().encode(value).write(to: staging)
        } catch {
            throw StorageError(code: .localFile, message: "cannot write metadata of \(key): \(error.fileFailureReason)")
        }
        try moveIntoPlace(staging, metadataURL(key))
    }

    /// Renames `staging` to `destination` (atomically replacing it), creating parent folders.
    private func moveIntoPlace(_ staging: URL, _ destination: URL) throws {
        do {
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw StorageError(code: .localFile, message: "cannot create the folder of \(destination.path): \(error.fileFailureReason)")
        }
        if rename(staging.path, destination.path) != 0 {
            throw StorageError(code: .localFile, message: "cannot move into \(destination.path): \(String(cString: strerror(errno)))")
        }
    }
}

extension FileObjectStore: LocalObjectFiles {
    public func localFile(for key: ObjectKey) async throws -> URL {
        _ = try await head(key)
        return objectURL(key)
    }

    /// A new name in `incoming/`, which is cleared when the store is next opened: a conversion
    /// that dies leaves nothing among the objects.
    public func stagingFile() -> URL {
        incoming.appendingPathComponent(UUID().uuidString + ".staged")
    }

    @discardableResult
    public func adopt(_ file: URL, as key: ObjectKey, contentType: String) async throws -> ObjectInfo {
        guard file.deletingLastPathComponent().standardizedFileURL.path == incoming.standardizedFileURL.path,
              file.lastPathComponent.hasSuffix(".staged") else {
            throw StorageError(code: .localFile, message: "\(file.path) is not a staging file of the store at \(root.path)")
        }
        let byteCount = try size(of: file)
        try writeMetadata(Metadata(contentType: contentType), for: key)
        try moveIntoPlace(file, objectURL(key))
        return ObjectInfo(key: key, size: byteCount, contentType: contentType)
    }
}
