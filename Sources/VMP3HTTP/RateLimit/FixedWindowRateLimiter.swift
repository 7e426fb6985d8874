import Foundation

/// Counts events per key in fixed windows (for example, login attempts per address per minute)
/// and says when a key is over its limit, and for how long.
///
/// Memory is bounded: windows that have ended are dropped when new keys arrive.
public actor FixedWindowRateLimiter {
    public let limit: Int
    public let window: Duration
    private var counts: [String: (start: ContinuousClock.Instant, count: Int)] = [:]
    private let clock = ContinuousClock()

    public init(limit: Int, per window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// Counts one event for `key`. Returns `nil` if it is within the limit, otherwise the whole
    /// seconds until the window ends (for `Retry-After`).
    public func record(_ key: String) -> Int? {
        let now = clock.now
        if counts.count > 10_000 { counts = counts.filter { now - $0.value.start < window } }
        var entry = counts[key] ?? (now, 0)
        if now - entry.start >= window { entry = (now, 0) }
        entry.count += 1
        counts[key] = entry
        guard entry.count > limit else { return nil }
        let remaining = window - (now - entry.start)
        return Int(remaining.components.seconds) + 1
    }
}
