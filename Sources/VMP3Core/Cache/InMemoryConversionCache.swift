#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A ``ConversionCache`` in the process's memory: for tests and short-lived embedding. Expired
/// entries are dropped when looked up, and at most ``capacity`` are kept (the oldest go first).
public actor InMemoryConversionCache: ConversionCache {
    public let lifetime: Duration
    public let capacity: Int
    private var entries: [String: (entry: ConversionCacheEntry, expires: ContinuousClock.Instant)] = [:]
    private var order: [String] = []

    public init(lifetime: Duration = ConversionCaching.defaultLifetime, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    public func entry(for key: ConversionCacheKey) -> ConversionCacheEntry? {
        guard let stored = entries[key.digest] else { return nil }
        guard stored.expires > .now else {
            remove(key)
            return nil
        }
        return stored.entry
    }

    public func record(_ entry: ConversionCacheEntry, for key: ConversionCacheKey) {
        if entries[key.digest] == nil { order.append(key.digest) }
        entries[key.digest] = (entry, .now + lifetime)
        while order.count > capacity { entries[order.removeFirst()] = nil }
    }

    public func remove(_ key: ConversionCacheKey) {
        guard entries.removeValue(forKey: key.digest) != nil else { return }
        order.removeAll { $0 == key.digest }
    }
}
