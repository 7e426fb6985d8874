#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a store knows of an object.
public struct ObjectInfo: Sendable, Hashable, Codable {
    public var key: ObjectKey
    /// Size in bytes.
    public var size: Int64
    /// The MIME type given when it was stored.
    public var contentType: String

    public init(key: ObjectKey, size: Int64, contentType: String) {
        self.key = key
        self.size = size
        self.contentType = contentType
    }
}

/// An object being read: what it is, and its bytes as they arrive.
public struct ObjectDownload: Sendable {
    /// The whole object (its size is the object's, not the range's).
    public var info: ObjectInfo
    /// Which of the object's bytes ``body`` carries: all of them unless a range was asked for.
    public var range: Range<Int64>
    /// The bytes in chunks, read as the consumer asks for them (never the whole object at once).
    public var body: AsyncThrowingStream<[UInt8], any Error>

    /// - Parameters:
    ///   - info: the whole object.
    ///   - range: the bytes `body` carries; default: the whole object.
    ///   - body: those bytes, in chunks.
    public init(info: ObjectInfo, range: Range<Int64>? = nil, body: AsyncThrowingStream<[UInt8], any Error>) {
        self.info = info
        self.range = range ?? 0..<info.size
        self.body = body
    }
}
