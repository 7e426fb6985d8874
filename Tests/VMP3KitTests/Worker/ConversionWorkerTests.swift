import Foundation
import Logging
import VMP3TestSupport
import Testing
import VMP3Conformance
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// The worker on embedded backends with real media: a job's whole life, and each way it can go wrong.
@Suite struct ConversionWorkerTests {
    @Test("a job runs to succeeded, with its MP3 in storage, progress events and a published outcome")
    func success() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker()])
        let job = try await harness.submit(.tagged, options: ConversionOptions(encoding: .constantBitRate(kbps: 96)))
        let events = Inbox(try await harness.service.watch(job.id, owner: "alice"))

        let done = try await harness.wait(for: job.id, .succeeded)
        #expect(done.attempts == 1 && done.progress == 1 && done.lease == nil)
        let output = try #require(done.output)
        #expect(output.key == job.outputKey && output.encoding == .constantBitRate(kbps: 96))
        #expect(output.tags.title == TestMedia.taggedTags["title"])
        #expect(abs(output.duration - 3) < 0.05)

        let mp3 = harness.directory.appendingPathComponent("out.mp3")
        let info = try await harness.storage.get(output.key, toFile: mp3)
        #expect(info.contentType == "audio/mpeg" && info.size == output.byteCount)
        #expect(try await ProbedFile(mp3).audioStream().codec == "mp3")

        var seen: [JobEvent] = []
        repeat { seen.append(try await events.takeOne()) } while !(seen.last?.job.status.isFinal ?? false)
        #expect(seen.first?.job.status == .queued || seen.first?.job.status == .running)
        #expect(seen.last?.job.status == .succeeded)
        #expect(seen.contains { $0.kind == .status && $0.job.status == .running })

        let outcome = try await Inbox(try await harness.outcomes.subscribe(prefetch: 5)).takeOne()
        #expect(outcome.message.job.id == job.id && outcome.message.job.status == .succeeded)
        try await services.stop()
        #expect(await harness.queueIsSettled)
        #expect(harness.converter.started == 1)
    }

    @Test("with the embedded file store, the upload is converted where it lies and the MP3 renamed into the store: no work folder, no copy of either file")
    func convertsInPlace() async throws {
        let harness = try WorkerHarness()
        // A temporary directory that cannot be used: a job that needed a work folder would fail.
        let unusable = harness.directory.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: unusable)
        var configuration = WorkerHarness.configuration("in-place")
        configuration.temporaryDirectory = unusable
        let worker = ConversionWorker(
            converter: harness.converter, storage: harness.storage, queue: harness.jobs, store: harness.store,
            outcomes: harness.outcomes, configuration: configuration, logger: Logger(label: "test.in-place")
        )
        let services = RunningServices([worker])
        let job = try await harness.submit(.tagged)
        let store = try #require(harness.storage as? FileObjectStore)
        let sourceFile = try await store.localFile(for: job.source)
        let done = try await harness.wait(for: job.id, .succeeded)
        try await services.stop()

        let conversion = try #require(harness.converter.conversions.first)
        #expect(conversion.input.path == sourceFile.path, "read \(conversion.input.path)")
        #expect(conversion.output.path.hasPrefix(store.root.appendingPathComponent("incoming").path))
        let stored = try await store.localFile(for: try #require(done.output).key)
        let storedInode = (try FileManager.default.attributesOfItem(atPath: stored.path)[.systemFileNumber] as? NSNumber)?.uint64Value
        #expect(conversion.inode != nil && conversion.inode == storedInode, "the MP3 was renamed, not copied")
        #expect(try await ProbedFile(stored).audioStream().codec == "mp3")
        #expect(directoryContents(store.root.appendingPathComponent("incoming")).isEmpty)
        // A failure names the upload, not where the store keeps it.
        let notMedia = harness.directory.appendingPathComponent("notes.txt")
        try Data(String(repeating: "hello ", count: 500).utf8).write(to: notMedia)
        let services2 = RunningServices([worker])
        let bad = try await harness.submit(file: notMedia)
        let failed = try await harness.wait(for: bad.id, .failed)
        try await services2.stop()
        let message = try #require(failed.failure?.message)
        #expect(message.hasPrefix("the upload ") && !message.contains(store.root.path), "\(message)")
        // A file that is not one of the store's staging files is refused.
        await #expect(throws: StorageError.self) { try await store.adopt(unusable, as: "x", contentType: "audio/mpeg") }
    }

    @Test("a corrupt video fails with its reason, once, without retries")
    func corruptVideo() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker()])
        let text = harness.directory.appendingPathComponent("not-a-video.mp4")
        try Data(String(repeating: "not a video\n", count: 1000).utf8).write(to: text)
        let job = try await harness.submit(file: text)

        let failed = try await harness.wait(for: job.id, .failed)
        #expect(failed.failure?.code == ConversionError.Code.notMediaFile.rawValue)
        #expect(failed.failure?.message.contains("not a media file") == true)
        #expect(failed.attempts == 1)
        try await Task.sleep(for: .milliseconds(300))
        #expect(harness.converter.started == 1)
        #expect(try await harness.jobs.takeDeadLetters(limit: 10).isEmpty)
        #expect(harness.outputFiles.isEmpty)
        let outcome = try await Inbox(try await harness.outcomes.subscribe(prefetch: 5)).takeOne()
        #expect(outcome.message.job.status == .failed)
        try await services.stop()
        #expect(await harness.queueIsSettled)
    }

    @Test("a transient storage failure is retried with backoff and then succeeds")
    func transientFailureRetried() async throws {
        var flaky: FlakyObjectStore?
        let harness = try WorkerHarness { store in
            let wrapped = FlakyObjectStore(store, failures: 2)
            flaky = wrapped
            return wrapped
        }
        let services = RunningServices([harness.worker(maxAttempts: 3)])
        let job = try await harness.submit(.h264AACMP4)
        let done = try await harness.wait(for: job.id, .succeeded)
        #expect(done.attempts == 3)
        #expect(flaky?.failuresLeft == 0)
        #expect(harness.converter.started == 1)
        #expect(harness.outputFiles.count == 1)
        try await services.stop()
        #expect(try await harness.jobs.takeDeadLetters(limit: 10).isEmpty)
    }

    @Test("a transient failure that outlasts the attempts fails the job and dead-letters its message")
    func transientFailureExhausted() async throws {
        let harness = try WorkerHarness { FlakyObjectStore($0, failures: 100) }
        let services = RunningServices([harness.worker(maxAttempts: 2)])
        let job = try await harness.submit(.h264AACMP4)
        let failed = try await harness.wait(for: job.id, .failed)
        #expect(failed.failure?.code == "gave_up")
        // The client reads where it failed, not the backend's own message (hosts, paths): that
        // goes with the dead letter, for operators.
        #expect(failed.failure?.message == "gave up after 2 attempts; the last one failed: the service's storage was unavailable")
        #expect(failed.attempts == 2)
        var dead: [DeadLetter<JobMessage>] = []
        try await eventually("the dead letter") {
            dead += try await harness.jobs.takeDeadLetters(limit: 10)
            return !dead.isEmpty
        }
        #expect(dead.count == 1 && dead[0].message.jobID == job.id && dead[0].reason.contains("storage is down"))
        #expect(harness.converter.started == 0)
        try await services.stop()
    }

    @Test("a worker stopped mid-job returns it to the queue, and another worker finishes it with one output")
    func stoppedMidJob() async throws {
        let harness = try WorkerHarness()
        // The first worker's conversion waits for the stop, whatever the machine's speed.
        harness.converter.hold(true)
        let first = RunningServices([harness.worker("first", grace: .zero)])
        let job = try await harness.submit(.longAudio)
        try await eventually("the first worker to be converting") {
            (try await harness.store.get(job.id)?.progress ?? 0) > 0.05
        }
        try await first.stop()
        harness.converter.hold(false)
        let released = try #require(try await harness.store.get(job.id))
        // Stopped by the shutdown, not by the job: the attempt is not counted against it.
        #expect(released.status == .queued && released.lease == nil && released.attempts == 0)
        #expect(harness.converter.cancelled == 1)
        #expect(await harness.jobs.readyCount == 1)
        #expect(harness.outputFiles.isEmpty)

        let second = RunningServices([harness.worker("second")])
        let done = try await harness.wait(for: job.id, .succeeded)
        #expect(done.attempts == 1)
        #expect(harness.outputFiles == ["\(job.id).mp3.o"])
        try await second.stop()
        #expect(await harness.queueIsSettled)
    }

    @Test("a worker that dies holding a job: another takes it over once the lease expires")
    func crashedWorker() async throws {
        let harness = try WorkerHarness()
        let job = try await harness.submit(.h264AACMP4)
        // The dead worker: takes the message, claims the job, and is gone without settling either.
        let crashed = try await harness.jobs.subscribe(prefetch: 1)
        let delivery = try await Inbox(crashed).takeOne()
        #expect(delivery.message.jobID == job.id)
        guard case .claimed = try await harness.store.claim(job.id, holder: "crashed", leaseDuration: .seconds(1)) else {
            Issue.record("the crashed worker could not claim the job")
            return
        }
        await crashed.close()  // the broker notices the dead connection and redelivers

        let services = RunningServices([harness.worker("survivor")])
        let done = try await harness.wait(for: job.id, .succeeded)
        #expect(done.attempts == 2 && done.lease == nil)
        #expect(harness.converter.started == 1)
        #expect(harness.outputFiles.count == 1)
        try await services.stop()
    }

    @Test("a job whose every allowed attempt died unsettled ends failed (gave_up) without running again; it is dead-lettered, its source deleted, the next job converts")
    func poisonJob() async throws {
        let harness = try WorkerHarness()
        let poison = try await harness.submit(.h264AACMP4)
        // Three workers (the limit) that die holding the job: each claim counts an attempt.
        for attempt in 1...3 {
            let dying = try await harness.jobs.subscribe(prefetch: 1)
            _ = try await Inbox(dying).takeOne()
            guard case .claimed(let claimed) = try await harness.store.claim(poison.id, holder: "dead-\(attempt)", leaseDuration: .milliseconds(1)) else {
                Issue.record("attempt \(attempt) could not claim the job")
                return
            }
            #expect(claimed.attempts == attempt)
            await dying.close()
            try await Task.sleep(for: .milliseconds(5))
        }
        let services = RunningServices([harness.worker("survivor", maxAttempts: 3)])
        let failed = try await harness.wait(for: poison.id, .failed)
        #expect(failed.failure?.code == "gave_up" && failed.attempts == 3, "\(String(describing: failed.failure))")
        #expect(harness.converter.started == 0)
        try await eventually("the dead letter") { try await harness.jobs.takeDeadLetters(limit: 1).count == 1 }
        #expect(try await harness.storage.exists(poison.source) == false)

        let next = try await harness.submit(.h264AACMP4)
        let done = try await harness.wait(for: next.id, .succeeded)
        #expect(done.attempts == 1)
        // The worker deletes the source just after it marks the job succeeded.
        try await eventually("the finished job's source is deleted") { try await harness.storage.exists(next.source) == false }
        try await services.stop()
    }

    @Test("a worker starting up removes the work folders of runs that died, and leaves those still locked")
    func sweepsDeadRuns() async throws {
        let parent = try makeScratchDirectory()
        let live = try JobWorkDirectory(for: JobID(), in: parent)
        let dead = parent.appendingPathComponent("\(JobWorkDirectory.prefix)dead")
        try FileManager.default.createDirectory(at: dead, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dead.appendingPathComponent(".lock").path, contents: nil)
        _ = FileManager.default.createFile(atPath: dead.appendingPathComponent("output.mp3").path, contents: Data(count: 1000))
        let unrelated = parent.appendingPathComponent("something-else")
        try FileManager.default.createDirectory(at: unrelated, withIntermediateDirectories: true)

        #expect(JobWorkDirectory.sweep(parent) == ["\(JobWorkDirectory.prefix)dead"])
        #expect(Set(directoryContents(parent)) == [live.url.lastPathComponent, "something-else"])
        live.remove()
        #expect(directoryContents(parent) == ["something-else"])
    }

    @Test("a cancellation reaches the running conversion as the job's event, long before the next lease renewal")
    func cancellationIsPushed() async throws {
        let harness = try WorkerHarness()
        harness.converter.hold(true)
        // A renewal a minute away: only the job's event can stop the conversion sooner.
        let services = RunningServices([harness.worker(leaseRenewalInterval: .seconds(60))])
        let job = try await harness.submit(.longAudio)
        try await eventually("the conversion to be under way") {
            (try await harness.store.get(job.id)?.progress ?? 0) > 0.05
        }
        let clock = ContinuousClock()
        let cancelledAt = clock.now
        _ = try await harness.service.cancelOrDelete(job.id, owner: "alice")
        try await eventually("the conversion to stop", timeout: .seconds(50)) { harness.converter.cancelled == 1 }
        // Within a second on an idle machine; the bound only has to be well short of the minute.
        #expect(clock.now - cancelledAt < .seconds(50))
        try await services.stop()
    }

    @Test("a job cancelled while running stops converting and leaves no output")
    func cancelledWhileRunning() async throws {
        let harness = try WorkerHarness()
        // The conversion waits for the cancellation, whatever the machine's speed (the real
        // converter's own cancellation: ConversionFailureTests, SegmentedEncodingTests).
        harness.converter.hold(true)
        let services = RunningServices([harness.worker()])
        let job = try await harness.submit(.longAudio)
        try await eventually("the conversion to be under way") {
            (try await harness.store.get(job.id)?.progress ?? 0) > 0.05
        }
        let cancelled = try await harness.service.cancelOrDelete(job.id, owner: "alice")
        #expect(cancelled?.status == .cancelled)
        try await eventually("the conversion to stop") { harness.converter.cancelled == 1 }
        try await eventually("the message to be settled") {
            await harness.queueIsSettled
        }
        let final = try #require(try await harness.store.get(job.id))
        #expect(final.status == .cancelled && final.output == nil)
        #expect(harness.outputFiles.isEmpty)
        #expect(try await !harness.storage.exists(job.outputKey))
        try await services.stop()
    }

    @Test("a message for a job that has succeeded already is acknowledged without converting again")
    func duplicateMessage() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker()])
        let job = try await harness.submit(.h264AACMP4)
        try await harness.wait(for: job.id, .succeeded)
        try await harness.jobs.publish(JobMessage(jobID: job.id))
        try await eventually("the duplicate to be settled") {
            await harness.queueIsSettled
        }
        #expect(harness.converter.started == 1)
        try await services.stop()
    }

    @Test("a duplicate message for a job that runs elsewhere under a live lease is settled at once, not slept on for the lease; the job still converts once")
    func duplicateWhileRunning() async throws {
        let harness = try WorkerHarness()
        harness.converter.hold(true)
        // A lease of a minute: sleeping out the duplicate would hold its slot that long.
        let services = RunningServices([harness.worker(leaseRenewalInterval: .seconds(15))])
        let job = try await harness.submit(.longAudio)
        try await eventually("the conversion to be under way") {
            (try await harness.store.get(job.id)?.progress ?? 0) > 0.05
        }
        try await harness.jobs.publish(JobMessage(jobID: job.id))
        try await eventually("the duplicate to be settled while the job runs", timeout: .seconds(20)) {
            let ready = await harness.jobs.readyCount, unsettled = await harness.jobs.unsettledCount
            return ready == 0 && unsettled == 1
        }
        #expect(try await harness.store.get(job.id)?.status == .running)
        harness.converter.hold(false)
        let done = try await harness.wait(for: job.id, .succeeded)
        #expect(done.attempts == 1)
        #expect(harness.converter.started == 1)
        try await services.stop()
    }

    @Test("two workers share many jobs: each is converted exactly once, never more than the concurrency at a time")
    func twoWorkers() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker("a", concurrency: 2), harness.worker("b", concurrency: 1)])
        var jobs: [Job] = []
        for media in [TestMedia.h264AACMP4, .opusMKV, .vorbisWebM, .pcmMOV, .mono8k, .flac96k, .surround51, .tagged] {
            jobs.append(try await harness.submit(media))
        }
        for job in jobs { try await harness.wait(for: job.id, .succeeded) }
        #expect(harness.converter.started == jobs.count)
        #expect(harness.converter.mostAtOnce <= 3)
        #expect(harness.outputFiles.count == jobs.count)
        try await services.stop()
    }

    @Test("a worker runs no more jobs at once than its concurrency")
    func concurrencyBound() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker(concurrency: 1)])
        var jobs: [Job] = []
        for _ in 0..<3 { jobs.append(try await harness.submit(.h264AACMP4)) }
        for job in jobs { try await harness.wait(for: job.id, .succeeded) }
        #expect(harness.converter.mostAtOnce == 1)
        try await services.stop()
    }
}

/// The job service: submission, idempotency, ownership.
@Suite struct JobServiceTests {
    @Test("the same idempotency key from the same user returns the same job, stored and converted once")
    func idempotency() async throws {
        let harness = try WorkerHarness()
        let first = try await harness.submit(.h264AACMP4, key: "upload-1")
        let again = try await harness.submit(.h264AACMP4, key: "upload-1")
        #expect(again.id == first.id)
        let other = try await harness.submit(.h264AACMP4, owner: "bob", key: "upload-1")
        #expect(other.id != first.id)
        let sources = try FileManager.default.contentsOfDirectory(atPath: harness.directory.appendingPathComponent("store/objects/sources.d").path)
        #expect(sources.count == 2)
        #expect(await harness.jobs.readyCount == 2)
    }

    @Test("another user's job is not found: get, cancel, download, watch")
    func ownership() async throws {
        let harness = try WorkerHarness()
        let job = try await harness.submit(.h264AACMP4, owner: "alice")
        for attempt in [
            { _ = try await harness.service.job(job.id, owner: "mallory") },
            { _ = try await harness.service.cancelOrDelete(job.id, owner: "mallory") },
            { _ = try await harness.service.download(job.id, owner: "mallory") },
            { _ = try await harness.service.watch(job.id, owner: "mallory") },
        ] as [() async throws -> Void] {
            await #expect { try await attempt() } throws: { ($0 as? JobStoreError)?.code == .notFound }
        }
        #expect(try await harness.store.get(job.id)?.status == .queued)
        #expect(try await harness.service.jobs(owner: "mallory").jobs.isEmpty)
        #expect(try await harness.service.jobs(owner: "alice").jobs.map(\.id) == [job.id])
    }

    @Test("bad options are refused before anything is stored")
    func badOptions() async throws {
        let harness = try WorkerHarness()
        await #expect { _ = try await harness.submit(.h264AACMP4, options: ConversionOptions(encoding: .constantBitRate(kbps: 8))) } throws: {
            ($0 as? ConversionError)?.code == .invalidOption
        }
        #expect(await harness.jobs.readyCount == 0)
        #expect(try await harness.service.jobs(owner: "alice").jobs.isEmpty)
    }

    @Test("a job whose message cannot be published is recorded as failed, and the caller is told")
    func publishFailure() async throws {
        let directory = try makeScratchDirectory()
        let store = InMemoryJobStore()
        let service = JobService(storage: try FileObjectStore(root: directory), queue: BrokenQueue(), store: store)
        await #expect { _ = try await service.submit(.init(owner: "alice"), sourceFile: try await TestMedia.h264AACMP4.url) } throws: {
            ($0 as? QueueError)?.code == .unavailable
        }
        let jobs = try await service.jobs(owner: "alice").jobs
        #expect(jobs.count == 1 && jobs[0].status == .failed && jobs[0].failure?.code == "not_queued")
    }

    @Test("a finished job is deleted with its source and output")
    func deleteFinished() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker()])
        let job = try await harness.submit(.h264AACMP4)
        try await harness.wait(for: job.id, .succeeded)
        let (_, download) = try await harness.service.download(job.id, owner: "alice")
        #expect(download.info.contentType == "audio/mpeg")
        #expect(try await harness.service.cancelOrDelete(job.id, owner: "alice") == nil)
        #expect(try await harness.store.get(job.id) == nil)
        #expect(try await !harness.storage.exists(job.source))
        #expect(try await !harness.storage.exists(job.outputKey))
        try await services.stop()
    }
}

/// A queue whose broker is down.
struct BrokenQueue: MessageQueue {
    func publish(_ message: JobMessage) async throws {
        throw QueueError(code: .unavailable, message: "injected: the broker is down")
    }

    func subscribe(prefetch: Int) async throws -> QueueSubscription<JobMessage> {
        throw QueueError(code: .unavailable, message: "injected: the broker is down")
    }

    func takeDeadLetters(limit: Int) async throws -> [DeadLetter<JobMessage>] { [] }
}
