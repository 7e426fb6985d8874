import Foundation

/// A `vmp3 serve` started for a test: on a free port, its data in `directory/data`, one
/// conversion at a time.
public struct RunningServe: Sendable {
    public let process: ExternalTool.Running
    /// `http://127.0.0.1:PORT`.
    public let url: String
    /// A scratch directory of the test's; the server keeps its data in `data` below it.
    public let directory: URL

    /// Starts it with `arguments` added and `environment` set, and waits (up to a minute) for its
    /// `serving on` line. Pass the `directory` of an earlier run to start again on its data.
    /// Webhooks may reach 127.0.0.0/8 unless `environment` sets `VMP3_WEBHOOK_ALLOWED_NETWORKS`.
    public static func start(_ arguments: [String] = [], environment: [String: String] = [:], in directory: URL? = nil) async throws -> RunningServe {
        let directory = try directory ?? makeScratchDirectory()
        // The tests' webhook receivers listen on loopback, which webhooks may not reach by default.
        var environment = environment
        if environment["VMP3_WEBHOOK_ALLOWED_NETWORKS"] == nil { environment["VMP3_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8" }
        // The production cost takes seconds a hash in a debug build, on a loaded machine more:
        // these tests are about serving, not about hashing (which has tests of its own).
        if environment["VMP3_PASSWORD_HASH_COST"] == nil { environment["VMP3_PASSWORD_HASH_COST"] = testPasswordHashCost }
        // Every test user registers from 127.0.0.1; the throttle has tests of its own.
        if environment["VMP3_EMAIL_ALLOWED_RECIPIENTS"] == nil { environment["VMP3_EMAIL_ALLOWED_RECIPIENTS"] = "@example.com" }
        if environment["VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR"] == nil { environment["VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR"] = "10000" }
        // The tests upload the same clip again and again to see it converted; the cache has
        // tests of its own (ServeConversionCacheTests).
        if environment["VMP3_CONVERSION_CACHE"] == nil { environment["VMP3_CONVERSION_CACHE"] = "off" }
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let process = try await ExternalTool.start("/usr/bin/env", assignments + [builtExecutable("vmp3"),
            "serve", "--port", "0", "--data-dir", directory.appendingPathComponent("data").path, "--concurrency", "1",
        ] + arguments)
        if let url = try await process.waitForOutput(/serving on (http:\/\/[0-9.]+:[0-9]+)/, timeout: .seconds(60)) {
            return RunningServe(process: process, url: url, directory: directory)
        }
        process.kill(SIGKILL)
        throw ExternalTool.Failure(description: "vmp3 serve did not start: \(try await process.finish().stderr)")
    }

    /// Stops it with SIGTERM, as a person would with Ctrl-C, and returns what it wrote.
    public func stop() async throws -> ExternalTool.Output {
        process.kill(SIGTERM)
        return try await process.finish()
    }
}

/// The scrypt cost of the test deployments (`VMP3_PASSWORD_HASH_COST`): the production cost
/// takes seconds a hash in a debug build, and tests that log in many times are about the API.
public let testPasswordHashCost = "ln=10,r=8,p=1"
