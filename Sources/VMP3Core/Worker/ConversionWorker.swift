#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Metrics
import ServiceLifecycle

/// Takes jobs from the queue and converts them: the converter service's whole work, and what
/// `vmp3 serve` and embedding programs run in process.
///
/// For each message: claim the job in the store (a lease, so that no two workers run it at
/// once), fetch the source, convert, upload the MP3 under the job's own key, mark the job
/// `succeeded`, publish the outcome, and only then acknowledge the message. A crash before the
/// acknowledgement means redelivery; a job that has ended is acknowledged without converting
/// again. Bad media fails at once; transient failures are retried with backoff up to
/// ``Configuration/maxAttempts`` runs, then the message is dead-lettered.
///
/// Run it as a ServiceLifecycle `Service`: on graceful shutdown it takes no new jobs, lets running
/// ones finish for ``Configuration/shutdownGracePeriod``, then returns the rest to the queue.
public struct ConversionWorker: Service {
    public let converter: any AudioConverter
    public let storage: any ObjectStore
    public let queue: any MessageQueue<JobMessage>
    public let store: any JobStore
    /// Where final outcomes (succeeded, failed) go for the notifier, if anywhere.
    public let outcomes: (any MessageQueue<JobEvent>)?
    /// Where each conversion is recorded, so that the same upload with the same options is not
    /// converted again (``JobService`` looks there), if anywhere.
    public let caching: ConversionCaching?
    public let configuration: Configuration
    public let logger: Logger

    public init(
        converter: any AudioConverter,
        storage: any ObjectStore,
        queue: any MessageQueue<JobMessage>,
        store: any JobStore,
        outcomes: (any MessageQueue<JobEvent>)? = nil,
        caching: ConversionCaching? = nil,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "vmp3.worker")
    ) {
        self.converter = converter
        self.storage = storage
        self.queue = queue
        self.store = store
        self.outcomes = outcomes
        self.caching = caching
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.logger = logger
    }

    public func run() async throws {
        let swept = JobWorkDirectory.sweep(configuration.temporaryDirectory)
        if !swept.isEmpty {
            logger.notice("removed the temporary folders of runs that did not finish", metadata: ["folders": "\(swept.count)"])
        }
        let subscription = try await queue.subscribe(prefetch: configuration.concurrency)
        let inFlight = InFlightJobs()
        logger.info("worker started", metadata: ["concurrency": "\(configuration.concurrency)"])

        await withDiscardingTaskGroup { group in
            let (deliveries, continuation) = AsyncStream<QueueDelivery<JobMessage>>.makeStream()
            // Intake: ends on graceful shutdown or cancellation. The prefetch bounds how many
            // deliveries are in flight, so the group never holds more than `concurrency` jobs.
            group.addTask {
                await subscription.forwardUntilShutdown(to: continuation, logger: self.logger)
                await inFlight.stopTaking()
                continuation.finish()
            }
            for await delivery in deliveries {
                guard await inFlight.enter() else {
                    // Received as the worker was stopping: let another worker have it.
                    try? await delivery.requeue()
                    continue
                }
                group.addTask {
                    await self.handle(delivery)
                    await inFlight.leave()
                }
            }
            if await !inFlight.waitUntilIdle(timeout: configuration.shutdownGracePeriod) {
                logger.notice("shutdown grace period over: returning running jobs to the queue")
                group.cancelAll()
            }
        }
        await subscription.close()
        logger.info("worker stopped")
    }

    // MARK: - One message

    func handle(_ delivery: QueueDelivery<JobMessage>) async {
        let message = delivery.message
        let received = Date()
        let timings = JobTimings()
        var logger = logger
        logger[metadataKey: "job_id"] = "\(message.jobID)"

        let claim: JobClaim
        do {
            claim = try await timings.time("claim") {
                try await store.claim(
                    message.jobID, holder: configuration.workerID, leaseDuration: configuration.leaseDuration, maxAttempts: configuration.maxAttempts
                )
            }
        } catch {
            // The store cannot say how often the job ran: count this message's deliveries, so
            // that a store that stays down does not have the message retried for ever.
            let attempt = message.attempt + delivery.deliveryCount - 1
            await settle(WorkerFailure(error), job: nil, delivery, attempt: attempt, logger: logger)
            return
        }
        switch claim {
        case .notFound:
            logger.warning("the job does not exist: dropping its message")
            await acknowledge(delivery, logger: logger)
        case .finished(let job):
            logger.info("the job has \(job.status.rawValue) already: not converting again")
            // The outcome may not have been published if the worker that finished it stopped
            // before acknowledging: publish again (the notifier drops duplicates).
            if job.status != .cancelled, await !publishOutcome(job, logger: logger) {
                try? await delivery.requeue()
                return
            }
            await acknowledge(delivery, logger: logger)
        case .heldElsewhere(let job, let until) where delivery.deliveryCount > 1:
            // Redelivered: most likely the very message of a worker that died holding the job
            // (the broker gives back what a dead connection held) while its lease runs out. Look
            // again once it has.
            let wait = min(max(until.timeIntervalSinceNow, 0.1), configuration.leaseDuration.seconds)
            logger.info("another worker holds the job: looking again in \(Int(wait.rounded(.up))) s", metadata: ["holder": "\(job.lease?.holder ?? "?")"])
            try? await Task.sleep(for: .seconds(wait))
            try? await delivery.requeue()
        case .heldElsewhere(let job, _):
            // A first delivery while another worker runs the job under a live lease: a duplicate
            // (the maintenance sweep's, a publisher's retry). Settled at once — sleeping it out
            // held one of this worker's slots for a lease. Should that worker die, its own
            // delivery comes back, or the sweep republishes the job once its lease has expired.
            logger.info("another worker holds the job: dropping this duplicate of its message", metadata: ["holder": "\(job.lease?.holder ?? "?")"])
            await acknowledge(delivery, logger: logger)
        case .gaveUp(let job):
            let reason = job.failure?.message ?? "gave up"
            logger.error("giving up: every attempt the job was allowed was started and none finished", metadata: ["attempts": "\(job.attempts)"])
            await removeSource(of: job, logger: logger)
            if await !publishOutcome(job, logger: logger) {
                try? await delivery.requeue()
                return
            }
            do {
                try await delivery.deadLetter(reason: reason)
            } catch {
                logger.error("could not dead-letter the message", metadata: ["error": "\(error)"])
            }
        case .claimed(let job):
            // Attempts are counted by the store when a job is claimed, so an attempt that killed
            // its worker (crash, out of memory, SIGKILL) counts too.
            logger[metadataKey: "attempt"] = "\(job.attempts)"
            if job.attempts == 1 {
                // From the job's record to its message reaching this worker, on the two
                // processes' wall clocks.
                timings.record("queued", .seconds(max(0, received.timeIntervalSince(job.createdAt))))
            }
            await run(job, delivery, attempt: job.attempts, timings: timings, logger: logger)
        }
    }

    private func run(_ job: Job, _ delivery: QueueDelivery<JobMessage>, attempt: Int, timings: JobTimings, logger: Logger) async {
        logger.info("converting", metadata: ["source": "\(job.source)"])
        var work: JobWorkDirectory?
        defer { work?.remove() }
        do {
            // A store of local files needs no work folder: the upload is read where it lies.
            let local = storage as? any LocalObjectFiles
            let workDirectory = local == nil ? try JobWorkDirectory(for: job.id, in: configuration.temporaryDirectory) : nil
            work = workDirectory
            let output = try await JobTimings.$current.withValue(timings) { try await runHoldingLease(job, logger: logger) { progress in
                if let local {
                    return try await self.convertInPlace(job, local, progress: progress, timings: timings, logger: logger)
                }
                return try await self.convert(
                    job, in: workDirectory?.url ?? self.configuration.temporaryDirectory, progress: progress, timings: timings, logger: logger
                )
            } }
            // The MP3 is stored: the folder goes before the job is marked done, so that a job
            // seen as ended has left nothing behind.
            workDirectory?.remove()
            let done: Job
            do {
                done = try await timings.time("record") { try await store.succeed(job.id, holder: configuration.workerID, output: output) }
            } catch let error as JobStoreError where error.code == .leaseLost {
                // Cancelled while the MP3 was uploading: it must not stay.
                await removeOutputIfCancelled(job, logger: logger)
                logger.info("the job was cancelled as it finished")
                await acknowledge(delivery, logger: logger)
                return
            }
            // Three independent round trips (storage, cache, queue), made at once: the job's
            // place in the worker is held until they are done.
            async let removed: Void = timings.time("cleanup") { await removeSource(of: done, logger: logger) }
            async let cached: Void = timings.time("cache") { await recordInCache(done, logger: logger) }
            let published = await timings.time("outcome") { await publishOutcome(done, logger: logger) }
            _ = await (removed, cached)
            if published {
                await timings.time("ack") { await acknowledge(delivery, logger: logger) }
            } else {
                try? await delivery.requeue()
            }
            logger.info("succeeded", metadata: [
                "output": "\(output.key)", "bytes": "\(output.byteCount)", "duration": "\(output.duration)",
            ].merging(timings.metadata) { $1 })
        } catch {
            // The failure's line carries the timings too, with what the converter noted of its
            // process (a sandboxed child's peak memory, CPU time and end).
            var failureLogger = logger
            for (key, value) in timings.metadata { failureLogger[metadataKey: key] = value }
            await settle(WorkerFailure(error), job: job, delivery, attempt: attempt, logger: failureLogger)
        }
    }

    /// Convert the stored upload where it lies and rename the MP3 into the store: no copies.
    private func convertInPlace(
        _ job: Job, _ local: any LocalObjectFiles, progress: AsyncStream<Double>.Continuation, timings: JobTimings, logger: Logger
    ) async throws -> JobOutput {
        let source = try await timings.time("fetch") { try await local.localFile(for: job.source) }
        let mp3 = local.stagingFile()
        defer { try? FileManager.default.removeItem(at: mp3) } // nothing there once adopted
        Counter(label: "vmp3_conversions_total").increment()
        let result: ConversionResult
        do {
            result = try await timings.time("convert") { () async throws(ConversionError) -> ConversionResult in
                try await converter.convert(source, to: mp3, options: job.options, progress: { report in
                    if let fraction = report.fraction { progress.yield(fraction) }
                }, logger: logger)
            }
        } catch {
            // Clients read job failures: the store's paths are none of their business.
            var error = error
            error.message = error.message.replacing(source.path, with: "the upload")
            throw error
        }
        try Task.checkCancellation()
        let stored = try await timings.time("store") { try await local.adopt(mp3, as: job.outputKey, contentType: "audio/mpeg") }
        var output = JobOutput(key: job.outputKey, result: result)
        output.byteCount = stored.size
        return output
    }

    /// Download, convert, upload. Returns the output as stored.
    private func convert(
        _ job: Job, in directory: URL, progress: AsyncStream<Double>.Continuation, timings: JobTimings, logger: Logger
    ) async throws -> JobOutput {
        let source = directory.appendingPathComponent("source")
        let mp3 = directory.appendingPathComponent("output.mp3")
        _ = try await timings.time("fetch") { try await storage.get(job.source, toFile: source) }
        Counter(label: "vmp3_conversions_total").increment()
        let result = try await timings.time("convert") {
            try await converter.convert(source, to: mp3, options: job.options, progress: { report in
                if let fraction = report.fraction { progress.yield(fraction) }
            }, logger: logger)
        }
        try Task.checkCancellation()
        let stored = try await timings.time("store") { try await storage.put(job.outputKey, fromFile: mp3, contentType: "audio/mpeg") }
        var output = JobOutput(key: job.outputKey, result: result)
        output.byteCount = stored.size
        return output
    }

    /// Runs `work` while renewing the job's lease and recording its progress. If either finds
    /// that the worker no longer holds the job (cancelled, taken over), `work` is cancelled and
    /// the ``JobStoreError/Code/leaseLost`` error is thrown.
    private func runHoldingLease<T: Sendable>(
        _ job: Job, logger: Logger, _ work: @escaping @Sendable (AsyncStream<Double>.Continuation) async throws -> T
    ) async throws -> T {
        let (progress, progressInput) = AsyncStream<Double>.makeStream(bufferingPolicy: .bufferingNewest(1))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                defer { progressInput.finish() }
                return try await work(progressInput)
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: self.configuration.leaseRenewalInterval)
                    try await self.renewLease(job.id, logger: logger)
                }
            }
            // A cancellation (DELETE) reaches the worker as the job's event at once, not at the next
            // renewal: the conversion, and a sandboxed one's process, stop within a second.
            group.addTask {
                let events: AsyncThrowingStream<JobEvent, any Error>
                do {
                    events = try await self.store.events(for: job.id)
                } catch {
                    logger.debug("cannot follow the job's events: a cancellation is seen at the next lease renewal", metadata: ["error": "\(error)"])
                    return nil
                }
                do {
                    for try await event in events where event.job.status.isFinal || (event.job.lease.map { $0.holder != self.configuration.workerID } ?? false) {
                        throw JobStoreError(code: .leaseLost, message: "the job became \(event.job.status.rawValue) while it was converted")
                    }
                } catch let error as JobStoreError {
                    throw error
                } catch {
                    logger.debug("the job's events stopped: a cancellation is seen at the next lease renewal", metadata: ["error": "\(error)"])
                }
                return nil
            }
            group.addTask {
                var lastWrite = ContinuousClock.now - self.configuration.progressInterval
                for await fraction in progress {
                    guard ContinuousClock.now - lastWrite >= self.configuration.progressInterval else { continue }
                    lastWrite = .now
                    try await self.recordProgress(job.id, fraction, logger: logger)
                }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let value = result { return value }
            }
            throw CancellationError()
        }
    }

    private func renewLease(_ id: JobID, logger: Logger) async throws {
        do {
            try await store.renewLease(id, holder: configuration.workerID, leaseDuration: configuration.leaseDuration)
        } catch let error as JobStoreError where error.code == .leaseLost || error.code == .notFound {
            throw error
        } catch {
            // A store outage must not stop a conversion that may still finish: try again next time.
            logger.warning("could not renew the job's lease", metadata: ["error": "\(error)"])
        }
    }

    private func recordProgress(_ id: JobID, _ fraction: Double, logger: Logger) async throws {
        do {
            try await store.recordProgress(id, holder: configuration.workerID, fraction: fraction)
        } catch let error as JobStoreError where error.code == .leaseLost || error.code == .notFound {
            throw error
        } catch {
            logger.debug("could not record progress", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Settling

    private func settle(_ failure: WorkerFailure, job: Job?, _ delivery: QueueDelivery<JobMessage>, attempt: Int, logger: Logger) async {
        let holder = configuration.workerID
        let id = delivery.message.jobID
        switch failure {
        case .stopped:
            logger.info("stopping: returning the job to the queue")
            if job != nil { _ = try? await store.release(id, holder: holder, countingAttempt: false) }
            try? await delivery.requeue()

        case .lostJob:
            if let job { await removeOutputIfCancelled(job, logger: logger) }
            logger.info("the job was cancelled or taken over: stopped converting it")
            await acknowledge(delivery, logger: logger)

        case .permanent(let reason):
            logger.warning("failed", metadata: ["code": "\(reason.code)", "reason": "\(reason.message)"])
            await finishFailed(id, reason, delivery, deadLetter: nil, logger: logger)

        case .transient(let reason) where attempt >= configuration.maxAttempts:
            logger.error("giving up after \(attempt) attempts", metadata: ["reason": "\(reason)"])
            let gaveUp = JobFailure(code: "gave_up", message: "gave up after \(attempt) attempts; the last one failed: \(failure.publicSummary)")
            await finishFailed(id, gaveUp, delivery, deadLetter: reason, logger: logger)

        case .transient(let reason):
            let wait = configuration.backoff(afterAttempt: attempt)
            logger.warning("transient failure: retrying in \(wait)", metadata: ["reason": "\(reason)"])
            if job != nil { _ = try? await store.release(id, holder: holder) }
            do {
                try await Task.sleep(for: wait)
                try await queue.publish(JobMessage(jobID: id, attempt: attempt + 1))
                // Its next message is in the queue (the release above unmarked it).
                _ = try? await store.markMessagePublished(id)
                await acknowledge(delivery, logger: logger)
            } catch {
                // Could not schedule the retry (stopping, or the queue is down): hand the message back.
                try? await delivery.requeue()
            }
        }
    }

    private func finishFailed(
        _ id: JobID, _ failure: JobFailure, _ delivery: QueueDelivery<JobMessage>, deadLetter reason: String?, logger: Logger
    ) async {
        do {
            let failed = try await store.fail(id, holder: configuration.workerID, failure: failure)
            await removeSource(of: failed, logger: logger)
            if await !publishOutcome(failed, logger: logger) {
                try? await delivery.requeue()
                return
            }
        } catch let error as JobStoreError where error.code == .leaseLost || error.code == .notFound {
            // Cancelled or taken over meanwhile: nothing to record.
        } catch {
            logger.error("could not record the failure", metadata: ["error": "\(error)"])
            try? await delivery.requeue()
            return
        }
        if let reason {
            do {
                try await delivery.deadLetter(reason: reason)
            } catch {
                logger.error("could not dead-letter the message", metadata: ["error": "\(error)"])
            }
        } else {
            await acknowledge(delivery, logger: logger)
        }
    }

    /// Deletes the uploaded source of a job that has ended: it is not needed again (a
    /// redelivered message of an ended job converts nothing), and keeping uploads is keeping
    /// strangers' files. A failure to delete is logged; the quota counts no ended job's upload.
    private func removeSource(of job: Job, logger: Logger) async {
        guard job.status.isFinal else { return }
        do {
            try await storage.delete(job.source)
        } catch {
            logger.warning("could not delete the job's source", metadata: ["source": "\(job.source)", "error": "\(error)"])
        }
    }

    /// Deletes the job's output if the job was cancelled (not if another worker took it over:
    /// the output is then that worker's).
    private func removeOutputIfCancelled(_ job: Job, logger: Logger) async {
        guard let current = try? await store.get(job.id), current.status == .cancelled else { return }
        do {
            try await storage.delete(job.outputKey)
        } catch {
            logger.error("could not delete the output of a cancelled job", metadata: ["error": "\(error)"])
        }
    }

    /// Records a converted job's MP3 in the conversion cache. A cache that cannot be written
    /// costs a later conversion, not this job: the failure is logged.
    private func recordInCache(_ job: Job, logger: Logger) async {
        guard let caching, job.fromCache != true, let key = caching.key(for: job), let output = job.output else { return }
        do {
            try await caching.cache.record(ConversionCacheEntry(output: output, jobID: job.id), for: key)
        } catch {
            logger.warning("could not record the conversion in the cache", metadata: ["error": "\(error)"])
        }
    }

    /// Publishes a final outcome for the notifier. `false` if it could not be published.
    private func publishOutcome(_ job: Job, logger: Logger) async -> Bool {
        guard let outcomes, job.status == .succeeded || job.status == .failed else { return true }
        do {
            try await outcomes.publish(JobEvent(kind: .status, job: job))
            return true
        } catch {
            logger.error("could not publish the job's outcome", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func acknowledge(_ delivery: QueueDelivery<JobMessage>, logger: Logger) async {
        do {
            try await delivery.acknowledge()
        } catch {
            logger.error("could not acknowledge the message", metadata: ["error": "\(error)"])
        }
    }
}

/// Counts the jobs a worker is running, and stops new ones once the worker is stopping.
actor InFlightJobs {
    private var count = 0
    private var taking = true

    /// Registers a job; `false` if the worker is stopping.
    func enter() -> Bool {
        guard taking else { return false }
        count += 1
        return true
    }

    func leave() {
        count -= 1
    }

    func stopTaking() {
        taking = false
    }

    /// Waits until no job runs; `false` if `timeout` passed first (or the task was cancelled).
    func waitUntilIdle(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while count > 0 {
            guard ContinuousClock.now < deadline, (try? await Task.sleep(for: .milliseconds(50))) != nil else { return false }
        }
        return true
    }
}
