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
    ///
    /// Tests run at once, so a random port may already be another test's scratch server: this one
    /// is started when the server answering on the port is its own process (`INFO server` gives
    /// the process id); one that could not listen exits, and another port is tried.
    static func start(port: Int? = nil, dataDirectory: URL? = nil) async throws -> ScratchRedis {
        let persistence = dataDirectory.map { ["--appendonly", "yes", "--appendfsync", "always", "--dir", $0.path] } ?? ["--appendonly", "no"]
        for _ in 0..<(port == nil ? 5 : 1) {
            let port = port ?? Int.random(in: 20_000...29_999)
            let process = try await ExternalTool.start("redis-server", [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no",
            ] + persistence)
            let redis = ScratchRedis(port: port, process: process)
            let client = RedisClient(endpoint: redis.endpoint)
            for _ in 0..<100 where !process.hasExited {
                if let info = (try? await client.send(["INFO", "server"]))?.text, info.contains("process_id:\(process.pid)\r\n") {
                    return redis
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            process.kill(SIGKILL)
            _ = try? await process.finish()
        }
        throw ExternalTool.Failure(description: "redis-server did not start on \(port.map { "port \($0)" } ?? "any of five random ports")")
    }

    /// Stops the server and waits until it has exited.
    func stop() async throws {
        process.kill(SIGTERM)
        _ = try await process.finish()
    }
}
