import Foundation
import VMP3Kit

/// Makes the networked backends from configuration URLs: `redis://` job stores and `amqp://`
/// queues. Chain it before ``EmbeddedBackendFactory``:
///
/// ```swift
/// let backends = try await Backends.make(BackendConfiguration(), factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
/// ```
public struct TransportBackendFactory: BackendFactory {
    public init() {}

    public func makeObjectStore(_ url: URL) async throws -> (any ObjectStore)? {
        nil
    }

    public func makeJobStore(_ url: URL) async throws -> (any JobStore)? {
        guard url.scheme == "redis" else { return nil }
        do {
            return RedisJobStore(endpoint: try RedisEndpoint(url: url))
        } catch {
            throw ConfigurationError("VMP3_STORE: \(error)")
        }
    }

    public func makeMessageQueue<Message: Codable & Sendable>(_ url: URL, name: String, of: Message.Type) async throws -> (any MessageQueue<Message>)? {
        guard url.scheme == "amqp" else { return nil }
        do {
            return AMQPMessageQueue<Message>(endpoint: try AMQPEndpoint(url: url), name: name)
        } catch {
            throw ConfigurationError("VMP3_QUEUE: \(error)")
        }
    }
}
