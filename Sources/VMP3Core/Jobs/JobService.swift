#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Metrics

/// The client side of jobs: submit a video, follow it, cancel it, fetch its MP3. What the
/// gateway does over HTTP, and what an embedding program calls directly.
///
/// Every method that names a job takes the caller's ``UserID``: a job belongs to its creator,
/// and anyone else gets ``JobStoreError/Code/notFound``, exactly as if it did not exist.
public struct JobService: Sendable {
    public let storage: any ObjectStore
    public let queue: any MessageQueue<JobMessage>
    public let store: any JobStore
    /// Where a job served from the cache publishes its outcome for the notifier (a converted
    /// job's is published by its worker), if anywhere.
    public let outcomes: (any MessageQueue<JobEvent>)?
    /// The conversion cache an upload is looked up in, if any.
    public let caching: ConversionCaching?
    public let logger: Logger

    public init(
        storage: any ObjectStore, queue: any MessageQueue<JobMessage>, store: any JobStore,
        outcomes: (any MessageQueue<JobEvent>)? = nil, caching: ConversionCaching? = nil, logger: Logger = Logger(label: "vmp3.jobs")
    ) {
        self.storage = storage
        self.queue = queue
        self.store = store
        self.outcomes = outcomes
        self.caching = caching
        self.logger = logger
    }

    /// What to convert and how.
    public struct Submission: Sendable {
        public var owner: UserID
        public var sourceName: String?
        public var options: ConversionOptions
        public var webhookURL: URL?
        public var notifyEmail: String?
        /// The same key from the same owner returns the first job instead of making another.
        public var idempotencyKey: String?
        /// The most jobs the owner may have queued or running, this one included; `nil`: no
        /// limit. Enforced by the store, atomically (``JobStore/create(_:idempotencyKey:activeLimit:)``).
        public var maxActiveJobs: Int?

        public init(
            owner: UserID, sourceName: String? = nil, options: ConversionOptions = ConversionOptions(),
            webhookURL: URL? = nil, notifyEmail: String? = nil, idempotencyKey: String? = nil, maxActiveJobs: Int? = nil
        ) {
            self.owner = owner
            self.sourceName = sourceName
            self.options = options
            self.webhookURL = webhookURL
            self.notifyEmail = notifyEmail
            self.idempotencyKey = idempotencyKey
            self.maxActiveJobs = maxActiveJobs
        }
    }

    /// Stores the file at `source`, records a queued job and publishes it.
    public func submit(_ submission: Submission, sourceFile source: URL) async throws -> JobCreation {
        let reader = try FileChunkReader(source)
        return try await submit(submission, body: AsyncThrowingStream { try reader.next() })
    }

    /// Streams `body` into storage (hashing it), records a queued job and publishes it; or, when
    /// the ``caching`` has an earlier conversion of the same bytes with the same options, copies
    /// its MP3 and returns the job already `succeeded`, with ``Job/fromCache`` set.
    ///
    /// The "job submitted" log line carries the time of each stage (`upload_ms`, `record_ms`,
    /// `publish_ms`, …) with whatever the caller recorded in `timings` before.
    ///
    /// - Throws: ``ConversionError`` (``ConversionError/Code/invalidOption``) for bad options,
    ///   before anything is stored; ``JobStoreError/Code/activeLimitReached`` when the owner has
    ///   ``Submission/maxActiveJobs`` jobs queued or running (the upload is then deleted);
    ///   storage, store and queue errors otherwise. If the job cannot be published, it is
    ///   recorded as failed and the error is thrown.
    public func submit<Body: AsyncSequence & Sendable>(_ submission: Submission, body: Body, timings: JobTimings = JobTimings()) async throws -> JobCreation
        where Body.Element == [UInt8]
    {
        try submission.options.validate()
        // Look before streaming the upload, so that a retried request does not store it again.
        if let key = submission.idempotencyKey,
           let existing = try await timings.time("idempotency", { try await store.job(forIdempotencyKey: key, owner: submission.owner) }) {
            return JobCreation(job: existing, created: false)
        }
        let id = JobID()
        let sourceKey = Job.sourceKey(for: id)
        let digest = SHA256Digest()
        let stored = try await timings.time("upload") {
            try await storage.put(sourceKey, body: digest.hashing(body), contentType: "application/octet-stream")
        }
        var job = Job(
            id: id, owner: submission.owner, source: sourceKey, sourceName: submission.sourceName.flatMap(SourceFileName.init)?.rawValue, sourceSize: stored.size,
            options: submission.options, webhookURL: submission.webhookURL, notifyEmail: submission.notifyEmail
        )
        job.sourceSHA256 = digest.finalize()
        let creation: JobCreation
        do {
            creation = try await timings.time("record") {
                try await store.create(job, idempotencyKey: submission.idempotencyKey, activeLimit: submission.maxActiveJobs)
            }
        } catch {
            try? await storage.delete(sourceKey)
            throw error
        }
        guard creation.created else {
            // Another request with the same key won the race: keep its job, drop this upload.
            try? await storage.delete(sourceKey)
            return creation
        }
        if let served = await timings.time("cache", { await serveFromCache(creation.job) }) {
            return JobCreation(job: served, created: true)
        }
        do {
            try await timings.time("publish") { try await queue.publish(JobMessage(jobID: id)) }
        } catch {
            logger.error("could not publish a job", metadata: ["job_id": "\(id)", "error": "\(error)"])
            _ = try? await store.failQueued(id, failure: JobFailure(code: "not_queued", message: "the job could not be queued: \(error)"))
            throw error
        }
        // The message is in the queue: the maintenance sweep must not publish it again, however
        // long it waits in a backlog. Should this write fail (the store down just now), or a
        // worker take the job first and release it, the sweep publishes a second message later,
        // which the worker drops as a duplicate.
        do {
            _ = try await timings.time("mark_published") { try await store.markMessagePublished(id) }
        } catch {
            logger.warning("could not mark a job's message as published", metadata: ["job_id": "\(id)", "error": "\(error)"])
        }
        logger.info("job submitted", metadata: [
            "job_id": "\(id)", "owner": "\(submission.owner)", "bytes": "\(stored.size)",
        ].merging(timings.metadata) { $1 })
        return creation
    }

    /// The holder a job served from the cache is claimed by, for the moment between its record
    /// and its MP3.
    static let cacheHolder = "conversion-cache"

    /// Finishes the just-created, unpublished `job` with a copy of a cached conversion's MP3.
    /// `nil` on a miss, or if anything fails on the way: the job is then still queued (any copy
    /// made is deleted) and the caller publishes it to be converted.
    private func serveFromCache(_ job: Job) async -> Job? {
        guard let caching, let key = caching.key(for: job) else { return nil }
        var logger = logger
        logger[metadataKey: "job_id"] = "\(job.id)"
        let entry: ConversionCacheEntry
        do {
            guard let found = try await caching.cache.entry(for: key) else {
                Counter(label: "vmp3_conversion_cache_lookups_total", dimensions: [("result", "miss")]).increment()
                return nil
            }
            entry = found
        } catch {
            logger.warning("the conversion cache is unavailable: converting", metadata: ["error": "\(error)"])
            return nil
        }
        var output = entry.output
        output.key = job.outputKey
        do {
            // A copy of the job's own, so that deleting either job never takes the other's MP3.
            let original = try await storage.get(entry.output.key)
            let copied = try await storage.put(job.outputKey, body: original.body, contentType: "audio/mpeg")
            output.byteCount = copied.size
        } catch let error as StorageError where error.code == .notFound {
            // The job that made it was deleted or expired: the entry is stale.
            try? await caching.cache.remove(key)
            try? await storage.delete(job.outputKey)
            return nil
        } catch {
            logger.warning("could not copy a cached MP3: converting", metadata: ["error": "\(error)"])
            try? await storage.delete(job.outputKey)
            return nil
        }
        do {
            _ = try await store.claim(job.id, holder: Self.cacheHolder, leaseDuration: .seconds(60))
            let done = try await store.succeed(job.id, holder: Self.cacheHolder, output: output, fromCache: true)
            try? await storage.delete(job.source)
            if let outcomes {
                do {
                    try await outcomes.publish(JobEvent(kind: .status, job: done))
                } catch {
                    logger.error("could not publish the outcome of a job served from the cache", metadata: ["error": "\(error)"])
                }
            }
            Counter(label: "vmp3_conversion_cache_lookups_total", dimensions: [("result", "hit")]).increment()
            logger.info("job served from the conversion cache", metadata: ["from_job": "\(entry.jobID)", "bytes": "\(output.byteCount)"])
            return done
        } catch {
            logger.warning("could not finish a job from the cache: converting", metadata: ["error": "\(error)"])
            _ = try? await store.release(job.id, holder: Self.cacheHolder, countingAttempt: false)
            try? await storage.delete(job.outputKey)
            return nil
        }
    }

    /// The job, if it exists and belongs to `owner`. - Throws: ``JobStoreError/Code/notFound``.
    public func job(_ id: JobID, owner: UserID) async throws -> Job {
        guard let job = try await store.get(id), job.owner == owner else { throw JobStoreError.notFound(id) }
        return job
    }

    /// The owner's jobs, newest first.
    public func jobs(owner: UserID, limit: Int = 20, cursor: String? = nil) async throws -> JobPage {
        try await store.list(owner: owner, limit: min(max(1, limit), 100), cursor: cursor)
    }

    /// What `owner`'s jobs hold, from the store's running total (``JobStore/usage(of:)``). A
    /// snapshot: the gateway's limits reserve against it (an upload's place is taken before its
    /// first byte is stored), and the active-jobs limit itself is enforced atomically at create
    /// (``Submission/maxActiveJobs``).
    public func usage(of owner: UserID) async throws -> JobUsage {
        try await store.usage(of: owner)
    }

    /// The bytes `owner`'s jobs hold in storage (``usage(of:)``).
    public func bytesHeld(by owner: UserID) async throws -> Int64 {
        try await usage(of: owner).bytesHeld
    }

    /// Cancels a queued or running job, or, for one that has ended, deletes it with its source
    /// and output. - Returns: the cancelled job, or `nil` when it was deleted.
    @discardableResult
    public func cancelOrDelete(_ id: JobID, owner: UserID) async throws -> Job? {
        let current = try await job(id, owner: owner)
        if !current.status.isFinal {
            do {
                let cancelled = try await store.cancel(id)
                // Its upload is not needed any more (a worker converting it has its own copy, or
                // finds it gone and stops: the job is cancelled either way).
                try? await storage.delete(current.source)
                return cancelled
            } catch let error as JobStoreError where error.code == .invalidTransition {
                // It ended meanwhile: delete it instead.
            }
        }
        try await storage.delete(current.source)
        try await storage.delete(current.outputKey)
        try await store.delete(id)
        return nil
    }

    /// The MP3 of a succeeded job, as a stream. - Throws: ``JobStoreError/Code/notFound`` if the
    /// job is not the owner's or has no output yet.
    public func download(_ id: JobID, owner: UserID) async throws -> (job: Job, download: ObjectDownload) {
        let (job, output) = try await finishedJob(id, owner: owner)
        return (job, try await storage.get(output.key))
    }

    /// A succeeded job and its MP3's description, without opening the MP3 (for validators,
    /// ranges and `HEAD`). - Throws: ``JobStoreError/Code/notFound`` unless the job exists, is
    /// `owner`'s and has succeeded.
    public func finishedJob(_ id: JobID, owner: UserID) async throws -> (job: Job, output: JobOutput) {
        let job = try await job(id, owner: owner)
        guard job.status == .succeeded, let output = job.output else {
            throw JobStoreError(code: .notFound, message: "job \(id) has no MP3: it is \(job.status.rawValue)")
        }
        return (job, output)
    }

    /// Opens `output`'s MP3, or bytes `range` of it (``ObjectStore/get(_:range:)``).
    public func open(_ output: JobOutput, range: Range<Int64>? = nil) async throws -> ObjectDownload {
        guard let range else { return try await storage.get(output.key) }
        return try await storage.get(output.key, range: range)
    }

    /// A URL that serves `output`'s MP3 to whoever holds it until `expiresIn` has passed, with
    /// `contentDisposition` as its `Content-Disposition`; `nil` when the store cannot make one.
    public func downloadURL(for output: JobOutput, expiresIn: Duration, contentDisposition: String? = nil) async throws -> URL? {
        try await storage.downloadURL(for: output.key, expiresIn: expiresIn, contentDisposition: contentDisposition)
    }

    /// Follows a job: its events from now on, ending after the first final status. The current
    /// state comes first, so a watcher that arrives late still learns how the job stands.
    public func watch(_ id: JobID, owner: UserID) async throws -> AsyncThrowingStream<JobEvent, any Error> {
        // The owner first: no one opens a subscription (a connection, in Redis) on another's job.
        _ = try await job(id, owner: owner)
        let events = try await store.events(for: id)
        // Read again once subscribed, so that no change between the two is missed.
        let current = try await job(id, owner: owner)
        return AsyncThrowingStream { continuation in
            let task = Task {
                continuation.yield(JobEvent(kind: .status, job: current))
                guard !current.status.isFinal else { return continuation.finish() }
                do {
                    for try await event in events where event.job.version > current.version {
                        continuation.yield(event)
                        if event.job.status.isFinal { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
