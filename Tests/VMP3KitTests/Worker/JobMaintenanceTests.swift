import Foundation
import Testing
import VMP3Conformance
import VMP3TestSupport
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// The maintenance sweeps on embedded backends with real media.
@Suite struct JobMaintenanceTests {
    static func maintenance(_ harness: WorkerHarness, retention: Duration? = .seconds(3600)) -> JobMaintenance {
        JobMaintenance(
            storage: harness.storage, store: harness.store, queue: harness.jobs,
            configuration: .init(retention: retention, requeueAfter: .seconds(60), interval: .milliseconds(100))
        )
    }

    @Test("a job whose record was written but whose message never was (its creator died in between) is published again by the sweep and converted")
    func lostMessage() async throws {
        let harness = try WorkerHarness()
        // What a gateway leaves when it dies between the record and the message: source, record, no message.
        // The sweeps are given their times, never the clock's alone: on a loaded run, generating
        // the clip can take longer than `requeueAfter`. The record is two minutes old, so that a
        // sweep a minute after the touch below would find an untouched one.
        let id = JobID()
        let created = Date().addingTimeInterval(-120)
        let job = Job(id: id, owner: "alice", source: Job.sourceKey(for: id), sourceName: "clip.mp4", createdAt: created)
        _ = try await harness.storage.put(job.source, fromFile: try await TestMedia.h264AACMP4.url, contentType: "video/mp4")
        try await harness.store.create(job, idempotencyKey: nil)
        let sweeps = Self.maintenance(harness)

        // Young jobs are left alone: their message may simply be waiting in the queue.
        #expect(try await sweeps.sweep(now: created.addingTimeInterval(59)).republished.isEmpty)
        #expect(await harness.jobs.readyCount == 0)

        let beforeTouch = Date()
        #expect(try await sweeps.sweep(now: created.addingTimeInterval(61)).republished == [id])
        #expect(await harness.jobs.readyCount == 1)
        // Touched (at `beforeTouch` or later): a sweep before another `requeueAfter` has passed
        // does not publish it a second time, though the record's creation is long enough ago.
        #expect(try await sweeps.sweep(now: beforeTouch.addingTimeInterval(59)).republished.isEmpty)
        #expect(await harness.jobs.readyCount == 1)

        let services = RunningServices([harness.worker()])
        let done = try await harness.wait(for: id, .succeeded)
        #expect(done.attempts == 1)
        try await services.stop()
    }

    @Test("a job waiting in a backlog long past requeueAfter has its message in the queue and is not published again, however often the sweep runs; where the queue forgets messages on restart (republishWaitingJobs), it is")
    func waitingJobIsLeftAlone() async throws {
        let harness = try WorkerHarness()
        let waiting = try await harness.submit(.h264AACMP4)
        #expect(try await harness.store.get(waiting.id)?.messagePublished == true)
        #expect(await harness.jobs.readyCount == 1)
        let sweeps = Self.maintenance(harness)
        for minutes in [2.0, 30, 600] {
            #expect(try await sweeps.sweep(now: Date().addingTimeInterval(minutes * 60)).republished.isEmpty)
        }
        #expect(await harness.jobs.readyCount == 1)

        let forgetful = JobMaintenance(
            storage: harness.storage, store: harness.store, queue: harness.jobs,
            configuration: .init(retention: nil, requeueAfter: .seconds(60), republishWaitingJobs: true)
        )
        #expect(try await forgetful.sweep(now: Date().addingTimeInterval(61)).republished == [waiting.id])
        #expect(await harness.jobs.readyCount == 2)
    }

    @Test("a running job whose lease is live is not published again; one whose worker is gone is")
    func runningJobs() async throws {
        let harness = try WorkerHarness()
        let live = try await harness.submit(.h264AACMP4)
        let dead = try await harness.submit(.h264AACMP4)
        _ = try await harness.store.claim(live.id, holder: "alive", leaseDuration: .seconds(3600))
        _ = try await harness.store.claim(dead.id, holder: "gone", leaseDuration: .milliseconds(1))
        try await Task.sleep(for: .milliseconds(5))
        let republished = try await Self.maintenance(harness).sweep(now: Date().addingTimeInterval(61)).republished
        #expect(republished == [dead.id])
    }

    @Test("ended jobs past their retention are deleted with their MP3; younger ones, and all with no retention, stay")
    func retention() async throws {
        let harness = try WorkerHarness()
        let services = RunningServices([harness.worker()])
        let succeeded = try await harness.submit(.h264AACMP4)
        try await harness.wait(for: succeeded.id, .succeeded)
        try await services.stop()
        let cancelled = try #require(try await harness.service.cancelOrDelete(try await harness.submit(.h264AACMP4).id, owner: "alice"))
        #expect(try await harness.storage.exists(cancelled.source) == false, "a cancelled job's upload is kept")
        #expect(harness.outputFiles == ["\(succeeded.id).mp3.o"])

        let sweeps = Self.maintenance(harness)
        #expect(try await sweeps.sweep().expired.isEmpty)
        #expect(try await Self.maintenance(harness, retention: nil).sweep(now: Date().addingTimeInterval(1e6)).expired.isEmpty)

        let expired = try await sweeps.sweep(now: Date().addingTimeInterval(3601)).expired
        #expect(Set(expired) == [succeeded.id, cancelled.id])
        #expect(try await harness.store.get(succeeded.id) == nil)
        #expect(harness.outputFiles.isEmpty)
        #expect(try await harness.store.list(owner: "alice", limit: 10, cursor: nil).jobs.isEmpty)
    }

    @Test("settings from the environment; a bad value names its variable")
    func environment() throws {
        let configuration = try JobMaintenance.Configuration(settings: Settings([
            "VMP3_RETENTION_DAYS": "0.5", "VMP3_REQUEUE_AFTER_SECONDS": "30", "VMP3_MAINTENANCE_INTERVAL_SECONDS": "0.5",
        ]))
        #expect(configuration.retention == .seconds(43_200))
        #expect(configuration.requeueAfter == .seconds(30))
        #expect(configuration.interval == .milliseconds(500))
        #expect(try JobMaintenance.Configuration(settings: Settings(["VMP3_RETENTION_DAYS": "0"])).retention == nil)
        #expect(try JobMaintenance.Configuration(settings: Settings([:])).retention == .seconds(7 * 86_400))
        // Waiting jobs are published again only where a restart loses their messages but keeps them.
        let pairs: [(queue: String?, store: String?, republish: Bool)] = [
            (nil, nil, false), (nil, "sqlite:///tmp/x.sqlite", true), ("memory:", "redis://127.0.0.1:6379/0", true),
            ("sqlite:///tmp/x.sqlite", "sqlite:///tmp/x.sqlite", false), ("amqp://u:p@127.0.0.1:5672/", "redis://127.0.0.1:6379/0", false),
        ]
        for pair in pairs {
            var environment: [String: String] = [:]
            environment["VMP3_QUEUE"] = pair.queue
            environment["VMP3_STORE"] = pair.store
            #expect(try JobMaintenance.Configuration(settings: Settings(environment)).republishWaitingJobs == pair.republish, "\(pair)")
        }
        for bad in ["-1", "nan", "1e300", "seven"] {
            #expect(throws: ConfigurationError.self) { try JobMaintenance.Configuration(settings: Settings(["VMP3_RETENTION_DAYS": bad])) }
        }
    }
}
