#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Job records, with cache semantics: the gateway writes them, workers update them, watchers
/// follow them.
///
/// Backends implement only these primitives; everything a job's life needs (claim, lease,
/// progress, finish, cancel) is built once on ``replace(_:with:)`` in `JobStore+Lifecycle.swift`,
/// so every backend behaves the same. The contract (checked by `JobStoreConformance`):
/// - ``replace(_:with:)`` is atomic compare-and-set on ``Job/version``: of two writers that read
///   the same version, exactly one succeeds; the other gets ``JobStoreError/Code/conflict``.
/// - Status changes that ``JobStatus/canTransition(to:)`` forbids are refused with
///   ``JobStoreError/Code/invalidTransition``.
/// - Every accepted change that alters status or progress is delivered, in order, to the
///   streams of ``events(for:)`` open at the time.
public protocol JobStore: Sendable {
    /// Stores a new job (status `queued`, version 1).
    ///
    /// With an idempotency key, a second create by the same owner with the same key, within the
    /// store's idempotency window, stores nothing and returns the first job with `created == false`.
    ///
    /// With an `activeLimit`, the job is stored only if its owner has fewer than that many jobs
    /// not ended (queued or running), counted and created in one atomic step: of any number of
    /// creates racing for the last place, one succeeds and the rest get
    /// ``JobStoreError/Code/activeLimitReached``. (An idempotency key that matches still returns
    /// the first job, whatever the count.)
    @discardableResult
    func create(_ job: Job, idempotencyKey: String?, activeLimit: Int?) async throws -> JobCreation

    /// The job, or `nil` if there is none with that id.
    func get(_ id: JobID) async throws -> Job?

    /// The job `owner` created with `key`, if the key has not expired.
    func job(forIdempotencyKey key: String, owner: UserID) async throws -> Job?

    /// The owner's jobs, newest first, `limit` at a time; pass the page's ``JobPage/nextCursor``
    /// for the next page.
    func list(owner: UserID, limit: Int, cursor: String?) async throws -> JobPage

    /// Replaces the stored job with `new` if the stored version is still `expected.version`.
    /// The stored result has version `expected.version + 1` and `updatedAt` now; `id`, `owner` and
    /// `createdAt` cannot change.
    ///
    /// - Returns: the job as stored.
    @discardableResult
    func replace(_ expected: Job, with new: Job) async throws -> Job

    /// What `owner`'s jobs hold (each job's ``JobUsage``, summed), read from a
    /// running total that ``create(_:idempotencyKey:activeLimit:)``, ``replace(_:with:)`` and
    /// ``delete(_:)`` change in the same atomic step as the job: its cost does not grow with the
    /// owner's jobs. The default, for stores that keep no total, reads every job of the owner.
    func usage(of owner: UserID) async throws -> JobUsage

    /// Jobs in one of `statuses` whose last change (``Job/updatedAt``) is before `before`, least
    /// recently changed first, at most `limit`: what the maintenance sweeps look for (queued jobs
    /// whose message may have been lost, ended jobs past their retention).
    func jobs(withStatus statuses: Set<JobStatus>, updatedBefore before: Date, limit: Int) async throws -> [Job]

    /// Queued jobs whose message was never published (``Job/messagePublished`` not `true`) and
    /// whose last change is before `before`, least recently changed first, at most `limit`: the
    /// jobs whose message the maintenance sweep publishes again. A job waiting in a backlog,
    /// however long, is not among them. The default, for stores that keep no index of them,
    /// filters the least recently changed queued jobs, and so may miss some behind a backlog of
    /// more than `limit`.
    func unpublishedJobs(updatedBefore before: Date, limit: Int) async throws -> [Job]

    /// Removes the job and its idempotency key.
    func delete(_ id: JobID) async throws

    /// The job's events from the moment this returns, until the stream's consumer stops.
    func events(for id: JobID) async throws -> AsyncThrowingStream<JobEvent, any Error>

    /// The generation of the owner's webhook signing secret (``WebhookSigningSecrets``): 0
    /// until the owner first rotates it.
    func webhookSecretGeneration(of owner: UserID) async throws -> Int

    /// Moves the owner's webhook signing secret to its next generation, atomically, and
    /// returns that generation: the old secret stops signing at once.
    func rotateWebhookSecret(of owner: UserID) async throws -> Int

    /// Releases the connections and threads the store holds: called once, when the process is
    /// done with it (``BackendsService`` does it after the services that use it have stopped).
    /// The default, for stores that hold none, does nothing.
    func shutdown() async
}

extension JobStore {
    public func shutdown() async {}

    public func usage(of owner: UserID) async throws -> JobUsage {
        try await scannedUsage(of: owner)
    }

    public func unpublishedJobs(updatedBefore before: Date, limit: Int) async throws -> [Job] {
        try await jobs(withStatus: [.queued], updatedBefore: before, limit: limit).filter(\.awaitsMessage)
    }

    /// ``usage(of:)`` counted the slow way, by reading every job of `owner`: the default, and
    /// what the conformance check compares a store's running total with.
    public func scannedUsage(of owner: UserID) async throws -> JobUsage {
        var usage = JobUsage()
        var cursor: String?
        repeat {
            let page = try await list(owner: owner, limit: 100, cursor: cursor)
            usage += JobUsage(of: page.jobs)
            cursor = page.nextCursor
        } while cursor != nil
        return usage
    }

    /// Stores a new job, with no limit on its owner's active jobs.
    @discardableResult
    public func create(_ job: Job, idempotencyKey: String?) async throws -> JobCreation {
        try await create(job, idempotencyKey: idempotencyKey, activeLimit: nil)
    }
}

/// The result of ``JobStore/create(_:idempotencyKey:activeLimit:)``.
public struct JobCreation: Sendable, Hashable {
    public var job: Job
    /// `false` when an idempotency key matched an earlier job, which ``job`` then is.
    public var created: Bool

    public init(job: Job, created: Bool) {
        self.job = job
        self.created = created
    }
}

/// One page of a listing.
public struct JobPage: Sendable, Hashable {
    public var jobs: [Job]
    /// Pass to the next ``JobStore/list(owner:limit:cursor:)`` call; `nil` on the last page.
    public var nextCursor: String?

    public init(jobs: [Job], nextCursor: String?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

/// The position after a job in an owner's listing (newest first): creation time, then id.
/// Backends encode it as an opaque string.
public struct JobListPosition: Sendable, Hashable, Comparable {
    public var createdAt: Date
    public var id: JobID

    public init(_ job: Job) {
        // At the cursor's precision, so that a position and the cursor made from it compare equal.
        let micros = (job.createdAt.timeIntervalSince1970 * 1_000_000).rounded()
        createdAt = Date(timeIntervalSince1970: micros / 1_000_000)
        id = job.id
    }

    /// Newest first; among jobs created at the same instant, by id.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.createdAt != rhs.createdAt ? lhs.createdAt > rhs.createdAt : lhs.id.rawValue < rhs.id.rawValue
    }

    /// `SECONDS_SINCE_1970:ID`, with microsecond precision.
    public var cursor: String {
        "\(Int64((createdAt.timeIntervalSince1970 * 1_000_000).rounded())):\(id.rawValue)"
    }

    public init?(cursor: String) {
        let parts = cursor.split(separator: ":", maxSplits: 1)
        // A cursor comes from a client: a time beyond ±3,000 years of 1970 would overflow when a
        // store turns it back into microseconds, so it is no cursor.
        guard parts.count == 2, let micros = Int64(parts[0]), micros.magnitude <= 100_000_000_000_000_000,
              let id = JobID(rawValue: String(parts[1])) else { return nil }
        createdAt = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
        self.id = id
    }
}

extension Job {
    /// What a backend stores when a writer that read `expected` replaces this job (the one stored
    /// now) with `new`: `new` at the next version, changed now. - Throws: ``JobStoreError`` `conflict`
    /// if this job is no longer at `expected`'s version, `invalidTransition` as
    /// ``validateReplacement(by:)`` does.
    public func replacement(by new: Job, expected: Job) throws -> Job {
        guard version == expected.version else {
            throw JobStoreError(code: .conflict, message: "job \(id) is at version \(version), not \(expected.version)")
        }
        try validateReplacement(by: new)
        var stored = new
        stored.version = version + 1
        stored.updatedAt = Date()
        return stored
    }

    /// The checks every backend makes before ``JobStore/replace(_:with:)`` accepts `new` in place
    /// of this job: identity unchanged, status change allowed.
    public func validateReplacement(by new: Job) throws {
        guard new.id == id, new.owner == owner, new.createdAt == createdAt else {
            throw JobStoreError(code: .invalidTransition, message: "a job's id, owner and creation time cannot change")
        }
        guard status.canTransition(to: new.status) else {
            throw JobStoreError(
                code: .invalidTransition,
                message: "job \(id) cannot go from \(status.rawValue) to \(new.status.rawValue)"
            )
        }
    }
}
