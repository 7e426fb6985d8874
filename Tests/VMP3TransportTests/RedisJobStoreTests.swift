import Foundation
import Testing
import VMP3TestScoping
import VMP3Conformance
import VMP3Kit
@testable import VMP3Transport

/// The Redis job store against a real Redis server.
// The conformance checks and the scans of the sources compute for seconds in a debug build: off the
// cooperative pool, which the tests beside them need (OffCooperativePoolTrait).
@Suite(.offCooperativePool) struct RedisJobStoreTests {
    static func store() throws -> RedisJobStore {
        // A prefix per store, so that checks running at once never see each other's keys.
        RedisJobStore(endpoint: try RedisEndpoint(url: try TestServices.redis), prefix: "test-\(UUID().uuidString.prefix(8)):")
    }

    @Test("RedisJobStore", arguments: JobStoreConformance.checks)
    func conformance(_ check: JobStoreConformance.Check) async throws {
        try await check.run(try Self.store())
    }

    @Test("RedisConversionCache", arguments: ConversionCacheConformance.checks)
    func conversionCache(_ check: ConversionCacheConformance.Check) async throws {
        let endpoint = try RedisEndpoint(url: try TestServices.redis)
        let prefix = "test-\(UUID().uuidString.prefix(8)):"
        try await check.run { RedisConversionCache(endpoint: endpoint, prefix: prefix, lifetime: $0) }
    }

    @Test("records are JSON in Redis; an idempotency key lives as long as its window, then expires")
    func layout() async throws {
        let endpoint = try RedisEndpoint(url: try TestServices.redis)
        let store = RedisJobStore(endpoint: endpoint, prefix: "test-\(UUID().uuidString.prefix(8)):", idempotencyWindow: .seconds(600))
        let job = Job(owner: "ann", source: "sources/x")
        try await store.create(job, idempotencyKey: "retry-1")
        let raw = try await store.client.send(["GET", .text("\(store.prefix)job:\(job.id)")])
        #expect(raw.text?.contains("\"status\":\"queued\"") == true)
        #expect(try await store.job(forIdempotencyKey: "retry-1", owner: "ann")?.id == job.id)
        let ttl = try await store.client.send(["TTL", .text(#"\#(store.prefix)idem:["ann","retry-1"]"#)])
        guard case .integer(let seconds) = ttl else { Issue.record("TTL answered \(ttl)"); return }
        #expect(seconds > 500 && seconds <= 600)

        let brief = RedisJobStore(endpoint: endpoint, prefix: "test-\(UUID().uuidString.prefix(8)):", idempotencyWindow: .seconds(1))
        let first = try await brief.create(Job(owner: "ann", source: "sources/y"), idempotencyKey: "retry-2")
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await brief.job(forIdempotencyKey: "retry-2", owner: "ann") == nil)
        let second = try await brief.create(Job(owner: "ann", source: "sources/z"), idempotencyKey: "retry-2")
        #expect(second.created && second.job.id != first.job.id)
    }

    @Test("a store written before usage totals were kept counts an owner's total from the jobs at its first read, atomically, and keeps it from then on")
    func usageCountedAtFirstRead() async throws {
        let store = try Self.store()
        let owner = UserID(rawValue: "ann")
        let queued = try await store.create(Job(owner: owner, source: "sources/a", sourceSize: 700), idempotencyKey: nil).job
        try await store.create(Job(owner: owner, source: "sources/b", sourceSize: 300), idempotencyKey: nil)
        #expect(try await store.usage(of: owner) == JobUsage(activeJobs: 2, bytesHeld: 1000))
        // As an older VMP3 left it: jobs, no total. A change meanwhile must not start a wrong one.
        _ = try await store.client.send(["DEL", .text("\(store.prefix)usage:\(owner.rawValue)")])
        try await store.create(Job(owner: owner, source: "sources/c", sourceSize: 50), idempotencyKey: nil)
        #expect(try await store.client.send(["EXISTS", .text("\(store.prefix)usage:\(owner.rawValue)")]) == .integer(0))
        #expect(try await store.usage(of: owner) == JobUsage(activeJobs: 3, bytesHeld: 1050))
        try await store.cancel(queued.id)
        #expect(try await store.usage(of: owner) == JobUsage(activeJobs: 2, bytesHeld: 350))
        #expect(try await store.usage(of: owner) == (try await store.scannedUsage(of: owner)))
        await store.shutdown()
    }

    @Test("a store written before the unpublished index has its queued jobs awaiting a message listed at the first look, once")
    func unpublishedIndexedOnce() async throws {
        let store = try Self.store()
        let waiting = try await store.create(Job(owner: "ann", source: "sources/a"), idempotencyKey: nil).job
        let marked = try await store.update(try await store.create(Job(owner: "ann", source: "sources/b"), idempotencyKey: nil).job.id) { $0.messagePublished = true }
        // As an older VMP3 left it: the jobs, no index.
        _ = try await store.client.send(["DEL", .text("\(store.prefix)unpublished"), .text("\(store.prefix)unpublished:indexed")])
        let found = try await store.unpublishedJobs(updatedBefore: Date().addingTimeInterval(1), limit: 100).map(\.id)
        #expect(found == [waiting.id], "listed: \(found), marked: \(marked.id)")
        // Once: a job taken off the index by hand now stays off (the index is the store's own from here).
        _ = try await store.client.send(["ZREM", .text("\(store.prefix)unpublished"), .text(waiting.id.rawValue)])
        #expect(try await store.unpublishedJobs(updatedBefore: Date().addingTimeInterval(1), limit: 100).isEmpty)
        await store.shutdown()
    }

    @Test("while Redis is down the store fails fast with a transient error; after it restarts, the store reconnects by itself")
    func restart() async throws {
        let redis = try await ScratchRedis.start()
        let store = RedisJobStore(endpoint: redis.endpoint)
        let job = Job(owner: "ann", source: "sources/x")
        try await store.create(job, idempotencyKey: nil)
        let events = Inbox(try await store.events(for: job.id))

        try await redis.stop()
        await #expect { _ = try await store.get(job.id) } throws: { ($0 as? JobStoreError)?.code == .unavailable }
        // The watcher learns that its subscription ended, instead of waiting forever.
        await #expect(throws: (any Error).self) { _ = try await events.takeOne(within: .seconds(5)) }

        let restarted = try await ScratchRedis.start(port: redis.port)
        defer { Task { try? await restarted.stop() } }
        // This Redis keeps nothing on disk, so the job is gone; the point is that the same store works again.
        #expect(try await store.get(job.id) == nil)
        let again = Job(owner: "ann", source: "sources/y")
        try await store.create(again, idempotencyKey: nil)
        #expect(try await store.get(again.id)?.id == again.id)
        try await restarted.stop()
    }

    @Test("500 event streams of one process hold one Redis connection for all: each gets its own job's events only; Redis restarting ends them all, and new ones work")
    func eventStreamsShareOneSubscription() async throws {
        let redis = try await ScratchRedis.start()
        let store = RedisJobStore(endpoint: redis.endpoint, prefix: "hub[*]:")  // glob characters match only themselves
        let admin = RedisClient(endpoint: redis.endpoint)
        func connections() async throws -> Int {
            let info = try await admin.send(["INFO", "clients"]).text ?? ""
            return Int(info.firstMatch(of: /connected_clients:(\d+)/).map { String($0.1) } ?? "") ?? -1
        }
        var jobs: [Job] = []
        for index in 0..<500 {
            let job = Job(owner: UserID(rawValue: "owner-\(index % 7)"), source: try ObjectKey("sources/\(index)"))
            try await store.create(job, idempotencyKey: nil)
            jobs.append(job)
        }
        let before = try await connections()
        var inboxes: [Inbox<JobEvent>] = []
        for job in jobs { inboxes.append(Inbox(try await store.events(for: job.id))) }
        let during = try await connections()
        #expect(during <= before + 1, "500 streams: \(before) connections before, \(during) with them open")
        #expect(store.eventHub.watcherCount == 500)
        // A second watcher of the same job, and events for two jobs: each to its own watchers.
        let twice = Inbox(try await store.events(for: jobs[3].id))
        try await store.cancel(jobs[3].id)
        try await store.cancel(jobs[400].id)
        #expect(try await inboxes[3].takeOne().job.status == .cancelled)
        #expect(try await twice.takeOne().job.status == .cancelled)
        #expect(try await inboxes[400].takeOne().job.id == jobs[400].id)
        for index in [0, 4, 399, 401, 499] {
            await #expect(throws: (any Error).self, "job \(index) got another job's event") { _ = try await inboxes[index].takeOne(within: .milliseconds(300)) }
        }
        // A stream its consumer drops is unregistered.
        inboxes.removeLast(100)
        var waited = Duration.zero
        while store.eventHub.watcherCount > 401, waited < .seconds(30) {
            try await Task.sleep(for: .milliseconds(50))
            waited += .milliseconds(50)
        }
        #expect(store.eventHub.watcherCount == 401)

        try await redis.stop()
        await #expect(throws: (any Error).self) { _ = try await inboxes[0].takeOne(within: .seconds(30)) }
        await #expect(throws: (any Error).self) { _ = try await inboxes[399].takeOne(within: .seconds(30)) }
        let restarted = try await ScratchRedis.start(port: redis.port)
        let job = Job(owner: "ann", source: "sources/again")
        try await store.create(job, idempotencyKey: nil)
        let again = Inbox(try await store.events(for: job.id))
        try await store.cancel(job.id)
        #expect(try await again.takeOne().job.status == .cancelled, "a new subscription after the restart")
        try await restarted.stop()
    }

    /// The connections Redis has open under `name` (`CLIENT LIST`'s `name=`): each of a client's
    /// connections carries its client's name, so no other test's or tool's connection counts.
    static func connections(named name: String, on admin: RedisClient) async throws -> [String] {
        let list = try await admin.send(["CLIENT", "LIST"]).text ?? ""
        return list.split(separator: "\n").map(String.init).filter { $0.contains(" name=\(name) ") }
    }

    /// Waits up to 30 s (a hang detector, not a measure: Redis notices a closed socket at once)
    /// for Redis to have no connection named `name`, and returns those still open.
    static func connectionsLeft(named name: String, on admin: RedisClient) async throws -> [String] {
        var left = try await connections(named: name, on: admin)
        let deadline = ContinuousClock.now + .seconds(30)
        while !left.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            left = try await connections(named: name, on: admin)
        }
        return left
    }

    /// A store on a Redis of its own that has written one job (so one pooled connection is
    /// open), a client of the test's own on the same Redis, and the name of the store's connections.
    static func storeOnScratchRedis(writing job: Job) async throws -> (redis: ScratchRedis, admin: RedisClient, store: RedisJobStore, name: String) {
        let redis = try await ScratchRedis.start()
        let store = RedisJobStore(endpoint: redis.endpoint, prefix: "shutdown:")
        try await store.create(job, idempotencyKey: nil)
        return (redis, RedisClient(endpoint: redis.endpoint), store, store.client.connectionName)
    }

    @Test("shutdown closes the store's connections: its subscription and its pool; open event streams end")
    func shutdown() async throws {
        let job = Job(owner: "ann", source: "sources/x")
        let (redis, admin, store, name) = try await Self.storeOnScratchRedis(writing: job)
        let inbox = Inbox(try await store.events(for: job.id))
        #expect(try await Self.connections(named: name, on: admin).count == 2, "a pooled connection and the subscription")
        await store.shutdown()
        await #expect(throws: (any Error).self) { _ = try await inbox.takeOne(within: .seconds(10)) }
        let left = try await Self.connectionsLeft(named: name, on: admin)
        #expect(left.isEmpty, "the store's connections still open after its shutdown: \(left)")
        #expect(store.client.openConnectionCount == 0)
        await #expect { _ = try await store.get(job.id) } throws: { ($0 as? JobStoreError)?.code == .unavailable }
        try await redis.stop()
    }

    @Test("shutdown closes a connection a script is running on: the script's caller fails at once, nothing stays open")
    func shutdownDuringScript() async throws {
        let (redis, admin, store, name) = try await Self.storeOnScratchRedis(writing: Job(owner: "ann", source: "sources/x"))
        // A script that holds its connection (and Redis) for 2 s of Redis's own time.
        let busyScript = """
            local start = redis.call('TIME')
            while true do
              local now = redis.call('TIME')
              if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 2000000 then return 'done' end
            end
            """
        let script = Task { try await store.client.send(["EVAL", .text(busyScript), "0"]) }
        // Shut down once the script has its connection (it took the idle one the create left).
        while store.client.busyConnectionCount == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        await store.shutdown()
        await #expect(throws: RedisError.self) { _ = try await script.value }
        #expect(store.client.openConnectionCount == 0)
        let left = try await Self.connectionsLeft(named: name, on: admin)
        #expect(left.isEmpty, "the store's connections still open after its shutdown: \(left)")
        try await redis.stop()
    }

    @Test("an unreachable Redis is an unavailable (transient) error, not a hang")
    func unreachable() async throws {
        let store = RedisJobStore(endpoint: RedisEndpoint(host: "127.0.0.1", port: 1, connectTimeout: .seconds(300)))
        let start = ContinuousClock.now
        await #expect { _ = try await store.get(JobID()) } throws: { ($0 as? JobStoreError)?.code == .unavailable }
        // A refused connection is reported at once, not after the 300 s connect timeout; the
        // bound leaves room for a starved sanitized run (6.7 s once; other tests, 33 s).
        #expect(ContinuousClock.now - start < .seconds(240))
    }
}
