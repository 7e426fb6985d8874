#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A ``JobStore`` in memory: the embedded default (`memory:`). Everything is lost when the
/// process ends.
public actor InMemoryJobStore: JobStore {
    /// How long an idempotency key keeps pointing at its job.
    public let idempotencyWindow: Duration

    private var jobs: [JobID: Job] = [:]
    private var idempotencyKeys: [String: (id: JobID, expires: Date)] = [:]
    private var watchers: [JobID: [UUID: AsyncThrowingStream<JobEvent, any Error>.Continuation]] = [:]
    private var webhookSecretGenerations: [UserID: Int] = [:]
    /// Each owner's running total, changed with every job.
    private var usages: [UserID: JobUsage] = [:]

    public init(idempotencyWindow: Duration = .seconds(24 * 3600)) {
        self.idempotencyWindow = idempotencyWindow
    }

    @discardableResult
    public func create(_ job: Job, idempotencyKey: String?, activeLimit: Int?) async throws -> JobCreation {
        let now = Date()
        let indexKey = idempotencyKey.map { "\(job.owner.rawValue)\u{0}\($0)" }
        if let indexKey, let entry = idempotencyKeys[indexKey], entry.expires > now, let existing = jobs[entry.id] {
            return JobCreation(job: existing, created: false)
        }
        guard jobs[job.id] == nil else {
            throw JobStoreError(code: .duplicate, message: "job \(job.id) exists already")
        }
        if let activeLimit, jobs.values.count(where: { $0.owner == job.owner && !$0.status.isFinal }) >= activeLimit {
            throw JobStoreError.activeLimitReached(job.owner, limit: activeLimit)
        }
        var stored = job
        stored.version = 1
        jobs[job.id] = stored
        usages[job.owner, default: JobUsage()] += JobUsage(of: stored)
        if let indexKey {
            idempotencyKeys[indexKey] = (job.id, now.addingTimeInterval(idempotencyWindow.seconds))
        }
        emit(JobEvent(kind: .created, job: stored))
        return JobCreation(job: stored, created: true)
    }

    public func get(_ id: JobID) async throws -> Job? {
        jobs[id]
    }

    public func job(forIdempotencyKey key: String, owner: UserID) async throws -> Job? {
        guard let entry = idempotencyKeys["\(owner.rawValue)\u{0}\(key)"], entry.expires > Date() else { return nil }
        return jobs[entry.id]
    }

    public func list(owner: UserID, limit: Int, cursor: String?) async throws -> JobPage {
        let after = cursor.flatMap(JobListPosition.init(cursor:))
        let sorted = jobs.values
            .filter { $0.owner == owner }
            .sorted { JobListPosition($0) < JobListPosition($1) }
            .filter { job in after.map { $0 < JobListPosition(job) } ?? true }
        let page = Array(sorted.prefix(max(0, limit)))
        let next = sorted.count > page.count ? page.last.map { JobListPosition($0).cursor } : nil
        return JobPage(jobs: page, nextCursor: next)
    }

    public func usage(of owner: UserID) async throws -> JobUsage {
        usages[owner] ?? JobUsage()
    }

    public func jobs(withStatus statuses: Set<JobStatus>, updatedBefore before: Date, limit: Int) async throws -> [Job] {
        Array(jobs.values.filter { statuses.contains($0.status) && $0.updatedAt < before }.sorted { $0.updatedAt < $1.updatedAt }.prefix(max(0, limit)))
    }

    public func unpublishedJobs(updatedBefore before: Date, limit: Int) async throws -> [Job] {
        Array(jobs.values.filter { $0.awaitsMessage && $0.updatedAt < before }.sorted { $0.updatedAt < $1.updatedAt }.prefix(max(0, limit)))
    }

    public func replace(_ expected: Job, with new: Job) async throws -> Job {
        guard let current = jobs[expected.id] else { throw JobStoreError.notFound(expected.id) }
        let stored = try current.replacement(by: new, expected: expected)
        jobs[stored.id] = stored
        usages[stored.owner, default: JobUsage()] += JobUsage(of: stored) - JobUsage(of: current)
        if let event = JobEvent.change(from: current, to: stored) { emit(event) }
        return stored
    }

    public func delete(_ id: JobID) async throws {
        if let current = jobs.removeValue(forKey: id) {
            usages[current.owner, default: JobUsage()] -= JobUsage(of: current)
        }
        idempotencyKeys = idempotencyKeys.filter { $0.value.id != id }
        watchers[id]?.values.forEach { $0.finish() }
        watchers[id] = nil
    }

    public func events(for id: JobID) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<JobEvent, any Error>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let token = UUID()
        watchers[id, default: [:]][token] = continuation
        continuation.onTermination = { _ in
            Task { await self.removeWatcher(id, token) }
        }
        return stream
    }

    private func removeWatcher(_ id: JobID, _ token: UUID) {
        watchers[id]?[token] = nil
        if watchers[id]?.isEmpty == true { watchers[id] = nil }
    }

    private func emit(_ event: JobEvent) {
        watchers[event.job.id]?.values.forEach { $0.yield(event) }
    }

    public func webhookSecretGeneration(of owner: UserID) async throws -> Int {
        webhookSecretGenerations[owner] ?? 0
    }

    public func rotateWebhookSecret(of owner: UserID) async throws -> Int {
        let next = (webhookSecretGenerations[owner] ?? 0) + 1
        webhookSecretGenerations[owner] = next
        return next
    }
}
