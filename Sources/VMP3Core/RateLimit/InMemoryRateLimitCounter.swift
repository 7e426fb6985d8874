/// A ``RateLimitCounter`` in this process's memory: limits hold per process.
///
/// Memory is bounded by the keys seen in one window: ended windows are dropped once there are
/// many keys, at most once per tenth of the shortest window, so that a flood of new keys costs
/// no full scan per event.
public actor InMemoryRateLimitCounter: RateLimitCounter {
    private var windows: [String: (start: ContinuousClock.Instant, length: Duration, count: Int)] = [:]
    private var prunedAt = ContinuousClock.now
    private let pruneAbove: Int

    public init(pruneAbove: Int = 10_000) {
        self.pruneAbove = pruneAbove
    }

    public func increment(_ key: String, window: Duration) -> RateLimitCount {
        let now = ContinuousClock.now
        if windows.count > pruneAbove, now - prunedAt >= window / 10 {
            windows = windows.filter { now - $0.value.start < $0.value.length }
            prunedAt = now
        }
        var entry = windows[key] ?? (now, window, 0)
        if now - entry.start >= entry.length { entry = (now, window, 0) }
        entry.count += 1
        windows[key] = entry
        return RateLimitCount(count: entry.count, remaining: entry.length - (now - entry.start))
    }

    public func reset(_ key: String) {
        windows[key] = nil
    }

    /// Keys held now (for tests).
    public var keyCount: Int { windows.count }
}
