import Foundation
import Testing
import VMP3Conformance
import VMP3Kit
import VMP3TestSupport

/// The conversion cache in the pipeline: real media, the real converter (counted), the embedded
/// backends. The cache's own contract is `ConversionCacheConformance`, run against every backend.
@Suite struct ConversionCacheTests {
    static let options = ConversionOptions(encoding: .constantBitRate(kbps: 96))

    /// The MP3 of a succeeded job, read from storage.
    static func mp3(of job: Job, in harness: WorkerHarness) async throws -> Data {
        let file = harness.directory.appendingPathComponent("\(job.id).mp3")
        try await harness.storage.get(try #require(job.output).key, toFile: file)
        return try Data(contentsOf: file)
    }

    @Test("the second identical upload succeeds at once without a conversion, with a byte-identical MP3 of its own; its outcome is published")
    func hit() async throws {
        let harness = try WorkerHarness(caching: ConversionCaching(cache: InMemoryConversionCache()))
        let services = RunningServices([harness.worker()])
        let first = try await harness.submit(.tagged, options: Self.options)
        let converted = try await harness.wait(for: first.id, .succeeded)
        #expect(converted.fromCache == nil && converted.sourceSHA256?.count == 64)
        #expect(harness.converter.started == 1)
        // The worker records the conversion just after marking the job done.
        try await eventually("the conversion to be recorded") {
            try await harness.caching!.cache.entry(for: harness.caching!.key(for: converted)!) != nil
        }

        let second = try await harness.submit(.tagged, options: Self.options)
        #expect(second.status == .succeeded && second.fromCache == true, "\(second)")
        #expect(second.attempts == 0 && second.progress == 1)
        #expect(second.output?.key == second.outputKey && second.output?.key != converted.output?.key)
        #expect(second.output?.duration == converted.output?.duration && second.output?.byteCount == converted.output?.byteCount)
        #expect(try await Self.mp3(of: second, in: harness) == Self.mp3(of: converted, in: harness))
        #expect(try await harness.storage.exists(second.source) == false, "an ended job's upload is deleted")
        #expect(JobDocument(second).fromCache && !JobDocument(converted).fromCache)

        let outcomes = Inbox(try await harness.outcomes.subscribe(prefetch: 5))
        let published = [try await outcomes.takeOne().message.job, try await outcomes.takeOne().message.job]
        #expect(Set(published.map(\.id)) == [first.id, second.id] && published.allSatisfy { $0.status == .succeeded })

        try await services.stop()
        #expect(harness.converter.started == 1, "the converter ran once for the two jobs")
        #expect(await harness.queueIsSettled)
    }

    @Test("a different option, a different file or (by default) another user misses; a shared cache serves the other user")
    func misses() async throws {
        let harness = try WorkerHarness(caching: ConversionCaching(cache: InMemoryConversionCache(), scope: .user))
        let services = RunningServices([harness.worker()])
        let first = try await harness.submit(.tagged, options: Self.options)
        _ = try await harness.wait(for: first.id, .succeeded)
        try await eventually("the conversion to be recorded") { try await harness.caching!.cache.entry(for: harness.caching!.key(for: first)!) != nil }

        for (media, owner, options) in [
            (TestMedia.tagged, UserID("alice"), ConversionOptions(encoding: .constantBitRate(kbps: 128))),
            (TestMedia.tagged, UserID("alice"), ConversionOptions(encoding: .constantBitRate(kbps: 96), tags: AudioTags(title: "Other"))),
            (TestMedia.h264AACMP4, UserID("alice"), Self.options),
            (TestMedia.tagged, UserID("bob"), Self.options),
        ] {
            let job = try await harness.submit(media, owner: owner, options: options)
            #expect(job.status == .queued && job.fromCache == nil, "\(media) \(owner) \(options)")
            let done = try await harness.wait(for: job.id, .succeeded)
            #expect(done.fromCache == nil)
        }
        #expect(harness.converter.started == 5)
        try await services.stop()

        let shared = try WorkerHarness(caching: ConversionCaching(cache: InMemoryConversionCache(), scope: .shared))
        let running = RunningServices([shared.worker()])
        let alice = try await shared.submit(.tagged, owner: "alice", options: Self.options)
        _ = try await shared.wait(for: alice.id, .succeeded)
        try await eventually("the conversion to be recorded") { try await shared.caching!.cache.entry(for: shared.caching!.key(for: alice)!) != nil }
        let bob = try await shared.submit(.tagged, owner: "bob", options: Self.options)
        #expect(bob.status == .succeeded && bob.fromCache == true && bob.owner == "bob")
        #expect(try await shared.service.job(bob.id, owner: "bob").id == bob.id)
        await #expect(throws: JobStoreError.self, "alice's job stays hers") { _ = try await shared.service.job(alice.id, owner: "bob") }
        try await running.stop()
        #expect(shared.converter.started == 1)
    }

    @Test("deleting a job never deletes an MP3 another job holds; an entry whose MP3 is gone is a miss, and converting again records anew")
    func deletion() async throws {
        let harness = try WorkerHarness(caching: ConversionCaching(cache: InMemoryConversionCache()))
        let services = RunningServices([harness.worker()])
        let first = try await harness.submit(.tagged, options: Self.options)
        let original = try await harness.wait(for: first.id, .succeeded)
        try await eventually("the conversion to be recorded") { try await harness.caching!.cache.entry(for: harness.caching!.key(for: first)!) != nil }
        let copy = try await harness.submit(.tagged, options: Self.options)
        #expect(copy.fromCache == true)
        let bytes = try await Self.mp3(of: copy, in: harness)

        // The copy's MP3 outlives the job it was copied from.
        #expect(try await harness.service.cancelOrDelete(original.id, owner: "alice") == nil)
        #expect(try await Self.mp3(of: copy, in: harness) == bytes)
        var streamed: [UInt8] = []
        for try await chunk in try await harness.service.download(copy.id, owner: "alice").download.body { streamed += chunk }
        #expect(Data(streamed) == bytes)

        // The entry still names the deleted job's MP3: the next upload converts, and is recorded.
        let third = try await harness.submit(.tagged, options: Self.options)
        #expect(third.status == .queued && third.fromCache == nil)
        let reconverted = try await harness.wait(for: third.id, .succeeded)
        try await eventually("the new conversion to be recorded") {
            try await harness.caching!.cache.entry(for: harness.caching!.key(for: reconverted)!)?.jobID == third.id
        }
        let fourth = try await harness.submit(.tagged, options: Self.options)
        #expect(fourth.fromCache == true)
        // Deleting the copy leaves the job it came from alone.
        #expect(try await harness.service.cancelOrDelete(fourth.id, owner: "alice") == nil)
        #expect(try await Self.mp3(of: reconverted, in: harness).count == bytes.count)
        try await services.stop()
        #expect(harness.converter.started == 2)
    }

    @Test("an expired entry is a miss; without a cache every upload is converted")
    func expiryAndOff() async throws {
        let cache = CountingConversionCache(InMemoryConversionCache(lifetime: .seconds(1)))
        let harness = try WorkerHarness(caching: ConversionCaching(cache: cache))
        let services = RunningServices([harness.worker()])
        let first = try await harness.submit(.tagged, options: Self.options)
        _ = try await harness.wait(for: first.id, .succeeded)
        // Counted, not looked up: on a loaded machine a look-up could come after the second the
        // entry lives, and would then wait for ever for an entry that has already expired.
        try await eventually("the conversion to be recorded") { await cache.recorded == 1 }
        try await Task.sleep(for: .milliseconds(1500))
        let late = try await harness.submit(.tagged, options: Self.options)
        #expect(late.fromCache == nil)
        _ = try await harness.wait(for: late.id, .succeeded)
        try await services.stop()
        #expect(harness.converter.started == 2)

        let off = try WorkerHarness()
        let running = RunningServices([off.worker()])
        for _ in 0..<2 {
            let job = try await off.submit(.tagged, options: Self.options)
            #expect(job.status == .queued)
            _ = try await off.wait(for: job.id, .succeeded)
        }
        try await running.stop()
        #expect(off.converter.started == 2)
    }
}

/// A cache that counts what is recorded in it, around another.
actor CountingConversionCache: ConversionCache {
    let base: any ConversionCache
    private(set) var recorded = 0

    init(_ base: any ConversionCache) {
        self.base = base
    }

    func entry(for key: ConversionCacheKey) async throws -> ConversionCacheEntry? {
        try await base.entry(for: key)
    }

    func record(_ entry: ConversionCacheEntry, for key: ConversionCacheKey) async throws {
        try await base.record(entry, for: key)
        recorded += 1
    }

    func remove(_ key: ConversionCacheKey) async throws {
        try await base.remove(key)
    }
}
