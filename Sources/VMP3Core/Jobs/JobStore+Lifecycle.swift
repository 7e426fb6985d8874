#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What ``JobStore/claim(_:holder:leaseDuration:maxAttempts:)`` found.
public enum JobClaim: Sendable, Hashable {
    /// The caller now holds the job (status `running`) until the lease expires or is renewed.
    case claimed(Job)
    /// The job has ended already (succeeded, failed or cancelled): nothing to do.
    case finished(Job)
    /// A worker (another, or the caller in another task) holds an unexpired lease on the job.
    case heldElsewhere(Job, until: Date)
    /// There is no such job.
    case notFound
    /// Every attempt the job was allowed was started and none finished (its workers crashed,
    /// ran out of memory or were killed): the claim marked it `failed` (`gave_up`) instead.
    case gaveUp(Job)
}

/// A job's life, built on compare-and-set so that every backend shares the same rules.
extension JobStore {
    /// Reads the job, applies `change` and writes it back, retrying when another writer got there
    /// first. `change` may throw to give up.
    @discardableResult
    public func update(_ id: JobID, _ change: (inout Job) throws -> Void) async throws -> Job {
        for _ in 0..<50 {
            guard let current = try await get(id) else { throw JobStoreError.notFound(id) }
            var new = current
            try change(&new)
            if new == current { return current }
            do {
                return try await replace(current, with: new)
            } catch let error as JobStoreError where error.code == .conflict {
                continue
            }
        }
        throw JobStoreError(code: .conflict, message: "job \(id) kept changing; gave up updating it")
    }

    /// Takes a queued job (or a running one whose lease expired) for `holder`: status `running`,
    /// a lease until now + `leaseDuration`, one more attempt. Of two workers claiming at once,
    /// one gets `.claimed` and the other `.heldElsewhere`.
    ///
    /// A job that has been started `maxAttempts` times already is not started again, whatever
    /// ended the earlier attempts: it is marked `failed` with code `gave_up` and `.gaveUp` is
    /// returned. This is what stops a poison job (one that kills every worker that runs it) from
    /// being redelivered for ever; attempts that end by themselves are settled by the worker.
    public func claim(_ id: JobID, holder: String, leaseDuration: Duration, maxAttempts: Int = .max) async throws -> JobClaim {
        for _ in 0..<50 {
            guard let current = try await get(id) else { return .notFound }
            let now = Date()
            if current.status.isFinal { return .finished(current) }
            // A live lease is respected even when the caller holds it: a second message for a job
            // that this worker is already running (a duplicate) must not start it a second time.
            if current.status == .running, let lease = current.lease, lease.expiresAt > now {
                return .heldElsewhere(current, until: lease.expiresAt)
            }
            var new = current
            if current.attempts >= maxAttempts {
                new.status = .failed
                new.lease = nil
                new.progress = nil
                new.failure = JobFailure(
                    code: "gave_up",
                    message: "gave up after \(current.attempts) attempts; the last one did not finish: the converter running it stopped (a crash, out of memory, or killed)"
                )
                do {
                    return .gaveUp(try await replace(current, with: new))
                } catch let error as JobStoreError where error.code == .conflict {
                    continue
                }
            }
            new.status = .running
            new.lease = JobLease(holder: holder, expiresAt: now.addingTimeInterval(leaseDuration.seconds))
            new.attempts += 1
            new.progress = 0
            new.failure = nil
            do {
                return .claimed(try await replace(current, with: new))
            } catch let error as JobStoreError where error.code == .conflict {
                continue
            }
        }
        throw JobStoreError(code: .conflict, message: "job \(id) kept changing; gave up claiming it")
    }

    /// Extends `holder`'s lease. - Throws: ``JobStoreError/Code/leaseLost`` if the job ended
    /// (for example, was cancelled) or another worker took it.
    @discardableResult
    public func renewLease(_ id: JobID, holder: String, leaseDuration: Duration) async throws -> Job {
        try await update(id) { job in
            try job.requireHeld(by: holder)
            job.lease?.expiresAt = Date().addingTimeInterval(leaseDuration.seconds)
        }
    }

    /// Records progress (0–1) of a job `holder` runs. - Throws: ``JobStoreError/Code/leaseLost``.
    @discardableResult
    public func recordProgress(_ id: JobID, holder: String, fraction: Double) async throws -> Job {
        try await update(id) { job in
            try job.requireHeld(by: holder)
            job.progress = min(1, max(0, fraction))
        }
    }

    /// Marks the job `holder` ran as succeeded with `output`; with `fromCache`, as finished with
    /// a copy of a cached conversion (``Job/fromCache`` set, and the attempt its claim counted
    /// taken back: no worker ran it). - Throws: ``JobStoreError/Code/leaseLost``.
    @discardableResult
    public func succeed(_ id: JobID, holder: String, output: JobOutput, fromCache: Bool = false) async throws -> Job {
        try await update(id) { job in
            try job.requireHeld(by: holder)
            job.status = .succeeded
            job.output = output
            job.progress = 1
            job.lease = nil
            if fromCache {
                job.fromCache = true
                job.attempts = max(0, job.attempts - 1)
            }
        }
    }

    /// Marks the job `holder` ran as failed. - Throws: ``JobStoreError/Code/leaseLost``.
    @discardableResult
    public func fail(_ id: JobID, holder: String, failure: JobFailure) async throws -> Job {
        try await update(id) { job in
            try job.requireHeld(by: holder)
            job.status = .failed
            job.failure = failure
            job.lease = nil
        }
    }

    /// Marks a queued job as failed before any worker took it (for example, when its message
    /// could not be published).
    @discardableResult
    public func failQueued(_ id: JobID, failure: JobFailure) async throws -> Job {
        try await update(id) { job in
            guard job.status == .queued else {
                throw JobStoreError(code: .invalidTransition, message: "job \(id) is \(job.status.rawValue), not queued")
            }
            job.status = .failed
            job.failure = failure
        }
    }

    /// Marks the job's message as in the queue (``Job/messagePublished``), if the job is still
    /// queued: called right after its message was published.
    @discardableResult
    public func markMessagePublished(_ id: JobID) async throws -> Job {
        try await update(id) { job in
            if job.status == .queued { job.messagePublished = true }
        }
    }

    /// Gives the job back (status `queued`, its message no longer marked published: see
    /// ``Job/messagePublished``) so that another worker can run it. With
    /// `countingAttempt` false (the worker is stopping, through no fault of the job's), the
    /// attempt it started is not counted against the job's limit.
    @discardableResult
    public func release(_ id: JobID, holder: String, countingAttempt: Bool = true) async throws -> Job {
        try await update(id) { job in
            try job.requireHeld(by: holder)
            job.status = .queued
            job.lease = nil
            job.progress = nil
            // Whether its message survives the release (a requeue can fail, a broker can have
            // dead-lettered a redelivered message) is not known here: unmarked, the maintenance
            // sweep publishes it again should it wait past `requeueAfter` (a duplicate at worst,
            // which a worker drops); whoever publishes its next message marks it again.
            job.messagePublished = nil
            if !countingAttempt { job.attempts = max(0, job.attempts - 1) }
        }
    }

    /// Cancels a queued or running job. The worker running it notices at its next progress report
    /// or lease renewal and stops. - Throws: ``JobStoreError/Code/invalidTransition`` for a job
    /// that has ended.
    @discardableResult
    public func cancel(_ id: JobID) async throws -> Job {
        try await update(id) { job in
            guard !job.status.isFinal else {
                throw JobStoreError(code: .invalidTransition, message: "job \(id) has \(job.status.rawValue) already")
            }
            job.status = .cancelled
            job.lease = nil
        }
    }
}

extension Job {
    /// Throws ``JobStoreError/Code/leaseLost`` unless `holder` runs this job.
    func requireHeld(by holder: String) throws {
        guard status == .running, lease?.holder == holder else {
            throw JobStoreError(
                code: .leaseLost,
                message: "job \(id) is \(status.rawValue)" + (lease.map { ", held by \($0.holder)" } ?? "") + ", not run by \(holder)"
            )
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }

    /// The duration in whole milliseconds, rounded down (what C APIs and Redis take).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
