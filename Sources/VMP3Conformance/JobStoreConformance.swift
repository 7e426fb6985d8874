import Foundation
import VMP3Core

/// The `JobStore` contract, including the lifecycle built on it. Each check gets a new store
/// (or one where the jobs it makes cannot collide with others: every job has a fresh id and owner).
public enum JobStoreConformance {
    public typealias Check = ConformanceCheck<any JobStore>

    static func newJob(owner: UserID = UserID(rawValue: "user-\(UUID())"), createdAt: Date = Date()) -> Job {
        let id = JobID()
        return Job(id: id, owner: owner, source: Job.sourceKey(for: id), sourceName: "clip.mp4", sourceSize: 1234,
                   options: ConversionOptions(encoding: .constantBitRate(kbps: 128), tags: AudioTags(title: "Tïtle")),
                   webhookURL: URL(string: "http://127.0.0.1:9/hook"), createdAt: createdAt)
    }

    static let output = JobOutput(key: "outputs/x.mp3", result: ConversionResult(
        output: URL(fileURLWithPath: "/tmp/x.mp3"), duration: 3, byteCount: 1000, sampleRate: 44_100, channels: .stereo,
        encoding: .variableBitRate(quality: 2), tags: AudioTags(), sourceStreamIndex: 1, sourceCodec: "aac", elapsed: 0.1
    ))

    public static let checks: [Check] = [
        Check("a created job reads back the same, queued at version 1") { store in
            let job = newJob()
            let creation = try await store.create(job, idempotencyKey: nil)
            try require(creation.created && creation.job.version == 1 && creation.job.status == .queued, "created: \(creation)")
            let read = try await store.get(job.id)
            try require(read == creation.job, "read back: \(String(describing: read))")
            try require(try await store.get(JobID()) == nil, "a missing job is not nil")
        },

        Check("a job id cannot be created twice") { store in
            let job = newJob()
            try await store.create(job, idempotencyKey: nil)
            try await requireError(JobStoreError.self, "second create", matching: { $0.code == .duplicate }) {
                _ = try await store.create(job, idempotencyKey: nil)
            }
        },

        Check("an idempotency key returns the first job for the same owner only") { store in
            let owner = UserID(rawValue: "user-\(UUID())")
            let first = try await store.create(newJob(owner: owner), idempotencyKey: "key-1")
            let again = try await store.create(newJob(owner: owner), idempotencyKey: "key-1")
            try require(!again.created && again.job.id == first.job.id, "same key, same owner made \(again)")
            try require(try await store.job(forIdempotencyKey: "key-1", owner: owner)?.id == first.job.id, "lookup by key failed")
            let other = try await store.create(newJob(), idempotencyKey: "key-1")
            try require(other.created && other.job.id != first.job.id, "another owner's key collided")
            let otherKey = try await store.create(newJob(owner: owner), idempotencyKey: "key-2")
            try require(otherKey.created, "another key of the same owner was refused")
            try require(try await store.job(forIdempotencyKey: "unknown", owner: owner) == nil, "unknown key found a job")
        },

        Check("an active-jobs limit is a reservation: of creates racing for the last places, exactly those places are filled; an ended job frees one") { store in
            let owner = UserID(rawValue: "user-\(UUID())")
            // One running, one queued: two of the four places taken before the race.
            let running = try await store.create(newJob(owner: owner), idempotencyKey: "first", activeLimit: 4).job
            _ = try await store.claim(running.id, holder: "w", leaseDuration: .seconds(60))
            let ended = try await store.create(newJob(owner: owner), idempotencyKey: nil, activeLimit: 4).job
            _ = try await store.cancel(ended.id)
            _ = try await store.create(newJob(owner: owner), idempotencyKey: nil, activeLimit: 4)
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        do {
                            return try await store.create(newJob(owner: owner), idempotencyKey: nil, activeLimit: 4).created
                        } catch let error as JobStoreError where error.code == .activeLimitReached {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try require(outcomes.filter { $0 }.count == 2, "\(outcomes.filter { $0 }.count) of 16 racing creates got the 2 free places")
            // Another owner is not counted; no limit means none.
            try require(try await store.create(newJob(), idempotencyKey: nil, activeLimit: 1).created, "another owner was refused")
            try require(try await store.create(newJob(owner: owner), idempotencyKey: nil).created, "a create without a limit was refused")
            // At the limit, a matching idempotency key still returns the first job.
            let again = try await store.create(newJob(owner: owner), idempotencyKey: "first", activeLimit: 4)
            try require(!again.created && again.job.id == running.id, "the key at the limit: \(again)")
            // Ending one frees one place, and only one.
            _ = try await store.succeed(running.id, holder: "w", output: output)
            let page = try await store.list(owner: owner, limit: 100, cursor: nil).jobs
            let active = page.filter { !$0.status.isFinal }.count
            try require(active == 4, "\(active) jobs active after one ended")
            try await requireError(JobStoreError.self, "a create at the limit", matching: { $0.code == .activeLimitReached }) {
                _ = try await store.create(newJob(owner: owner), idempotencyKey: nil, activeLimit: 4)
            }
            try require(try await store.create(newJob(owner: owner), idempotencyKey: nil, activeLimit: 5).created, "a place under a higher limit was refused")
            // A deleted active job frees its place too.
            guard let queued = page.first(where: { $0.status == .queued }) else { throw ConformanceFailure(description: "no queued job") }
            try await store.delete(queued.id)
            try require(try await store.create(newJob(owner: owner), idempotencyKey: nil, activeLimit: 5).created, "the deleted job's place was not freed")
        },

        Check("compare-and-set refuses a stale version") { store in
            let stored = try await store.create(newJob(), idempotencyKey: nil).job
            var renamed = stored
            renamed.sourceName = "first.mp4"
            let winner = try await store.replace(stored, with: renamed)
            try require(winner.version == 2 && winner.sourceName == "first.mp4", "winner: \(winner)")
            var late = stored
            late.sourceName = "second.mp4"
            try await requireError(JobStoreError.self, "a write from version 1", matching: { $0.code == .conflict }) {
                try await store.replace(stored, with: late)
            }
            try require(try await store.get(stored.id)?.sourceName == "first.mp4", "the stale write landed")
        },

        Check("of many workers claiming one job at once, exactly one gets it") { store in
            let job = try await store.create(newJob(), idempotencyKey: nil).job
            let claims = try await withThrowingTaskGroup(of: JobClaim.self) { group in
                for worker in 0..<12 {
                    group.addTask { try await store.claim(job.id, holder: "worker-\(worker)", leaseDuration: .seconds(60)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = claims.compactMap { if case .claimed(let job) = $0 { job } else { nil } }
            try require(winners.count == 1, "\(winners.count) workers claimed the job")
            try require(claims.allSatisfy { if case .heldElsewhere = $0 { true } else if case .claimed = $0 { true } else { false } }, "claims: \(claims)")
            let stored = try await store.get(job.id)
            try require(stored?.status == .running && stored?.attempts == 1 && stored?.lease?.holder == winners[0].lease?.holder, "stored: \(String(describing: stored))")
        },

        Check("transitions the status diagram forbids are refused") { store in
            let forbidden: [(JobStatus, JobStatus)] = [
                (.queued, .succeeded), (.succeeded, .running), (.succeeded, .queued), (.failed, .queued),
                (.failed, .running), (.cancelled, .running), (.cancelled, .queued), (.succeeded, .cancelled),
            ]
            for (from, to) in forbidden {
                var job = try await store.create(newJob(), idempotencyKey: nil).job
                if from != .queued {
                    // Reach `from` by allowed steps.
                    var running = job
                    running.status = .running
                    job = try await store.replace(job, with: running)
                    if from != .running {
                        var final = job
                        final.status = from
                        job = try await store.replace(job, with: final)
                    }
                }
                var next = job
                next.status = to
                try await requireError(JobStoreError.self, "\(from) → \(to)", matching: { $0.code == .invalidTransition }) {
                    try await store.replace(job, with: next)
                }
                try require(try await store.get(job.id)?.status == from, "\(from) → \(to) changed the job")
            }
            let job = try await store.create(newJob(), idempotencyKey: nil).job
            var stolen = job
            stolen.owner = "someone-else"
            try await requireError(JobStoreError.self, "changing the owner", matching: { $0.code == .invalidTransition }) {
                try await store.replace(job, with: stolen)
            }
        },

        Check("a job's life: claim, progress, succeed, with events in order") { store in
            let job = try await store.create(newJob(), idempotencyKey: nil).job
            let events = Inbox(try await store.events(for: job.id))
            guard case .claimed = try await store.claim(job.id, holder: "w1", leaseDuration: .seconds(3600)) else {
                throw ConformanceFailure(description: "claim failed")
            }
            try await store.recordProgress(job.id, holder: "w1", fraction: 0.25)
            try await store.recordProgress(job.id, holder: "w1", fraction: 0.5)
            let done = try await store.succeed(job.id, holder: "w1", output: output)
            try require(done.status == .succeeded && done.progress == 1 && done.output == output && done.lease == nil, "done: \(done)")
            let seen = try await events.take(4)
            try require(seen.map(\.kind) == [.status, .progress, .progress, .status], "event kinds: \(seen.map(\.kind))")
            try require(seen.map(\.job.status) == [.running, .running, .running, .succeeded], "statuses: \(seen.map(\.job.status))")
            try require(seen[1].job.progress == 0.25 && seen[2].job.progress == 0.5, "progress events")
            try require(seen.map(\.job.version) == seen.map(\.job.version).sorted(), "events out of order")
            guard case .finished = try await store.claim(job.id, holder: "w2", leaseDuration: .seconds(3600)) else {
                throw ConformanceFailure(description: "a finished job was claimed again")
            }
        },

        Check("cancel stops a queued or running job; the worker then loses it; an ended job cannot be cancelled") { store in
            let queued = try await store.create(newJob(), idempotencyKey: nil).job
            try require(try await store.cancel(queued.id).status == .cancelled, "a queued job was not cancelled")

            let running = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(running.id, holder: "w1", leaseDuration: .seconds(3600))
            try require(try await store.cancel(running.id).status == .cancelled, "a running job was not cancelled")
            try await requireError(JobStoreError.self, "progress after cancel", matching: { $0.code == .leaseLost }) {
                try await store.recordProgress(running.id, holder: "w1", fraction: 0.9)
            }
            try await requireError(JobStoreError.self, "succeed after cancel", matching: { $0.code == .leaseLost }) {
                try await store.succeed(running.id, holder: "w1", output: output)
            }
            try await requireError(JobStoreError.self, "cancel after cancel", matching: { $0.code == .invalidTransition }) {
                try await store.cancel(running.id)
            }
        },

        Check("another worker takes a job over only once its lease has expired") { store in
            // A live lease (long enough that no machine is slow enough to outlast it here).
            let held = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(held.id, holder: "alive", leaseDuration: .seconds(3600))
            guard case .heldElsewhere(_, let until) = try await store.claim(held.id, holder: "w2", leaseDuration: .seconds(3600)) else {
                throw ConformanceFailure(description: "a live lease was taken over")
            }
            try require(until > Date(), "held until \(until), in the past")

            // An expired lease.
            let job = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(job.id, holder: "crashed", leaseDuration: .milliseconds(200))
            try await Task.sleep(for: .milliseconds(700))
            guard case .claimed(let taken) = try await store.claim(job.id, holder: "w2", leaseDuration: .seconds(3600)) else {
                throw ConformanceFailure(description: "an expired lease was not taken over")
            }
            try require(taken.lease?.holder == "w2" && taken.attempts == 2, "taken over: \(taken)")
            try await requireError(JobStoreError.self, "the first worker finishing", matching: { $0.code == .leaseLost }) {
                try await store.succeed(job.id, holder: "crashed", output: output)
            }
        },

        Check("renewing a lease keeps the job; releasing it makes it claimable again") { store in
            // Live leases last an hour here: on a starved test run a 400 ms sleep has taken over 30 s.
            let job = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(job.id, holder: "w1", leaseDuration: .milliseconds(500))
            try await Task.sleep(for: .milliseconds(300))
            try await store.renewLease(job.id, holder: "w1", leaseDuration: .seconds(3600))
            try await Task.sleep(for: .milliseconds(400))
            guard case .heldElsewhere = try await store.claim(job.id, holder: "w2", leaseDuration: .seconds(3600)) else {
                throw ConformanceFailure(description: "a renewed lease was taken over")
            }
            let released = try await store.release(job.id, holder: "w1")
            try require(released.status == .queued && released.lease == nil, "released: \(released)")
            guard case .claimed = try await store.claim(job.id, holder: "w2", leaseDuration: .seconds(3600)) else {
                throw ConformanceFailure(description: "a released job could not be claimed")
            }
        },

        Check("failure is recorded with its reason; a queued job that cannot be enqueued fails directly") { store in
            let job = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(job.id, holder: "w1", leaseDuration: .seconds(3600))
            let failed = try await store.fail(job.id, holder: "w1", failure: JobFailure(code: "not_media_file", message: "text"))
            try require(failed.status == .failed && failed.failure?.code == "not_media_file", "failed: \(failed)")
            let unqueued = try await store.create(newJob(), idempotencyKey: nil).job
            try require(try await store.failQueued(unqueued.id, failure: JobFailure(code: "not_queued", message: "x")).status == .failed, "failQueued")
        },

        Check("an owner's jobs list newest first, page by page, and no one else's") { store in
            let owner = UserID(rawValue: "user-\(UUID())")
            let base = Date(timeIntervalSince1970: 1_700_000_000)
            var created: [Job] = []
            for index in 0..<7 {
                created.append(try await store.create(newJob(owner: owner, createdAt: base.addingTimeInterval(Double(index))), idempotencyKey: nil).job)
            }
            try await store.create(newJob(), idempotencyKey: nil)
            var listed: [Job] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await store.list(owner: owner, limit: 3, cursor: cursor)
                try require(page.jobs.count <= 3, "a page of \(page.jobs.count)")
                listed += page.jobs
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            try require(pages == 3, "\(pages) pages")
            try require(listed.map(\.id) == created.reversed().map(\.id), "listing: \(listed.map(\.createdAt))")
            try require(try await store.list(owner: UserID(rawValue: "nobody-\(UUID())"), limit: 10, cursor: nil).jobs.isEmpty, "a stranger sees jobs")
        },

        Check("deleting a job removes it") { store in
            let owner = UserID(rawValue: "user-\(UUID())")
            let job = try await store.create(newJob(owner: owner), idempotencyKey: "delete-me").job
            try await store.delete(job.id)
            try require(try await store.get(job.id) == nil, "the job is still there")
            try require(try await store.job(forIdempotencyKey: "delete-me", owner: owner) == nil, "its idempotency key still points at it")
        },

        Check("jobs by status and last change: those in the statuses asked for, changed before the time, least recently changed first") { store in
            let old = try await store.create(newJob(), idempotencyKey: nil).job
            let cancelled = try await store.cancel(try await store.create(newJob(), idempotencyKey: nil).job.id)
            let older = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(older.id, holder: "w", leaseDuration: .seconds(3600))
            let cutoff = Date()
            try await Task.sleep(for: .milliseconds(20))
            let recent = try await store.create(newJob(), idempotencyKey: nil).job
            let mine: Set = [old.id, cancelled.id, older.id, recent.id]
            // The store may hold other checks' jobs: look at this check's only.
            func found(_ statuses: Set<JobStatus>, before: Date) async throws -> [JobID] {
                try await store.jobs(withStatus: statuses, updatedBefore: before, limit: 10_000).map(\.id).filter(mine.contains)
            }
            let queuedBefore = try await found([.queued], before: cutoff)
            try require(queuedBefore == [old.id], "queued before the cutoff: \(queuedBefore)")
            try require(try await found([.queued, .running, .cancelled], before: cutoff) == [old.id, cancelled.id, older.id], "oldest change first")
            try require(try await found([.queued], before: Date().addingTimeInterval(1)) == [old.id, recent.id], "the recent one")
            try require(try await found([.succeeded, .failed], before: Date().addingTimeInterval(1)).isEmpty, "a status no job has")
            try await store.delete(old.id)
            try require(try await found([.queued], before: cutoff).isEmpty, "a deleted job is still listed")
            let firstOnly = try await store.jobs(withStatus: [.queued, .running, .cancelled], updatedBefore: cutoff, limit: 1)
            try require(firstOnly.count == 1, "the limit")
        },

        Check("an owner's usage is the running total of its jobs through every change: created, claimed, succeeded with an MP3, failed, cancelled, released, deleted; racing creates counted once each") { store in
            let owner = UserID(rawValue: "usage-\(UUID().uuidString)")
            func expectTotal(_ what: String) async throws {
                let total = try await store.usage(of: owner)
                let counted = try await store.scannedUsage(of: owner)
                try require(total == counted, "\(what): the running total is \(total), the jobs hold \(counted)")
            }
            func expectUsage(_ expected: JobUsage, _ what: String) async throws {
                let total = try await store.usage(of: owner)
                try require(total == expected, "\(what): \(total), not \(expected)")
            }
            try require(try await store.usage(of: owner) == JobUsage(), "an owner with no jobs holds nothing")
            var sized = newJob(owner: owner)
            sized.sourceSize = 5_000
            let big = try await store.create(sized, idempotencyKey: nil).job
            let succeeding = try await store.create(newJob(owner: owner), idempotencyKey: nil).job
            let failing = try await store.create(newJob(owner: owner), idempotencyKey: nil).job
            let cancelled = try await store.create(newJob(owner: owner), idempotencyKey: nil).job
            try await expectUsage(JobUsage(activeJobs: 4, bytesHeld: 5_000 + 3 * 1234), "four queued jobs")
            try await expectTotal("created")
            _ = try await store.claim(succeeding.id, holder: "w", leaseDuration: .seconds(60))
            _ = try await store.recordProgress(succeeding.id, holder: "w", fraction: 0.5)
            try await expectTotal("claimed")
            _ = try await store.succeed(succeeding.id, holder: "w", output: output)
            try await expectTotal("succeeded")
            _ = try await store.claim(failing.id, holder: "w", leaseDuration: .seconds(60))
            _ = try await store.release(failing.id, holder: "w")
            try await expectTotal("released")
            _ = try await store.claim(failing.id, holder: "w", leaseDuration: .seconds(60))
            _ = try await store.fail(failing.id, holder: "w", failure: JobFailure(code: "not_media_file", message: "text"))
            try await store.cancel(cancelled.id)
            // One active job (5,000 bytes of upload) and one MP3 (the output's 1,000 bytes).
            try await expectUsage(JobUsage(activeJobs: 1, bytesHeld: 5_000 + 1_000), "after the changes")
            try await store.delete(succeeding.id)
            try await store.delete(big.id)
            try await store.delete(JobID())
            try await expectUsage(JobUsage(), "all ended or deleted")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<12 { group.addTask { try await store.create(newJob(owner: owner), idempotencyKey: nil) } }
                try await group.waitForAll()
            }
            try await expectUsage(JobUsage(activeJobs: 12, bytesHeld: 12 * 1234), "twelve racing creates")
            try await expectTotal("racing creates")
            try require(try await store.usage(of: UserID(rawValue: "usage-\(UUID().uuidString)")) == JobUsage(), "another owner holds nothing")
        },

        Check("the jobs awaiting their message are the queued ones not marked published (a released job is unmarked), least recently changed first: marked, running, ended and deleted jobs are not among them") { store in
            let waiting = try await store.create(newJob(), idempotencyKey: nil).job
            let marked = try await store.update(try await store.create(newJob(), idempotencyKey: nil).job.id) { $0.messagePublished = true }
            let running = try await store.create(newJob(), idempotencyKey: nil).job
            _ = try await store.claim(running.id, holder: "w", leaseDuration: .seconds(60))
            let released = try await store.update(try await store.create(newJob(), idempotencyKey: nil).job.id) { $0.messagePublished = true }
            _ = try await store.claim(released.id, holder: "w", leaseDuration: .seconds(60))
            _ = try await store.release(released.id, holder: "w")
            let cancelled = try await store.cancel(try await store.create(newJob(), idempotencyKey: nil).job.id)
            let deleted = try await store.create(newJob(), idempotencyKey: nil).job
            try await store.delete(deleted.id)
            let later = try await store.create(newJob(), idempotencyKey: nil).job
            let all = try await store.unpublishedJobs(updatedBefore: Date().addingTimeInterval(1), limit: 10_000)
            let found = all.map(\.id)
            try require(found.contains(waiting.id) && found.contains(later.id), "a queued job never marked is missing: \(found)")
            try require(found.contains(released.id), "a job released after being marked is missing (its message may be gone)")
            try require(found.firstIndex(of: waiting.id)! < found.firstIndex(of: later.id)!, "not least recently changed first")
            for (job, what) in [(marked, "marked"), (running, "running"), (cancelled, "cancelled"), (deleted, "deleted")] {
                try require(!found.contains(job.id), "a \(what) job is listed")
            }
            try require(all.allSatisfy(\.awaitsMessage), "a listed job does not await its message")
            try require(!(try await store.unpublishedJobs(updatedBefore: waiting.updatedAt, limit: 10_000).map(\.id).contains(waiting.id)), "a job changed at the cutoff is listed")
            try require(try await store.unpublishedJobs(updatedBefore: Date().addingTimeInterval(1), limit: 1).count == 1, "the limit")
            // Marking it takes it off the list.
            try await store.update(waiting.id) { $0.messagePublished = true }
            try require(!(try await store.unpublishedJobs(updatedBefore: Date().addingTimeInterval(1), limit: 10_000).map(\.id).contains(waiting.id)), "a job marked since is still listed")
        },

        Check("events of one job do not reach another job's watchers") { store in
            let one = try await store.create(newJob(), idempotencyKey: nil).job
            let two = try await store.create(newJob(), idempotencyKey: nil).job
            let inbox = Inbox(try await store.events(for: one.id))
            _ = try await store.claim(two.id, holder: "w", leaseDuration: .seconds(3600))
            try await store.cancel(two.id)
            try await inbox.expectNothing(for: .milliseconds(300), "events of another job")
            try await store.cancel(one.id)
            try require(try await inbox.takeOne().job.status == .cancelled, "the job's own event")
        },

        Check("webhook secret generations: 0 until rotated; each rotation the next, also when racing; per owner") { store in
            let owner = UserID(rawValue: "secret-\(UUID().uuidString)")
            let other = UserID(rawValue: "secret-\(UUID().uuidString)")
            try require(try await store.webhookSecretGeneration(of: owner) == 0, "a new owner is at generation 0")
            try require(try await store.rotateWebhookSecret(of: owner) == 1, "the first rotation is 1")
            try require(try await store.webhookSecretGeneration(of: owner) == 1, "the generation is kept")
            let racing = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await store.rotateWebhookSecret(of: owner) } }
                return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
            }
            try require(racing == Set(2...9), "eight racing rotations got \(racing.sorted())")
            try require(try await store.webhookSecretGeneration(of: owner) == 9, "after nine rotations")
            try require(try await store.webhookSecretGeneration(of: other) == 0, "another owner's secret is not moved")
        },
    ]
}
