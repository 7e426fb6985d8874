import Foundation
import Logging
import ServiceLifecycle
import Testing
import VMP3Conformance
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The SDK's worker and job service on the networked backends, chosen by URL as a service
/// chooses them, converting real media.
@Suite struct NetworkedPipelineTests {
    func backends() async throws -> Backends {
        let prefix = "pipeline-\(UUID().uuidString.prefix(8))"
        var configuration = BackendConfiguration(storage: try makeScratchDirectory())
        configuration.queue = try TestServices.amqp
        configuration.store = try TestServices.redis
        var backends = try await Backends.make(configuration, factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
        let s3 = try await S3ObjectStoreTests.store()
        backends.storage = s3
        // Queues and keys of this test's own, so that tests running at once do not share them.
        let endpoint = try AMQPEndpoint(url: try TestServices.amqp)
        backends.jobs = AMQPMessageQueue<JobMessage>(endpoint: endpoint, name: "\(prefix).jobs")
        backends.outcomes = AMQPMessageQueue<JobEvent>(endpoint: endpoint, name: "\(prefix).outcomes")
        backends.store = RedisJobStore(endpoint: try RedisEndpoint(url: try TestServices.redis), prefix: "\(prefix):")
        return backends
    }

    @Test("URLs pick the networked backends")
    func configuration() async throws {
        var configuration = BackendConfiguration(storage: try makeScratchDirectory())
        configuration.queue = try TestServices.amqp
        configuration.store = try TestServices.redis
        let backends = try await Backends.make(configuration, factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
        #expect(backends.store is RedisJobStore)
        #expect(backends.jobs is AMQPMessageQueue<JobMessage>)
        #expect(backends.storage is FileObjectStore)
        configuration.queue = URL(string: "kafka://127.0.0.1")!
        await #expect(throws: ConfigurationError.self) {
            _ = try await Backends.make(configuration, factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
        }

        var s3 = BackendConfiguration(storage: URL(string: "s3://media?endpoint=\(try TestServices.s3Endpoint.absoluteString)")!)
        let withKeys = TransportBackendFactory(settings: Settings(["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"]))
        #expect(try await Backends.make(s3, factories: [withKeys, EmbeddedBackendFactory()]).storage is S3ObjectStore)
        // No credentials in the environment: a clear error at start-up, never a default key.
        s3.queue = URL(string: "memory:")!
        await #expect(throws: ConfigurationError.self) {
            _ = try await Backends.make(s3, factories: [TransportBackendFactory(settings: Settings([:])), EmbeddedBackendFactory()])
        }
    }

    @Test("a video submitted through S3, RabbitMQ and Redis is converted, and its outcome published")
    func endToEnd() async throws {
        let backends = try await backends()
        let worker = ConversionWorker(
            storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes,
            configuration: .init(concurrency: 2, leaseRenewalInterval: .milliseconds(500), progressInterval: .milliseconds(100))
        )
        let services = ServiceGroup(services: [worker], logger: Logger(label: "test"))
        let running = Task { try await services.run() }
        defer { running.cancel() }

        let video = testRoot.appendingPathComponent("pipeline-\(UUID().uuidString).mp4")
        try await ExternalTool.ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-metadata", "title=Networked", video.path,
        ])
        let job = try await backends.jobService.submit(.init(owner: "ann", sourceName: "clip.mp4"), sourceFile: video).job
        var statuses: [JobStatus] = []
        for try await event in try await backends.jobService.watch(job.id, owner: "ann") where statuses.last != event.job.status {
            statuses.append(event.job.status)
        }
        #expect(statuses.last == .succeeded, "\(statuses)")
        let done = try await backends.jobService.job(job.id, owner: "ann")
        #expect(done.output?.tags.title == "Networked" && done.attempts == 1)
        let mp3 = try #require(done.output)
        #expect(try await backends.storage.head(mp3.key).contentType == "audio/mpeg")
        let outcome = try await Inbox(try await backends.outcomes.subscribe(prefetch: 1)).takeOne(within: .seconds(20))
        #expect(outcome.message.job.id == job.id && outcome.message.job.status == .succeeded)
        try await outcome.acknowledge()
        await services.triggerGracefulShutdown()
        try await running.value
    }
}
