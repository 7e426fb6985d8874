import Foundation
import VMP3Core

/// A `ConversionCache` in Redis, beside the jobs of a `RedisJobStore`: one key an entry
/// (`PREFIX:cache:DIGEST`), expiring with Redis's own `PX`, so that every gateway and converter of
/// a deployment shares one cache and nothing needs sweeping.
public struct RedisConversionCache: ConversionCache {
    let client: RedisClient
    public let prefix: String
    public let lifetime: Duration

    public init(endpoint: RedisEndpoint, prefix: String = "vmp3:", lifetime: Duration = ConversionCaching.defaultLifetime) {
        client = RedisClient(endpoint: endpoint)
        self.prefix = prefix
        self.lifetime = lifetime
    }

    func key(_ key: ConversionCacheKey) -> String { "\(prefix)cache:\(key.digest)" }

    public func entry(for key: ConversionCacheKey) async throws -> ConversionCacheEntry? {
        guard case .string(let bytes) = try await send(["GET", .text(self.key(key))]) else { return nil }
        return try? JSONDecoder().decode(ConversionCacheEntry.self, from: Data(bytes))
    }

    public func record(_ entry: ConversionCacheEntry, for key: ConversionCacheKey) async throws {
        let body = Array(try JSONEncoder().encode(entry))
        _ = try await send(["SET", .text(self.key(key)), .bytes(body), "PX", .text(String(max(1, lifetime.wholeMilliseconds)))])
    }

    public func remove(_ key: ConversionCacheKey) async throws {
        _ = try await send(["DEL", .text(self.key(key))])
    }

    private func send(_ arguments: [RedisArgument]) async throws -> RedisReply {
        try await client.send(arguments) { JobStoreError(code: .unavailable, message: $0) }
    }
}
