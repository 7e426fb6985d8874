import Foundation
import Testing
import VMP3HTTP
import VMP3Kit
@testable import VMP3Transport

/// Rate limits counted in a real Redis: shared by every process on the store.
@Suite struct RedisRateLimitCounterTests {
    @Test("two counters on one store (two processes) count one key together; the window is the key's lifetime; keys are hashed")
    func shared() async throws {
        let endpoint = try RedisEndpoint(url: try TestServices.redis)
        let prefix = "test-\(UUID().uuidString.prefix(8)):"
        let first = RedisRateLimitCounter(endpoint: endpoint, prefix: prefix)
        let second = RedisRateLimitCounter(endpoint: endpoint, prefix: prefix)
        #expect(try await first.increment("login-client:203.0.113.1", window: .seconds(600)).count == 1)
        #expect(try await second.increment("login-client:203.0.113.1", window: .seconds(600)).count == 2)
        let third = try await first.increment("login-client:203.0.113.1", window: .seconds(600))
        #expect(third.count == 3 && third.remaining > .seconds(500) && third.remaining <= .seconds(600))
        #expect(try await second.increment("login-client:203.0.113.2", window: .seconds(600)).count == 1, "another key")
        // A reset forgets the count for every process.
        try await second.reset("login-client:203.0.113.2")
        #expect(try await first.increment("login-client:203.0.113.2", window: .seconds(600)).count == 1)
        // What Redis holds names no client.
        let keys = try await first.client.send(["KEYS", .text("\(prefix)*")]).elements.compactMap(\.text)
        #expect(keys.count == 2 && keys.allSatisfy { $0.hasPrefix("\(prefix)ratelimit:") && !$0.contains("203.0.113") }, "\(keys)")
        // A window is the key's lifetime: once it has passed, counting starts again.
        #expect(try await first.increment("brief", window: .milliseconds(500)).count == 1)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await second.increment("brief", window: .milliseconds(500)).count == 1, "a new window")

        // Concurrent events from many processes are all counted.
        let limiters = (0..<4).map { _ in FixedWindowRateLimiter("burst", limit: 10, per: .seconds(60), counter: RedisRateLimitCounter(endpoint: endpoint, prefix: prefix)) }
        let refused = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 { group.addTask { await limiters[index % 4].record("ann") != nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refused == 30, "of 40 events over 4 processes with a limit of 10, 30 refused")
    }

    @Test("a Redis that is down: the limiter keeps limiting, in the process")
    func redisDown() async throws {
        let limiter = FixedWindowRateLimiter("down", limit: 2, per: .seconds(60), counter: RedisRateLimitCounter(
            endpoint: RedisEndpoint(host: "127.0.0.1", port: 1, connectTimeout: .seconds(1))
        ))
        #expect(await limiter.record("ann") == nil)
        #expect(await limiter.record("ann") == nil)
        #expect(await limiter.record("ann") != nil)
    }
}
