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

    /// Starts a server on `port` (default: a random one). With a `dataDirectory`, it keeps its
    /// data there in an append-only file written on every command, as a production Redis that
    /// must survive restarts does; without, nothing survives it.
    static func start(port: Int? = nil, dataDirectory: URL? = nil) async throws -> ScratchRedis {
        let port = port ?? Int.random(in: 20_000...29_999)
        let persistence = dataDirectory.map { ["--appendonly", "yes", "--appendfsync", "always", "--dir", $0.path] } ?? ["--appendonly", "no"]
        let process = try ExternalTool.start("redis-server", [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no",
        ] + persistence)
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
