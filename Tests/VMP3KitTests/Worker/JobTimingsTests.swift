import Foundation
import Logging
import Synchronization
import Testing
import VMP3Conformance
import VMP3TestSupport
@testable import VMP3Core
import VMP3Kit

/// Where a job's time goes: the stage times in the gateway's and the worker's log lines.
@Suite struct JobTimingsTests {
    struct Failure: Error {}

    @Test("a stage is timed whether it returns or throws; a stage timed twice adds up; milliseconds to the hundredth")
    func stages() async throws {
        let timings = JobTimings()
        let value = await timings.time("wait") { () async -> Int in
            try? await Task.sleep(for: .milliseconds(30))
            return 7
        }
        #expect(value == 7)
        await #expect(throws: Failure.self) {
            try await timings.time("fail") { () async throws(Failure) in
                try? await Task.sleep(for: .milliseconds(20))
                throw Failure()
            }
        }
        timings.record("wait", .milliseconds(100))
        #expect(try #require(timings.duration(of: "wait")) >= .milliseconds(130))
        #expect(try #require(timings.duration(of: "fail")) >= .milliseconds(20))
        let metadata = timings.metadata
        #expect(Set(metadata.keys) == ["wait_ms", "fail_ms", "total_ms"])
        #expect(try #require(Double("\(metadata["wait_ms"]!)")) >= 130)
        #expect(JobTimings.milliseconds(.microseconds(1_234_567)) == "1234.56")
        #expect(JobTimings.milliseconds(.microseconds(5_000)) == "5.00")
    }

    @Test("a job's log lines carry its stage times: the upload, record and publish where it was submitted; the queue, claim, fetch, conversion, store and record where it was converted")
    func jobLogLines() async throws {
        let log = CapturedLog()
        let harness = try WorkerHarness()
        let service = JobService(storage: harness.storage, queue: harness.jobs, store: harness.store, outcomes: harness.outcomes, logger: log.logger("test.jobs"))
        let worker = ConversionWorker(
            converter: harness.converter, storage: harness.storage, queue: harness.jobs, store: harness.store, outcomes: harness.outcomes,
            configuration: WorkerHarness.configuration("timed"), logger: log.logger("test.worker")
        )
        let services = RunningServices([worker])
        let job = try await service.submit(JobService.Submission(owner: "alice"), sourceFile: try await TestMedia.tagged.url).job
        try await harness.wait(for: job.id, .succeeded)
        try await services.stop()

        let submitted = try #require(log.entries.first { $0.message == "job submitted" })
        #expect(submitted.metadata["job_id"] == "\(job.id)")
        for stage in ["upload", "record", "publish", "total"] {
            #expect(submitted.milliseconds(stage) != nil, "no \(stage)_ms in \(submitted.metadata)")
        }
        let succeeded = try #require(log.entries.first { $0.message == "succeeded" })
        #expect(succeeded.metadata["job_id"] == "\(job.id)")
        for stage in ["queued", "claim", "fetch", "convert", "store", "record", "cleanup", "outcome", "ack", "total"] {
            #expect(succeeded.milliseconds(stage) != nil, "no \(stage)_ms in \(succeeded.metadata)")
        }
        // The conversion of a 3-second clip takes some time, and is part of the whole.
        let convert = try #require(succeeded.milliseconds("convert")), total = try #require(succeeded.milliseconds("total"))
        #expect(convert > 0 && total >= convert)
    }
}

/// A log that keeps every entry, for tests that read what a component logged.
final class CapturedLog: Sendable {
    struct Entry: Sendable {
        var message: String
        var metadata: [String: String]

        func milliseconds(_ stage: String) -> Double? {
            metadata["\(stage)_ms"].flatMap(Double.init)
        }
    }

    private let storage = Mutex<[Entry]>([])

    var entries: [Entry] { storage.withLock { $0 } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(log: self) }
    }

    fileprivate func append(_ entry: Entry) {
        storage.withLock { $0.append(entry) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            log.append(Entry(message: "\(event.message)", metadata: all.mapValues { "\($0)" }))
        }
    }
}
