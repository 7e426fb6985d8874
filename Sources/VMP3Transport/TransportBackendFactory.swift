import Foundation
import VMP3Core

/// Makes the networked backends from configuration URLs: `s3://` storage (credentials from
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`), `redis://` job stores and `amqp://` queues.
/// `?prefix=NAME` on a `redis://` or `amqp://` URL puts the keys or queues of this deployment
/// under their own names (`NAME` instead of `vmp3:` for keys; `NAMEvmp3.jobs` for queues), so
/// that several deployments, or test runs, can share one server. `?delivery_limit=N` on an
/// `amqp://` URL sets the queues' `x-delivery-limit` (default 20; 0 for none).
///
/// Chain it before `EmbeddedBackendFactory`:
///
/// ```swift
/// let backends = try await Backends.make(BackendConfiguration(), factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
/// ```
public struct TransportBackendFactory: BackendFactory {
    private let settings: Settings

    /// - Parameter settings: where the S3 credentials come from.
    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    public func makeObjectStore(_ url: URL) async throws -> (any ObjectStore)? {
        guard url.scheme == "s3" else { return nil }
        guard let credentials = AWSCredentials.from(settings) else {
            throw ConfigurationError("VMP3_STORAGE is S3, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
        }
        do {
            return S3ObjectStore(configuration: try S3Configuration(url: url), credentials: credentials)
        } catch {
            throw ConfigurationError("VMP3_STORAGE: \(error)")
        }
    }

    public func makeJobStore(_ url: URL) async throws -> (any JobStore)? {
        guard url.scheme == "redis" else { return nil }
        let (endpoint, prefix) = try Self.redisStore(url)
        return RedisJobStore(endpoint: endpoint, prefix: prefix)
    }

    public func makeMessageQueue<Message: Codable & Sendable>(_ url: URL, name: String, of: Message.Type) async throws -> (any MessageQueue<Message>)? {
        guard url.scheme == "amqp" else { return nil }
        let limit = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == "delivery_limit" }?.value
        let deliveryLimit: Int?
        switch limit {
        case nil: deliveryLimit = 20
        case "0", "none": deliveryLimit = nil
        case let text?:
            guard let number = Int(text), number > 0 else {
                throw ConfigurationError("VMP3_QUEUE: delivery_limit must be a whole number of deliveries (0 for none), not \(text)")
            }
            deliveryLimit = number
        }
        do {
            return AMQPMessageQueue<Message>(endpoint: try AMQPEndpoint(url: url), name: (Self.prefix(of: url) ?? "") + name, deliveryLimit: deliveryLimit)
        } catch {
            throw ConfigurationError("VMP3_QUEUE: \(error)")
        }
    }

    /// A conversion cache beside a `redis://` job store (so that every gateway and converter of a
    /// deployment shares it).
    public func makeConversionCache(_ url: URL, lifetime: Duration) async throws -> (any ConversionCache)? {
        guard url.scheme == "redis" else { return nil }
        let (endpoint, prefix) = try Self.redisStore(url)
        return RedisConversionCache(endpoint: endpoint, prefix: prefix, lifetime: lifetime)
    }

    /// Where a notifier records what it sent: beside the jobs in Redis for a `redis://` store (so
    /// that notifiers in several processes send each outcome once), in memory otherwise.
    public func makeNotificationLedger(_ store: URL) throws -> any NotificationLedger {
        guard store.scheme == "redis" else { return InMemoryNotificationLedger() }
        let (endpoint, prefix) = try Self.redisStore(store)
        return RedisNotificationLedger(endpoint: endpoint, prefix: prefix)
    }

    /// Where rate limits count: in Redis for a `redis://` store (so that several gateways and
    /// auth services share their clients' counts), in memory otherwise.
    public func makeRateLimitCounter(_ store: URL) throws -> any RateLimitCounter {
        guard store.scheme == "redis" else { return InMemoryRateLimitCounter() }
        let (endpoint, prefix) = try Self.redisStore(store)
        return RedisRateLimitCounter(endpoint: endpoint, prefix: prefix)
    }

    /// The server and key prefix (`vmp3:` unless `?prefix=` says) of a `redis://` store URL:
    /// what the job store, the notification ledger and the rate limits all keep their keys under.
    private static func redisStore(_ url: URL) throws(ConfigurationError) -> (RedisEndpoint, String) {
        do {
            return (try RedisEndpoint(url: url), prefix(of: url) ?? "vmp3:")
        } catch {
            throw ConfigurationError("VMP3_STORE: \(error)")
        }
    }

    /// The `prefix` query parameter of a backend URL, if any.
    public static func prefix(of url: URL) -> String? {
        URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == "prefix" }?.value.flatMap { $0.isEmpty ? nil : $0 }
    }
}
