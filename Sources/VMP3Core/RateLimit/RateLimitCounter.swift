/// Counts events per key in fixed windows: the state behind rate limits, kept where every
/// process that enforces a limit can share it (in Redis when the job store is Redis, so that
/// several gateways or auth services count one client together).
public protocol RateLimitCounter: Sendable {
    /// Counts one event for `key` in its current window of `window`, which the key's first
    /// event opens. Returns the events counted in that window so far and the time it has left.
    func increment(_ key: String, window: Duration) async throws -> RateLimitCount

    /// Forgets what was counted for `key` (an outcome that undoes the events before it, such as
    /// a right password after wrong ones).
    func reset(_ key: String) async throws
}

/// What ``RateLimitCounter/increment(_:window:)`` counted.
public struct RateLimitCount: Sendable, Hashable {
    /// Events in the window, this one included.
    public var count: Int
    /// Until the window ends.
    public var remaining: Duration

    public init(count: Int, remaining: Duration) {
        self.count = count
        self.remaining = remaining
    }
}
