import Foundation
import VMP3TestSupport
import Logging
import ServiceLifecycle
import Synchronization
import VMP3Conformance
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// Embedded backends in a scratch folder, a job service on them, and workers to run.
struct WorkerHarness {
    let directory: URL
    let storage: any ObjectStore
    let store: InMemoryJobStore
    let jobs: InMemoryMessageQueue<JobMessage>
    let outcomes: InMemoryMessageQueue<JobEvent>
    let converter: CountingConverter
    let caching: ConversionCaching?
    let service: JobService

    init(storage wrap: (FileObjectStore) -> any ObjectStore = { $0 }, caching: ConversionCaching? = nil) throws {
        directory = try makeScratchDirectory()
        storage = wrap(try FileObjectStore(root: directory.appendingPathComponent("store")))
        store = InMemoryJobStore()
        jobs = InMemoryMessageQueue<JobMessage>()
        outcomes = InMemoryMessageQueue<JobEvent>()
        converter = CountingConverter()
        self.caching = caching
        service = JobService(storage: storage, queue: jobs, store: store, outcomes: outcomes, caching: caching)
    }

    /// Settings that keep tests quick: short leases and backoffs, frequent progress.
    static func configuration(_ name: String, concurrency: Int = 2, maxAttempts: Int = 3, grace: Duration = .seconds(30)) -> ConversionWorker.Configuration {
        ConversionWorker.Configuration(
            concurrency: concurrency, maxAttempts: maxAttempts, initialBackoff: .milliseconds(50), maximumBackoff: .milliseconds(200),
            leaseDuration: .seconds(2), leaseRenewalInterval: .milliseconds(200), progressInterval: .milliseconds(50),
            shutdownGracePeriod: grace, workerID: name
        )
    }

    func worker(
        _ name: String = "worker-1", concurrency: Int = 2, maxAttempts: Int = 3, grace: Duration = .seconds(30),
        leaseRenewalInterval: Duration? = nil
    ) -> ConversionWorker {
        var configuration = Self.configuration(name, concurrency: concurrency, maxAttempts: maxAttempts, grace: grace)
        if let leaseRenewalInterval {
            configuration.leaseRenewalInterval = leaseRenewalInterval
            configuration.leaseDuration = leaseRenewalInterval * 4
        }
        return ConversionWorker(
            converter: converter, storage: storage, queue: jobs, store: store, outcomes: outcomes, caching: caching,
            configuration: configuration,
            logger: Logger(label: "test.\(name)")
        )
    }

    func submit(_ media: TestMedia, owner: UserID = "alice", options: ConversionOptions = ConversionOptions(), key: String? = nil) async throws -> Job {
        try await service.submit(
            JobService.Submission(owner: owner, sourceName: media.rawValue, options: options, idempotencyKey: key),
            sourceFile: try await media.url
        ).job
    }

    func submit(file: URL, owner: UserID = "alice") async throws -> Job {
        try await service.submit(JobService.Submission(owner: owner, sourceName: file.lastPathComponent), sourceFile: file).job
    }

    /// Waits until the job reaches `status` (failing on another final status). The bound is wide:
    /// conversions share the machine's few dispatch threads with every other test running
    /// alongside, and the sanitized stage has kept one waiting for over a minute.
    @discardableResult
    func wait(for id: JobID, _ status: JobStatus, timeout: Duration = .seconds(240)) async throws -> Job {
        var last: Job?
        try await eventually("job \(id) to be \(status)", timeout: timeout) {
            last = try await store.get(id)
            if let last, last.status.isFinal, last.status != status {
                throw ConformanceFailure(description: "job ended \(last.status): \(String(describing: last.failure))")
            }
            return last?.status == status
        }
        return last!
    }

    /// Whether the job queue holds no message, waiting or delivered.
    var queueIsSettled: Bool {
        get async {
            let ready = await jobs.readyCount
            let unsettled = await jobs.unsettledCount
            return ready == 0 && unsettled == 0
        }
    }

    /// Files under the store's `outputs/` folder.
    var outputFiles: [String] {
        let outputs = directory.appendingPathComponent("store/objects/outputs.d")
        return ((try? FileManager.default.contentsOfDirectory(atPath: outputs.path)) ?? []).filter { !$0.hasPrefix(".") }
    }
}

/// Runs services under a ServiceGroup so that a test can trigger a graceful shutdown.
final class RunningServices: Sendable {
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(_ services: [any Service]) {
        group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            logger: Logger(label: "test.services")
        ))
        let group = group
        task = Task { try await group.run() }
    }

    /// A test that fails before ``stop()`` must not leave its services running: suspended on their
    /// queues for the rest of the process, they are memory nothing can reach (LeakSanitizer
    /// reports it) and work that competes with the tests after it.
    deinit { task.cancel() }

    /// Graceful shutdown, then waits for the services to return.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

/// A ``MediaConverter`` that counts conversions, the most running at once, and cancellations.
final class CountingConverter: AudioConverter {
    private struct Counts {
        var started = 0
        var running = 0
        var mostAtOnce = 0
        var cancelled = 0
    }

    private let counts = Mutex(Counts())
    private let real = MediaConverter()
    private let held = Mutex(false)

    /// While held, a conversion reports a tenth done and then waits, converting nothing, until
    /// released (it then converts for real) or cancelled: a test that stops a worker mid-job does
    /// not race the conversion's own speed (a 10-minute file took 29 s under AddressSanitizer,
    /// and a starved test asked for the stop after it had finished).
    func hold(_ holding: Bool) {
        held.withLock { $0 = holding }
    }

    var started: Int { counts.withLock { $0.started } }
    var mostAtOnce: Int { counts.withLock { $0.mostAtOnce } }
    var cancelled: Int { counts.withLock { $0.cancelled } }
    /// The input and output paths of every conversion, and the output's inode once written.
    private let files = Mutex<[(input: URL, output: URL, inode: UInt64?)]>([])
    var conversions: [(input: URL, output: URL, inode: UInt64?)] { files.withLock { $0 } }

    func convert(
        _ input: URL, to output: URL, options: ConversionOptions, progress: (@Sendable (ConversionProgress) -> Void)?, logger: Logger
    ) async throws(ConversionError) -> ConversionResult {
        counts.withLock {
            $0.started += 1
            $0.running += 1
            $0.mostAtOnce = max($0.mostAtOnce, $0.running)
        }
        defer { counts.withLock { $0.running -= 1 } }
        if held.withLock({ $0 }) {
            progress?(ConversionProgress(processedSeconds: 1, totalSeconds: 10))
            while held.withLock({ $0 }) {
                do { try await Task.sleep(for: .milliseconds(20)) } catch {
                    counts.withLock { $0.cancelled += 1 }
                    throw .cancelled()
                }
            }
        }
        do {
            let result = try await real.convert(input, to: output, options: options, progress: progress, logger: logger)
            let inode = (try? FileManager.default.attributesOfItem(atPath: output.path)[.systemFileNumber] as? NSNumber)?.uint64Value
            files.withLock { $0.append((input, output, inode)) }
            return result
        } catch {
            if error.code == .cancelled { counts.withLock { $0.cancelled += 1 } }
            throw error
        }
    }

    func probe(_ input: URL, logger: Logger) async throws(ConversionError) -> MediaInfo {
        try await real.probe(input, logger: logger)
    }
}

/// A store whose first `failures` downloads fail as if the storage server were down.
final class FlakyObjectStore: ObjectStore {
    let base: any ObjectStore
    private let remaining: Mutex<Int>

    init(_ base: any ObjectStore, failures: Int) {
        self.base = base
        remaining = Mutex(failures)
    }

    var failuresLeft: Int { remaining.withLock { $0 } }

    private func maybeFail() throws {
        let fail = remaining.withLock { count -> Bool in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
        if fail { throw StorageError(code: .unavailable, message: "injected: storage is down") }
    }

    func put(_ key: ObjectKey, fromFile file: URL, contentType: String) async throws -> ObjectInfo {
        try await base.put(key, fromFile: file, contentType: contentType)
    }

    func put<Body: AsyncSequence & Sendable>(_ key: ObjectKey, body: Body, contentType: String) async throws -> ObjectInfo where Body.Element == [UInt8] {
        try await base.put(key, body: body, contentType: contentType)
    }

    func get(_ key: ObjectKey, toFile file: URL) async throws -> ObjectInfo {
        try maybeFail()
        return try await base.get(key, toFile: file)
    }

    func get(_ key: ObjectKey) async throws -> ObjectDownload { try await base.get(key) }
    func get(_ key: ObjectKey, range: Range<Int64>) async throws -> ObjectDownload { try await base.get(key, range: range) }
    func head(_ key: ObjectKey) async throws -> ObjectInfo { try await base.head(key) }
    func delete(_ key: ObjectKey) async throws { try await base.delete(key) }
    func downloadURL(for key: ObjectKey, expiresIn: Duration, contentDisposition: String?) async throws -> URL? { nil }
}
