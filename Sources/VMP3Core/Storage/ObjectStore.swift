#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where sources and MP3s are kept: a flat namespace of ``ObjectKey``s.
///
/// The contract (checked for every implementation by `ObjectStoreConformance`):
/// - A put is all or nothing: a reader sees the whole previous object or the whole new one,
///   never a part; a failed put leaves no object behind.
/// - Puts and gets stream: memory does not grow with the object's size.
/// - `delete` of a missing key succeeds (as S3's does).
/// - Failures are ``StorageError``s; ``StorageError/isTransient`` says whether to retry.
public protocol ObjectStore: Sendable {
    /// Stores the file at `file` under `key`, replacing any object there.
    @discardableResult
    func put(_ key: ObjectKey, fromFile file: URL, contentType: String) async throws -> ObjectInfo

    /// Stores the bytes of `body` under `key`, replacing any object there.
    @discardableResult
    func put<Body: AsyncSequence & Sendable>(_ key: ObjectKey, body: Body, contentType: String) async throws -> ObjectInfo
        where Body.Element == [UInt8]

    /// Writes the object to `file` (replacing it).
    @discardableResult
    func get(_ key: ObjectKey, toFile file: URL) async throws -> ObjectInfo

    /// Opens the object for reading as a stream of chunks.
    func get(_ key: ObjectKey) async throws -> ObjectDownload

    /// Opens bytes `range` of the object for reading, clipped to the object's end: no byte
    /// before `range.lowerBound` is read (a file is seeked, S3 is sent a `Range` header).
    /// ``ObjectDownload/info`` describes the whole object and ``ObjectDownload/range`` the bytes
    /// the body carries.
    ///
    /// - Throws: ``StorageError/Code/invalidRange`` when `range` is empty or starts at or after
    ///   the object's end; ``StorageError/Code/notFound``.
    func get(_ key: ObjectKey, range: Range<Int64>) async throws -> ObjectDownload

    /// The object's size and content type. - Throws: ``StorageError/Code/notFound``.
    func head(_ key: ObjectKey) async throws -> ObjectInfo

    /// Removes the object, if there is one.
    func delete(_ key: ObjectKey) async throws

    /// A URL that lets anyone holding it download the object until `expiresIn` has passed, or
    /// `nil` when the backend cannot make one (the caller then streams with ``get(_:)``).
    /// `contentDisposition`, when given, is the `Content-Disposition` the download is answered
    /// with (S3's `response-content-disposition`, signed into the URL).
    func downloadURL(for key: ObjectKey, expiresIn: Duration, contentDisposition: String?) async throws -> URL?
}

extension ObjectStore {
    /// A URL that lets anyone holding it download the object until `expiresIn` has passed, or
    /// `nil` when the backend cannot make one; answered with the object's own headers.
    public func downloadURL(for key: ObjectKey, expiresIn: Duration) async throws -> URL? {
        try await downloadURL(for: key, expiresIn: expiresIn, contentDisposition: nil)
    }

    /// The part of `range` that lies within an object of `size` bytes.
    ///
    /// - Throws: ``StorageError/Code/invalidRange`` when nothing of it does (the range is empty,
    ///   negative, or starts at or after the end).
    public static func clip(_ range: Range<Int64>, toSize size: Int64, of key: ObjectKey) throws -> Range<Int64> {
        guard range.lowerBound >= 0, !range.isEmpty, range.lowerBound < size else {
            throw StorageError(code: .invalidRange, message: "bytes \(range.lowerBound)..<\(range.upperBound) are not within \(key), which has \(size)")
        }
        return range.lowerBound..<min(range.upperBound, size)
    }
    /// Whether an object exists under `key`.
    public func exists(_ key: ObjectKey) async throws -> Bool {
        do {
            _ = try await head(key)
            return true
        } catch let error as StorageError where error.code == .notFound {
            return false
        }
    }
}
