import Crypto
import Foundation
import VMP3Core

/// A `RateLimitCounter` in Redis, shared by every process on the same store: one key per
/// counted key and window (`PREFIX ratelimit:SHA256(KEY)`), incremented and given its expiry
/// in one script, so that the window is exactly the key's lifetime.
public struct RedisRateLimitCounter: RateLimitCounter {
    let client: RedisClient
    public let prefix: String

    public init(endpoint: RedisEndpoint, prefix: String = "vmp3:") {
        client = RedisClient(endpoint: endpoint)
        self.prefix = prefix
    }

    /// The first event sets the expiry; a key found without one (an expiry lost to a crash
    /// between two commands cannot happen in a script, but a key written by hand can) gets it.
    static let script = """
    local n = redis.call('INCR', KEYS[1])
    if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
    return {n, ttl}
    """

    public func increment(_ key: String, window: Duration) async throws -> RateLimitCount {
        let milliseconds = max(1, window.wholeMilliseconds)
        let reply = try await client.send([
            "EVAL", .text(Self.script), "1", .text(storedKey(key)), .text(String(milliseconds)),
        ]) { RedisError(description: $0) }
        guard case .array(let values) = reply, values.count == 2, case .integer(let count) = values[0], case .integer(let ttl) = values[1] else {
            throw RedisError(description: "unexpected reply to the rate-limit script: \(reply)")
        }
        return RateLimitCount(count: Int(count), remaining: .milliseconds(max(0, ttl)))
    }

    public func reset(_ key: String) async throws {
        _ = try await client.send(["DEL", .text(storedKey(key))]) { RedisError(description: $0) }
    }

    /// Hashed: keys hold client addresses and e-mail addresses, which need not sit in Redis in
    /// clear, and a hash bounds their length.
    private func storedKey(_ key: String) -> String {
        "\(prefix)ratelimit:\(SHA256.hash(data: Data(key.utf8)).hexEncoded)"
    }
}
