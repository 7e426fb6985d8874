import Foundation
import VMP3Core

/// A limit of `limit` events per key per `window` (for example, login attempts per address per
/// minute), counted by a `RateLimitCounter`: in memory, or in Redis so that every process of
/// a deployment counts together.
///
/// If the shared counter cannot be reached, the limit is counted in this process's memory until
/// it can: a Redis outage weakens a limit to per-process, it does not lift it or refuse everyone.
public struct FixedWindowRateLimiter: Sendable {
    /// Keeps the keys of different limits apart in a shared counter.
    public let name: String
    public let limit: Int
    public let window: Duration
    private let counter: any RateLimitCounter
    private let fallback = InMemoryRateLimitCounter()

    public init(_ name: String, limit: Int, per window: Duration, counter: any RateLimitCounter = InMemoryRateLimitCounter()) {
        self.name = name
        self.limit = limit
        self.window = window
        self.counter = counter
    }

    /// Counts one event for `key`. Returns `nil` if it is within the limit, otherwise the whole
    /// seconds until the window ends (for `Retry-After`).
    public func record(_ key: String) async -> Int? {
        let counterKey = "\(name):\(key)"
        let counted: RateLimitCount
        do {
            counted = try await counter.increment(counterKey, window: window)
        } catch {
            counted = await fallback.increment(counterKey, window: window)
        }
        guard counted.count > limit else { return nil }
        return Self.wholeSeconds(counted.remaining)
    }

    /// Forgets the events counted for `key`, in the shared counter and in this process's.
    public func reset(_ key: String) async {
        let counterKey = "\(name):\(key)"
        try? await counter.reset(counterKey)
        await fallback.reset(counterKey)
    }

    private static func wholeSeconds(_ duration: Duration) -> Int {
        max(1, Int(duration.components.seconds) + (duration.components.attoseconds > 0 ? 1 : 0))
    }
}
