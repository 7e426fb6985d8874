import Foundation
import VMP3Core

/// The `ConversionCache` contract. Each check makes its own cache with the lifetime it needs
/// (empty, or at least without the keys it uses: every check makes fresh ones).
public enum ConversionCacheConformance {
    /// Makes a cache whose entries last `lifetime`.
    public typealias MakeCache = @Sendable (_ lifetime: Duration) async throws -> any ConversionCache
    public typealias Check = ConformanceCheck<MakeCache>

    static func key(options: ConversionOptions = ConversionOptions(), owner: UserID? = "ann") -> ConversionCacheKey {
        ConversionCacheKey(sourceSHA256: UUID().uuidString, options: options, owner: owner)
    }

    static func entry(bytes: Int64 = 1000) -> ConversionCacheEntry {
        let job = JobID()
        return ConversionCacheEntry(output: JobOutput(key: try! ObjectKey("outputs/\(job).mp3"), result: ConversionResult(
            output: URL(fileURLWithPath: "/tmp/x.mp3"), duration: 3.5, byteCount: bytes, sampleRate: 44_100, channels: .stereo,
            encoding: .constantBitRate(kbps: 192), tags: AudioTags(title: "Tïtle"), sourceStreamIndex: 1, sourceCodec: "aac", elapsed: 0.1
        )), jobID: job)
    }

    public static let checks: [Check] = [
        Check("a recorded entry reads back whole under its key; other keys miss") { make in
            let cache = try await make(.seconds(600))
            let key = key()
            let entry = entry()
            try await cache.record(entry, for: key)
            try require(try await cache.entry(for: key) == entry, "read back differs")
            try require(try await cache.entry(for: Self.key()) == nil, "another key hit")
        },

        Check("the key holds the source, the options, the owner and the converter's version") { _ in
            let options = ConversionOptions(encoding: .constantBitRate(kbps: 128))
            let base = ConversionCacheKey(sourceSHA256: "ab", options: options, owner: "ann")
            try require(base == ConversionCacheKey(sourceSHA256: "AB", options: options, owner: "ann"), "the same parts differ")
            let others = [
                ConversionCacheKey(sourceSHA256: "ac", options: options, owner: "ann"),
                ConversionCacheKey(sourceSHA256: "ab", options: ConversionOptions(encoding: .constantBitRate(kbps: 129)), owner: "ann"),
                ConversionCacheKey(sourceSHA256: "ab", options: ConversionOptions(encoding: .constantBitRate(kbps: 128), tags: AudioTags(title: "t")), owner: "ann"),
                ConversionCacheKey(sourceSHA256: "ab", options: options, owner: "bob"),
                ConversionCacheKey(sourceSHA256: "ab", options: options, owner: nil),
                ConversionCacheKey(sourceSHA256: "ab", options: options, owner: "ann", converterVersion: "next"),
            ]
            try require(Set(others.map(\.digest) + [base.digest]).count == others.count + 1, "two different keys share a digest")
        },

        Check("a second record replaces the first") { make in
            let cache = try await make(.seconds(600))
            let key = key()
            try await cache.record(entry(bytes: 1), for: key)
            let second = entry(bytes: 2)
            try await cache.record(second, for: key)
            try require(try await cache.entry(for: key) == second, "the first entry is still there")
        },

        Check("remove deletes the entry; removing a missing one succeeds") { make in
            let cache = try await make(.seconds(600))
            let key = key()
            try await cache.record(entry(), for: key)
            try await cache.remove(key)
            try require(try await cache.entry(for: key) == nil, "removed, but still there")
            try await cache.remove(key)
        },

        Check("an entry expires after the cache's lifetime") { make in
            let lifetime = Duration.seconds(2)
            let cache = try await make(lifetime)
            let key = key()
            let recorded = ContinuousClock.now
            try await cache.record(entry(), for: key)
            // The entry's expiry was set between `recorded` and now.
            let afterRecord = ContinuousClock.now
            let found = try await cache.entry(for: key) != nil
            // Only a lookup well inside the lifetime must hit: a starved machine may take long.
            if ContinuousClock.now - recorded < lifetime / 2 { try require(found, "gone before its time") }
            try await Task.sleep(until: afterRecord + lifetime + .milliseconds(300))
            try require(try await cache.entry(for: key) == nil, "still there after its lifetime")
            // Recording again makes it live again.
            let again = ContinuousClock.now
            try await cache.record(entry(), for: key)
            let foundAgain = try await cache.entry(for: key) != nil
            if ContinuousClock.now - again < lifetime / 2 { try require(foundAgain, "a new record after expiry is not found") }
        },

        Check("concurrent records of different keys all land") { make in
            let cache = try await make(.seconds(600))
            let keys = (0..<32).map { _ in key() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, key) in keys.enumerated() {
                    group.addTask { try await cache.record(entry(bytes: Int64(index)), for: key) }
                }
                try await group.waitForAll()
            }
            for (index, key) in keys.enumerated() {
                try require(try await cache.entry(for: key)?.output.byteCount == Int64(index), "entry \(index) is missing or wrong")
            }
        },
    ]
}
