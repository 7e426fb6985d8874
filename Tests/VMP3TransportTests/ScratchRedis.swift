import Foundation
import VMP3TestSupport
@testable import VMP3Transport

/// A Redis server of a test's own, on a port of its own, so that a fault test can stop and
/// restart it without disturbing the tests that share the main one.
final class ScratchRedis: Sendable {
    let port: Int
    private let process: ExternalTool.Running

    private init(port: Int, process: ExternalTool.Running) {
        self.port = port
        self.process = process
    }

    var endpoint: RedisEndpoint { RedisEndpoint(host: "127.0.0.1", port: port, connectTimeout: .seconds(1)) }

    static func start(port: Int? = nil) async throws -> ScratchRedis {
        let port = port ?? Int.random(in: 20_000...29_999)
        let process = try ExternalTool.start("redis-server", [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
        ])
        let redis = ScratchRedis(port: port, process: process)
        let client = RedisClient(endpoint: redis.endpoint)
        for _ in 0..<100 {
            if (try? await client.send(["PING"])) == .status("PONG") { return redis }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.kill(SIGKILL)
        throw ExternalTool.Failure(description: "redis-server on port \(port) did not start")
    }

    /// Stops the server and waits until it has exited.
    func stop() async throws {
        process.kill(SIGTERM)
        _ = try await process.finish()
    }
}
