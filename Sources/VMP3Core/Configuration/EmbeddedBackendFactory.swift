#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The embedded backends: `file:///DIR` storage, `memory:` job store and queues.
public struct EmbeddedBackendFactory: BackendFactory {
    public init() {}

    public func makeObjectStore(_ url: URL) async throws -> (any ObjectStore)? {
        guard url.scheme == "file" else { return nil }
        guard !url.path.isEmpty, url.path != "/" else {
            throw ConfigurationError("file storage needs a directory: file:///var/lib/vmp3, not \(url)")
        }
        return try FileObjectStore(root: URL(fileURLWithPath: url.path, isDirectory: true))
    }

    public func makeJobStore(_ url: URL) async throws -> (any JobStore)? {
        url.scheme == "memory" ? InMemoryJobStore() : nil
    }

    public func makeMessageQueue<Message: Codable & Sendable>(_ url: URL, name: String, of: Message.Type) async throws -> (any MessageQueue<Message>)? {
        url.scheme == "memory" ? InMemoryMessageQueue<Message>() : nil
    }

    public func makeConversionCache(_ url: URL, lifetime: Duration) async throws -> (any ConversionCache)? {
        url.scheme == "memory" ? InMemoryConversionCache(lifetime: lifetime) : nil
    }
}
