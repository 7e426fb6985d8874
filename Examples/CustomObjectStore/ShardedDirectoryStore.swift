import Crypto
import Foundation
import Synchronization
import VMP3Core

/// An ``ObjectStore`` of the kind a user of the SDK writes for a backend VMP3 does not ship: each
/// object is one file named by the SHA-256 of its key, in one of 256 shard folders, beside a small
/// file holding its content type.
///
/// It keeps the protocol's contract the way any store must: a put writes to a fresh file and
/// renames it into place (all or nothing), reads and writes go in bounded chunks (memory does not
/// grow with the object), a missing key is ``StorageError/Code/notFound``.
struct ShardedDirectoryStore: ObjectStore {
    let root: URL
    private static let chunkSize = 256 * 1024

    init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("incoming"), withIntermediateDirectories: true)
    }

    func put(_ key: ObjectKey, fromFile file: URL, contentType: String) async throws -> ObjectInfo {
        guard let handle = try? FileHandle(forReadingFrom: file) else {
            throw StorageError(code: .localFile, message: "cannot read \(file.path)")
        }
        defer { try? handle.close() }
        let chunks = AsyncThrowingStream<[UInt8], any Error> {
            guard let data = try handle.read(upToCount: Self.chunkSize), !data.isEmpty else { return nil }
            return [UInt8](data)
        }
        return try await put(key, body: chunks, contentType: contentType)
    }

    func put<Body: AsyncSequence & Sendable>(_ key: ObjectKey, body: Body, contentType: String) async throws -> ObjectInfo
        where Body.Element == [UInt8] {
        let incoming = root.appendingPathComponent("incoming/\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: incoming.path, contents: nil),
              let handle = try? FileHandle(forWritingTo: incoming) else {
            throw StorageError(code: .localFile, message: "cannot create \(incoming.path)")
        }
        var size: Int64 = 0
        do {
            for try await chunk in body {
                try handle.write(contentsOf: chunk)
                size += Int64(chunk.count)
            }
            try handle.close()
            let (object, type) = try paths(of: key, creatingShard: true)
            try Data(contentType.utf8).write(to: type, options: .atomic)
            // rename(2) replaces the previous object in one step: a reader sees one or the other.
            guard rename(incoming.path, object.path) == 0 else {
                throw StorageError(code: .localFile, message: "cannot move the object into place")
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: incoming)
            throw error
        }
        return ObjectInfo(key: key, size: size, contentType: contentType)
    }

    func get(_ key: ObjectKey, toFile file: URL) async throws -> ObjectInfo {
        let download = try await get(key)
        try? FileManager.default.removeItem(at: file)
        guard FileManager.default.createFile(atPath: file.path, contents: nil), let handle = try? FileHandle(forWritingTo: file) else {
            throw StorageError(code: .localFile, message: "cannot write \(file.path)")
        }
        defer { try? handle.close() }
        for try await chunk in download.body { try handle.write(contentsOf: chunk) }
        return download.info
    }

    func get(_ key: ObjectKey) async throws -> ObjectDownload {
        let info = try await head(key)
        let (object, _) = try paths(of: key, creatingShard: false)
        guard let handle = try? FileHandle(forReadingFrom: object) else {
            throw StorageError(code: .notFound, message: "no object \(key)")
        }
        let reader = ChunkReader(handle: handle, chunkSize: Self.chunkSize)
        return ObjectDownload(info: info, body: AsyncThrowingStream { try reader.next() })
    }

    func get(_ key: ObjectKey, range: Range<Int64>) async throws -> ObjectDownload {
        let info = try await head(key)
        // The SDK's helper clips the range to the object and throws `invalidRange` as the
        // contract asks.
        let range = try Self.clip(range, toSize: info.size, of: key)
        let (object, _) = try paths(of: key, creatingShard: false)
        guard let handle = try? FileHandle(forReadingFrom: object) else {
            throw StorageError(code: .notFound, message: "no object \(key)")
        }
        try handle.seek(toOffset: UInt64(range.lowerBound))
        let reader = ChunkReader(handle: handle, chunkSize: Self.chunkSize, limit: range.upperBound - range.lowerBound)
        return ObjectDownload(info: info, range: range, body: AsyncThrowingStream { try reader.next() })
    }

    func head(_ key: ObjectKey) async throws -> ObjectInfo {
        let (object, type) = try paths(of: key, creatingShard: false)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: object.path),
              let size = attributes[.size] as? NSNumber else {
            throw StorageError(code: .notFound, message: "no object \(key)")
        }
        let contentType = (try? String(contentsOf: type, encoding: .utf8)) ?? "application/octet-stream"
        return ObjectInfo(key: key, size: size.int64Value, contentType: contentType)
    }

    func delete(_ key: ObjectKey) async throws {
        let (object, type) = try paths(of: key, creatingShard: false)
        for url in [object, type] where FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.removeItem(at: url)
        }
    }

    func downloadURL(for key: ObjectKey, expiresIn: Duration, contentDisposition: String?) async throws -> URL? {
        nil  // A directory cannot sign URLs: the gateway streams the object instead.
    }

    /// The object's file and its content-type file. The key is hashed, so no key can name a path
    /// outside the root, however it is spelt.
    private func paths(of key: ObjectKey, creatingShard: Bool) throws -> (object: URL, type: URL) {
        let digest = SHA256.hash(data: Data(key.rawValue.utf8)).map { String(format: "%02x", $0) }.joined()
        let shard = root.appendingPathComponent(String(digest.prefix(2)), isDirectory: true)
        if creatingShard {
            try FileManager.default.createDirectory(at: shard, withIntermediateDirectories: true)
        }
        return (shard.appendingPathComponent(digest), shard.appendingPathComponent(digest + ".type"))
    }
}

/// One chunk of a file per call, so that the consumer's pace bounds memory; closes the file at
/// its end.
private final class ChunkReader: Sendable {
    private let handle: FileHandle
    private let chunkSize: Int
    private let remaining: Mutex<Int64>

    init(handle: FileHandle, chunkSize: Int, limit: Int64 = .max) {
        self.handle = handle
        self.chunkSize = chunkSize
        remaining = Mutex(limit)
    }

    func next() throws -> [UInt8]? {
        try remaining.withLock { remaining in
            guard remaining > 0, let data = try handle.read(upToCount: Int(min(Int64(chunkSize), remaining))), !data.isEmpty else {
                try? handle.close()
                return nil
            }
            remaining -= Int64(data.count)
            return [UInt8](data)
        }
    }
}
