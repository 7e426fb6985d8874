import Foundation
import Testing
import VMP3TestScoping
import VMP3Conformance
import VMP3Kit
@testable import VMP3SQLite
import VMP3TestSupport

/// The conformance suites, unchanged, against the SQLite backends: each check on a new database.
// The conformance checks and the scans of the sources compute for seconds in a debug build: off the
// cooperative pool, which the tests beside them need (OffCooperativePoolTrait).
@Suite(.offCooperativePool) struct SQLiteConformanceTests {
    static func newDatabase() throws -> SQLiteDatabase {
        try SQLiteDatabase.at(try makeScratchDirectory().appendingPathComponent("vmp3.sqlite").path)
    }

    @Test("SQLiteJobStore", arguments: JobStoreConformance.checks)
    func jobStore(_ check: JobStoreConformance.Check) async throws {
        try await check.run(SQLiteJobStore(database: try Self.newDatabase()))
    }

    @Test("SQLiteMessageQueue", arguments: MessageQueueConformance.checks)
    func messageQueue(_ check: MessageQueueConformance.Check) async throws {
        try await check.run(SQLiteMessageQueue<ConformanceMessage>(database: try Self.newDatabase(), name: "conformance"))
    }

    @Test("SQLiteConversionCache", arguments: ConversionCacheConformance.checks)
    func conversionCache(_ check: ConversionCacheConformance.Check) async throws {
        let database = try Self.newDatabase()
        try await check.run { SQLiteConversionCache(database: database, lifetime: $0) }
    }
}

/// What the SQLite backends keep across a reopening of their database, in one process.
@Suite struct SQLiteDurabilityTests {
    /// Runs `body` on the database at `path`, then waits until nothing holds it any more (so
    /// that the next open reads the file again, as a restarted process would).
    static func session(_ path: String, _ body: (SQLiteDatabase) async throws -> Void) async throws {
        weak var opened: SQLiteDatabase?
        try await {
            let database = try SQLiteDatabase.at(path)
            opened = database
            try await body(database)
        }()
        for _ in 0..<100 where opened != nil { try await Task.sleep(for: .milliseconds(20)) }
        try #require(opened == nil, "the database was still held after the session")
    }

    @Test("jobs, their last state and idempotency keys are read back after the database is opened again")
    func jobsSurvive() async throws {
        let path = try makeScratchDirectory().appendingPathComponent("vmp3.sqlite").path
        let owner = UserID(rawValue: "ann")
        var running = Job(owner: owner, source: Job.sourceKey(for: JobID()))
        let queued = Job(owner: owner, source: Job.sourceKey(for: JobID()))
        try await Self.session(path) { database in
            let store = SQLiteJobStore(database: database)
            try await store.create(running, idempotencyKey: "upload-1")
            try await store.create(queued, idempotencyKey: nil)
            guard case .claimed(let claimed) = try await store.claim(running.id, holder: "w1", leaseDuration: .seconds(30)) else {
                Issue.record("not claimed")
                return
            }
            running = try await store.recordProgress(claimed.id, holder: "w1", fraction: 0.5)
        }
        try await Self.session(path) { database in
            let store = SQLiteJobStore(database: database)
            #expect(try await store.get(running.id) == running)
            #expect(try await store.get(queued.id)?.status == .queued)
            #expect(try await store.job(forIdempotencyKey: "upload-1", owner: owner)?.id == running.id)
            let again = try await store.create(Job(owner: owner, source: Job.sourceKey(for: JobID())), idempotencyKey: "upload-1")
            #expect(!again.created && again.job.id == running.id)
            let listed = try await store.list(owner: owner, limit: 10, cursor: nil).jobs.map(\.id)
            #expect(listed == [running, queued].sorted { JobListPosition($0) < JobListPosition($1) }.map(\.id))
        }
    }

    @Test("published messages and dead letters are there after the database is opened again")
    func messagesSurvive() async throws {
        let path = try makeScratchDirectory().appendingPathComponent("vmp3.sqlite").path
        try await Self.session(path) { database in
            let queue = SQLiteMessageQueue<ConformanceMessage>(database: database, name: "jobs")
            let other = SQLiteMessageQueue<ConformanceMessage>(database: database, name: "other")
            for number in 1...3 { try await queue.publish(ConformanceMessage(number)) }
            try await other.publish(ConformanceMessage(99))
            let subscription = try await queue.subscribe(prefetch: 1)
            let first = try await Inbox(subscription).takeOne()
            try await first.deadLetter(reason: "poison")
            await subscription.close()
        }
        try await Self.session(path) { database in
            let queue = SQLiteMessageQueue<ConformanceMessage>(database: database, name: "jobs")
            #expect(try await queue.takeDeadLetters(limit: 10) == [DeadLetter(message: ConformanceMessage(1), reason: "poison")])
            let subscription = try await queue.subscribe(prefetch: 10)
            let inbox = Inbox(subscription)
            #expect(try await inbox.take(2).map(\.message.number) == [2, 3])
            try await inbox.expectNothing(for: .milliseconds(300), "the other queue's message arrived here")
            await subscription.close()
        }
    }

    @Test("a database written before usage totals were kept has them counted from its jobs when it is opened, and kept from then on")
    func usageCountedOnOpening() async throws {
        let path = try makeScratchDirectory().appendingPathComponent("vmp3.sqlite").path
        let owner = UserID(rawValue: "ann")
        let queued = Job(owner: owner, source: Job.sourceKey(for: JobID()), sourceSize: 700)
        let done = Job(owner: owner, source: Job.sourceKey(for: JobID()), sourceSize: 300)
        try await Self.session(path) { database in
            let store = SQLiteJobStore(database: database)
            try await store.create(queued, idempotencyKey: nil)
            try await store.create(done, idempotencyKey: nil)
            _ = try await store.claim(done.id, holder: "w", leaseDuration: .seconds(30))
            _ = try await store.succeed(done.id, holder: "w", output: JobOutput(key: done.outputKey, result: ConversionResult(
                output: URL(fileURLWithPath: "/tmp/x.mp3"), duration: 3, byteCount: 90, sampleRate: 44_100, channels: .stereo,
                encoding: .variableBitRate(quality: 2), tags: AudioTags(), sourceStreamIndex: 0, sourceCodec: "aac", elapsed: 0.1
            )))
            // As an older VMP3 left the file: no totals, and the migration that adds them not run.
            try await database.writer.write { db in
                try db.execute(sql: "DROP TABLE job_usage; DELETE FROM grdb_migrations WHERE identifier = '4-job-usage'")
            }
        }
        try await Self.session(path) { database in
            let store = SQLiteJobStore(database: database)
            #expect(try await store.usage(of: owner) == JobUsage(activeJobs: 1, bytesHeld: 700 + 90))
            try await store.cancel(queued.id)
            #expect(try await store.usage(of: owner) == JobUsage(activeJobs: 0, bytesHeld: 90))
        }
    }

    @Test("dead letters beyond the limit drop the oldest; a deleted job takes its notification records with it")
    func bounded() async throws {
        let database = try SQLiteConformanceTests.newDatabase()
        let queue = SQLiteMessageQueue<ConformanceMessage>(database: database, name: "jobs", deadLetterLimit: 3)
        for number in 1...5 { try await queue.publish(ConformanceMessage(number)) }
        let subscription = try await queue.subscribe(prefetch: 5)
        for delivery in try await Inbox(subscription).take(5) { try await delivery.deadLetter(reason: "poison \(delivery.message.number)") }
        await subscription.close()
        #expect(try await queue.takeDeadLetters(limit: 10).map(\.message.number) == [3, 4, 5])

        let store = SQLiteJobStore(database: database)
        let ledger = SQLiteNotificationLedger(database: database)
        let job = try await store.create(Job(owner: "ann", source: Job.sourceKey(for: JobID())), idempotencyKey: nil).job
        try await ledger.record(NotificationRecord(deliveryID: "\(job.id).succeeded", jobID: job.id, channel: "webhook", outcome: .delivered, attempts: 1))
        #expect(try await ledger.records(for: job.id).count == 1)
        try await store.delete(job.id)
        #expect(try await ledger.records(for: job.id).isEmpty)
    }

    @Test("a client's cursor at the edge of Int64 is no cursor (the first page), not a trap in any store")
    func extremeCursor() async throws {
        let id = JobID().rawValue
        for text in ["9223372036854775807:\(id)", "-9223372036854775808:\(id)", "100000000000000001:\(id)"] {
            #expect(JobListPosition(cursor: text) == nil, "\(text)")
        }
        #expect(JobListPosition(cursor: "1764615000000000:\(id)") != nil)
        let store = SQLiteJobStore(database: try SQLiteConformanceTests.newDatabase())
        try await store.create(Job(owner: "ann", source: Job.sourceKey(for: JobID())), idempotencyKey: nil)
        #expect(try await store.list(owner: "ann", limit: 10, cursor: "9223372036854775807:\(id)").jobs.count == 1)
    }

    @Test("a second open of the same file in this process shares the database; a `sqlite:` URL names it")
    func sharedAndNamed() async throws {
        let directory = try makeScratchDirectory()
        let path = directory.appendingPathComponent("vmp3.sqlite").path
        let first = try SQLiteDatabase.at(path)
        let second = try SQLiteDatabase.at(directory.appendingPathComponent("./vmp3.sqlite").path)
        #expect(first === second)
        let factory = SQLiteBackendFactory()
        let store = try #require(try await factory.makeJobStore(URL(string: "sqlite://\(path)")!) as? SQLiteJobStore)
        #expect(store.database === first)
        #expect(try await factory.makeJobStore(URL(string: "memory:")!) == nil)
        #expect(throws: ConfigurationError.self) { try SQLiteBackendFactory.database(URL(string: "sqlite:///")!) }
    }
}
