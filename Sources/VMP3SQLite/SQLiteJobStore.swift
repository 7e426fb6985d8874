import Foundation
import GRDB
import Synchronization
import VMP3Core

/// A `JobStore` in SQLite: the durable embedded store (`sqlite:///PATH`) of `vmp3 serve` and
/// of programs that embed VMP3Kit. Jobs and idempotency keys survive a restart and `kill -9`.
///
/// Each job is one row: its JSON beside the columns the queries need (owner, creation time,
/// status, version). Compare-and-set is a transaction on SQLite's one writer. Events go to the
/// watchers of this process, in commit order (they are sent from the transaction's commit
/// hook, which runs on the writer's queue): the database belongs to one process at a time.
/// Each owner's ``usage(of:)`` is a row of `job_usage`, changed in the transaction that changes
/// the job.
public final class SQLiteJobStore: JobStore {
    public let database: SQLiteDatabase
    /// How long an idempotency key keeps pointing at its job.
    public let idempotencyWindow: Duration
    private let watchers = JobWatchers()

    public init(database: SQLiteDatabase, idempotencyWindow: Duration = .seconds(24 * 3600)) {
        self.database = database
        self.idempotencyWindow = idempotencyWindow
    }

    @discardableResult
    public func create(_ job: Job, idempotencyKey: String?, activeLimit: Int?) async throws -> JobCreation {
        let stored = {
            var stored = job
            stored.version = 1
            return stored
        }()
        let body = try Self.encode(stored)
        let window = idempotencyWindow.seconds
        let watchers = watchers
        return try await perform { db in
            let now = Date()
            if let idempotencyKey, let existingID = try String.fetchOne(
                db, sql: "SELECT jobID FROM job_idempotency WHERE owner = ? AND key = ? AND expiresMicros > ?",
                arguments: [job.owner.rawValue, idempotencyKey, now.microseconds]
            ), let existing = try Self.job(existingID, in: db) {
                return JobCreation(job: existing, created: false)
            }
            guard try Self.job(job.id.rawValue, in: db) == nil else {
                throw JobStoreError(code: .duplicate, message: "job \(job.id) exists already")
            }
            // In the same write transaction as the insert: SQLite serialises writers, so two
            // creates cannot both count the same free place.
            if let activeLimit, try Self.usage(of: job.owner, in: db).activeJobs >= activeLimit {
                throw JobStoreError.activeLimitReached(job.owner, limit: activeLimit)
            }
            try db.execute(
                sql: "INSERT INTO job (id, owner, createdMicros, updatedMicros, status, version, awaitingMessage, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [job.id.rawValue, job.owner.rawValue, job.createdAt.microseconds, job.updatedAt.microseconds, stored.status.rawValue, 1, stored.awaitsMessage, body]
            )
            try Self.add(JobUsage(of: stored), to: job.owner, in: db)
            if let idempotencyKey {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO job_idempotency (owner, key, jobID, expiresMicros) VALUES (?, ?, ?, ?)",
                    arguments: [job.owner.rawValue, idempotencyKey, job.id.rawValue, now.addingTimeInterval(window).microseconds]
                )
            }
            db.afterNextTransaction { _ in watchers.emit(JobEvent(kind: .created, job: stored)) }
            return JobCreation(job: stored, created: true)
        }
    }

    public func get(_ id: JobID) async throws -> Job? {
        try await read { db in try Self.job(id.rawValue, in: db) }
    }

    public func job(forIdempotencyKey key: String, owner: UserID) async throws -> Job? {
        try await read { db in
            guard let id = try String.fetchOne(
                db, sql: "SELECT jobID FROM job_idempotency WHERE owner = ? AND key = ? AND expiresMicros > ?",
                arguments: [owner.rawValue, key, Date().microseconds]
            ) else { return nil }
            return try Self.job(id, in: db)
        }
    }

    public func list(owner: UserID, limit: Int, cursor: String?) async throws -> JobPage {
        let limit = max(0, limit)
        let after = cursor.flatMap(JobListPosition.init(cursor:))
        let jobs = try await read { db in
            let rows: [Data]
            if let after {
                let micros = after.createdAt.microseconds
                rows = try Data.fetchAll(db, sql: """
                    SELECT body FROM job WHERE owner = ? AND (createdMicros < ? OR (createdMicros = ? AND id > ?))
                    ORDER BY createdMicros DESC, id ASC LIMIT ?
                    """, arguments: [owner.rawValue, micros, micros, after.id.rawValue, limit + 1])
            } else {
                rows = try Data.fetchAll(
                    db, sql: "SELECT body FROM job WHERE owner = ? ORDER BY createdMicros DESC, id ASC LIMIT ?",
                    arguments: [owner.rawValue, limit + 1]
                )
            }
            return try rows.map(Self.decode)
        }
        let page = Array(jobs.prefix(limit))
        let next = jobs.count > page.count ? page.last.map { JobListPosition($0).cursor } : nil
        return JobPage(jobs: page, nextCursor: next)
    }

    public func jobs(withStatus statuses: Set<JobStatus>, updatedBefore before: Date, limit: Int) async throws -> [Job] {
        guard !statuses.isEmpty, limit > 0 else { return [] }
        let names = statuses.map(\.rawValue).sorted()
        let marks = Array(repeating: "?", count: names.count).joined(separator: ", ")
        return try await read { db in
            try Data.fetchAll(
                db, sql: "SELECT body FROM job WHERE status IN (\(marks)) AND updatedMicros < ? ORDER BY updatedMicros LIMIT ?",
                arguments: StatementArguments(names) + [before.microseconds, limit]
            ).map(Self.decode)
        }
    }

    public func unpublishedJobs(updatedBefore before: Date, limit: Int) async throws -> [Job] {
        guard limit > 0 else { return [] }
        return try await read { db in
            try Data.fetchAll(
                db, sql: "SELECT body FROM job WHERE awaitingMessage = 1 AND updatedMicros < ? ORDER BY updatedMicros LIMIT ?",
                arguments: [before.microseconds, limit]
            ).map(Self.decode)
        }
    }

    @discardableResult
    public func replace(_ expected: Job, with new: Job) async throws -> Job {
        let watchers = watchers
        return try await perform { db in
            guard let current = try Self.job(expected.id.rawValue, in: db) else { throw JobStoreError(code: .notFound, message: "no job \(expected.id)") }
            let stored = try current.replacement(by: new, expected: expected)
            try db.execute(
                sql: "UPDATE job SET updatedMicros = ?, status = ?, version = ?, awaitingMessage = ?, body = ? WHERE id = ?",
                arguments: [stored.updatedAt.microseconds, stored.status.rawValue, stored.version, stored.awaitsMessage, try Self.encode(stored), stored.id.rawValue]
            )
            try Self.add(JobUsage(of: stored) - JobUsage(of: current), to: stored.owner, in: db)
            if let event = JobEvent.change(from: current, to: stored) {
                db.afterNextTransaction { _ in watchers.emit(event) }
            }
            return stored
        }
    }

    public func delete(_ id: JobID) async throws {
        try await perform { db in
            if let current = try Self.job(id.rawValue, in: db) {
                try Self.add(JobUsage() - JobUsage(of: current), to: current.owner, in: db)
            }
            try db.execute(sql: "DELETE FROM job WHERE id = ?", arguments: [id.rawValue])
            try db.execute(sql: "DELETE FROM job_idempotency WHERE jobID = ?", arguments: [id.rawValue])
            // The notification ledger shares the database: its records of the job go with it.
            try db.execute(sql: "DELETE FROM notification WHERE jobID = ?", arguments: [id.rawValue])
        }
        watchers.finish(id)
    }

    public func usage(of owner: UserID) async throws -> JobUsage {
        try await read { db in try Self.usage(of: owner, in: db) }
    }

    public func events(for id: JobID) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        watchers.add(for: id)
    }

    public func webhookSecretGeneration(of owner: UserID) async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT generation FROM webhook_secret WHERE owner = ?", arguments: [owner.rawValue]) ?? 0
        }
    }

    public func rotateWebhookSecret(of owner: UserID) async throws -> Int {
        try await perform { db in
            try Int.fetchOne(db, sql: """
                INSERT INTO webhook_secret (owner, generation) VALUES (?, 1)
                ON CONFLICT(owner) DO UPDATE SET generation = generation + 1
                RETURNING generation
                """, arguments: [owner.rawValue]) ?? 1
        }
    }

    // MARK: - Rows

    private static func job(_ id: String, in db: Database) throws -> Job? {
        try Data.fetchOne(db, sql: "SELECT body FROM job WHERE id = ?", arguments: [id]).map(decode)
    }

    // MARK: - Usage

    private static func usage(of owner: UserID, in db: Database) throws -> JobUsage {
        guard let row = try Row.fetchOne(db, sql: "SELECT activeJobs, bytesHeld FROM job_usage WHERE owner = ?", arguments: [owner.rawValue]) else {
            return JobUsage()
        }
        return JobUsage(activeJobs: row["activeJobs"], bytesHeld: row["bytesHeld"])
    }

    private static func add(_ change: JobUsage, to owner: UserID, in db: Database) throws {
        guard change != JobUsage() else { return }
        try db.execute(sql: """
            INSERT INTO job_usage (owner, activeJobs, bytesHeld) VALUES (?, ?, ?)
            ON CONFLICT(owner) DO UPDATE SET activeJobs = activeJobs + excluded.activeJobs, bytesHeld = bytesHeld + excluded.bytesHeld
            """, arguments: [owner.rawValue, change.activeJobs, change.bytesHeld])
    }

    /// Counts every owner's usage from the stored jobs, replacing `job_usage`: the migration
    /// that introduced the table runs it once, in its transaction.
    static func recountUsage(in db: Database) throws {
        try db.execute(sql: "DELETE FROM job_usage")
        var usages: [UserID: JobUsage] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT body FROM job")
        while let row = try rows.next() {
            // A row that cannot be read holds nothing here (reading it elsewhere says why), and
            // must not keep the database from opening.
            guard let job = try? decode(row["body"]) else { continue }
            usages[job.owner, default: JobUsage()] += JobUsage(of: job)
        }
        for (owner, usage) in usages { try add(usage, to: owner, in: db) }
    }

    private static func encode(_ job: Job) throws -> Data {
        do {
            return try JSONEncoder().encode(job)
        } catch {
            throw JobStoreError(code: .corrupt, message: "cannot encode job \(job.id): \(error)")
        }
    }

    private static func decode(_ body: Data) throws -> Job {
        do {
            return try JSONDecoder().decode(Job.self, from: body)
        } catch {
            throw JobStoreError(code: .corrupt, message: "cannot read a stored job: \(error)")
        }
    }

    /// A write transaction. - Throws: what `work` throws; SQLite's own errors as ``JobStoreError/Code/unavailable``.
    private func perform<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await mappingErrors { try await database.writer.write(work) }
    }

    /// A read. - Throws: as ``perform(_:)``.
    private func read<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await mappingErrors { try await database.writer.read(work) }
    }

    private func mappingErrors<T>(_ access: () async throws -> T) async throws -> T {
        do {
            return try await access()
        } catch let error as JobStoreError {
            throw error
        } catch {
            throw JobStoreError(code: .unavailable, message: "SQLite (\(database.path)): \(error)")
        }
    }
}

/// The event streams open on jobs, by job. Sendable through its mutex: streams are added and
/// removed by watchers' tasks while commit hooks emit on the database's writer queue.
final class JobWatchers: Sendable {
    private typealias Continuation = AsyncThrowingStream<JobEvent, any Error>.Continuation
    private let streams = Mutex<[JobID: [UUID: Continuation]]>([:])

    func add(for id: JobID) -> AsyncThrowingStream<JobEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<JobEvent, any Error>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let token = UUID()
        streams.withLock { $0[id, default: [:]][token] = continuation }
        continuation.onTermination = { [weak self] _ in
            self?.streams.withLock { streams in
                streams[id]?[token] = nil
                if streams[id]?.isEmpty == true { streams[id] = nil }
            }
        }
        return stream
    }

    func emit(_ event: JobEvent) {
        let continuations = streams.withLock { $0[event.job.id].map { Array($0.values) } ?? [] }
        for continuation in continuations { continuation.yield(event) }
    }

    func finish(_ id: JobID) {
        let continuations = streams.withLock { $0.removeValue(forKey: id).map { Array($0.values) } ?? [] }
        for continuation in continuations { continuation.finish() }
    }
}
