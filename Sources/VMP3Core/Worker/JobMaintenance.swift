#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import ServiceLifecycle

/// The sweeps that keep a deployment from losing jobs or keeping data for ever, as a `Service`
/// run beside the workers (by `vmp3-converter` and `vmp3 serve`). Every ``Configuration/interval``:
///
/// - **Lost messages.** A job still `queued` whose message was never published
///   (``Job/messagePublished``) long after its last change: the process that created it died
///   between writing the record and publishing. Its message is published and the job marked. A
///   job that merely waits in a backlog has its message in the queue and is left alone, however
///   long it waits (``JobStore/unpublishedJobs(updatedBefore:limit:)``).
/// - **Lost leases.** A job `running` with no lease renewal long after its last change: its
///   worker is gone. Its message is published again and the record touched, so that it is
///   republished at most once per ``Configuration/requeueAfter``. Where the dead worker's own
///   delivery comes back as well, the second message finds the job running or ended and is
///   settled at once.
/// - **Retention.** An ended job whose last change is older than ``Configuration/retention`` is
///   deleted with its MP3 (and its source, if still there): the output first, so that a record is
///   never gone while its MP3 stays.
///
/// Several processes may run it at once: every step is idempotent.
public struct JobMaintenance: Service {
    public struct Configuration: Sendable {
        /// How long an ended job and its MP3 are kept; `nil` keeps them for ever. Default: 7 days.
        public var retention: Duration?
        /// How long a job may stay queued (or running with no renewed lease) before its message
        /// is published again. Default: 10 minutes (longer than a lease, so that only jobs with
        /// no live worker are taken).
        public var requeueAfter: Duration
        /// Also publish again every job queued longer than ``requeueAfter``, message or not: for a
        /// queue that forgets its messages when the process stops (`memory:`) beside a store
        /// that keeps the jobs (`sqlite:`, `redis:`), where a restart leaves queued jobs with no
        /// message. Default: `false` (`init(settings:)` sets it for that pairing).
        public var republishWaitingJobs: Bool
        /// Time between sweeps. Default: 60 s.
        public var interval: Duration
        /// Jobs handled per kind of sweep, per sweep. Default: 500.
        public var batchSize: Int

        public init(
            retention: Duration? = .seconds(7 * 24 * 3600), requeueAfter: Duration = .seconds(600), interval: Duration = .seconds(60), batchSize: Int = 500,
            republishWaitingJobs: Bool = false
        ) {
            self.retention = retention
            self.republishWaitingJobs = republishWaitingJobs
            self.requeueAfter = requeueAfter
            self.interval = interval
            self.batchSize = max(1, batchSize)
        }
    }

    /// What one sweep did.
    public struct Report: Sendable, Hashable {
        /// Jobs whose message was published again.
        public var republished: [JobID] = []
        /// Ended jobs deleted with their files.
        public var expired: [JobID] = []
    }

    public let storage: any ObjectStore
    public let store: any JobStore
    public let queue: any MessageQueue<JobMessage>
    public let configuration: Configuration
    public let logger: Logger

    public init(storage: any ObjectStore, store: any JobStore, queue: any MessageQueue<JobMessage>, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "vmp3.maintenance")) {
        self.storage = storage
        self.store = store
        self.queue = queue
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        // Returns (without an error) on graceful shutdown or cancellation: a sweep cut short is
        // taken up by the next one.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let report = try await sweep()
                    if !report.republished.isEmpty || !report.expired.isEmpty {
                        logger.info("maintenance sweep", metadata: ["republished": "\(report.republished.count)", "expired": "\(report.expired.count)"])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    // A backend outage: the next sweep tries again.
                    logger.warning("maintenance sweep failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: configuration.interval)
            }
        }
    }

    /// One sweep of both kinds, as of `now`.
    @discardableResult
    public func sweep(now: Date = Date()) async throws -> Report {
        var report = Report()
        let cutoff = now.addingTimeInterval(-configuration.requeueAfter.seconds)
        var stale = try await store.unpublishedJobs(updatedBefore: cutoff, limit: configuration.batchSize)
        let statuses: Set<JobStatus> = configuration.republishWaitingJobs ? [.queued, .running] : [.running]
        let seen = Set(stale.map(\.id))
        stale += try await store.jobs(withStatus: statuses, updatedBefore: cutoff, limit: configuration.batchSize).filter { !seen.contains($0.id) }
        for job in stale {
            if try await republish(job) { report.republished.append(job.id) }
        }
        if let retention = configuration.retention {
            let ended = try await store.jobs(
                withStatus: [.succeeded, .failed, .cancelled], updatedBefore: now.addingTimeInterval(-retention.seconds), limit: configuration.batchSize
            )
            for job in ended {
                try await expire(job)
                report.expired.append(job.id)
            }
        }
        return report
    }

    private func republish(_ job: Job) async throws -> Bool {
        var logger = logger
        logger[metadataKey: "job_id"] = "\(job.id)"
        // A running job whose lease is still live has a worker: leave it.
        if job.status == .running, let lease = job.lease, lease.expiresAt > Date() { return false }
        try await queue.publish(JobMessage(jobID: job.id, attempt: job.attempts + 1))
        do {
            // Mark the message published and touch the record (a new version and change time),
            // so that the next sweep leaves it alone for another `requeueAfter`.
            var published = job
            published.messagePublished = true
            _ = try await store.replace(job, with: published)
        } catch let error as JobStoreError where error.code == .conflict || error.code == .notFound {
            // It moved on meanwhile: the new message will find it as it is.
        }
        logger.notice("published the message of a job that had been \(job.status.rawValue) since \(job.updatedAt) again")
        return true
    }

    private func expire(_ job: Job) async throws {
        // A job's MP3 is only ever stored under its own key (`outputKey`), succeeded or not.
        try await storage.delete(job.outputKey)
        try await storage.delete(job.source)
        try await store.delete(job.id)
        logger.info("deleted an ended job past its retention", metadata: ["job_id": "\(job.id)", "status": "\(job.status.rawValue)"])
    }
}
