import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// `/readyz`: each backend is asked, and one that does not answer makes the service not ready.
@Suite struct ReadinessTests {
    static func backends(storage: String, queue: String, store: String) async throws -> Backends {
        try await Backends.make(
            BackendConfiguration(storage: URL(string: storage)!, queue: URL(string: queue)!, store: URL(string: store)!),
            factories: [TransportBackendFactory(settings: Settings(["AWS_ACCESS_KEY_ID": "vmp3-test", "AWS_SECRET_ACCESS_KEY": "vmp3-test-secret"]))]
        )
    }

    @Test("every check passes on the real S3 server, RabbitMQ and Redis, and each throws when its server is not there")
    func checks() async throws {
        let prefix = "ready-\(UUID().uuidString.prefix(8).lowercased())"
        let storage = "s3://\(prefix)?endpoint=\(try TestServices.s3Endpoint.absoluteString)&region=us-east-1"
        try await S3ObjectStore(configuration: try S3Configuration(url: URL(string: storage)!), credentials: S3ObjectStoreTests.credentials).createBucketIfNeeded()
        let queue = "\(try TestServices.amqp.absoluteString)?prefix=\(prefix)."
        let store = "\(try TestServices.redis.absoluteString)?prefix=\(prefix):"
        let up = try await Self.backends(storage: storage, queue: queue, store: store)
        #expect(up.readinessChecks.keys.sorted() == ["queue", "storage", "store"])
        for (name, check) in up.readinessChecks { await #expect(throws: Never.self, "\(name)") { try await check() } }

        // Nothing listens on port 1.
        let down = try await Self.backends(
            storage: "s3://\(prefix)?endpoint=http://127.0.0.1:1&region=us-east-1",
            queue: "amqp://guest:guest@127.0.0.1:1/%2F", store: "redis://127.0.0.1:1/0"
        )
        await #expect(throws: StorageError.self) { try await down.readinessChecks["storage"]!() }
        await #expect(throws: QueueError.self) { try await down.readinessChecks["queue"]!() }
        await #expect(throws: JobStoreError.self) { try await down.readinessChecks["store"]!() }
    }

    @Test("a gateway whose queue is down answers /healthz 200 and /readyz 503 naming the queue")
    func gatewayNotReady() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start("vmp3-auth")
        deployment.environment["VMP3_AUTH_URL"] = try #require(deployment.services["vmp3-auth"]).url
        deployment.environment["VMP3_QUEUE"] = "amqp://guest:guest@127.0.0.1:1/%2F"
        try await deployment.start("vmp3-gateway")
        let gateway = try #require(deployment.services["vmp3-gateway"])
        let health = try await ExternalTool.run("curl", ["-s", "-w", "%{http_code}", "\(gateway.url)/healthz"])
        #expect(health.text == "200")
        let ready = try await ExternalTool.run("curl", ["-s", "-w", "\n%{http_code}", "\(gateway.url)/readyz"])
        #expect(ready.text.hasSuffix("\n503"), "\(ready.text)")
        #expect(ready.text.contains("queue is unavailable"), "\(ready.text)")
        try await deployment.stopAll()
    }
}
