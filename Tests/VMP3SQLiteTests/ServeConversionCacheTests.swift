import Foundation
import Testing
import VMP3Conformance
import VMP3TestSupport

/// `vmp3 serve` with its conversion cache (SQLite, in its database): over HTTP, as a user sees it.
@Suite struct ServeConversionCacheTests {
    typealias Client = ServeRestartTests.Client

    /// The job document of `id`.
    static func job(_ id: String, _ client: Client) async throws -> [String: Any] {
        let run = try await ExternalTool.run("curl", ["-sf", "\(client.base)/v1/jobs/\(id)", "-H", "Authorization: Bearer \(client.token)"])
        return try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any], "\(run.text)")
    }

    static func download(_ id: String, _ client: Client) async throws -> Data {
        let run = try await ExternalTool.run("curl", ["-sf", "\(client.base)/v1/jobs/\(id)/download", "-H", "Authorization: Bearer \(client.token)"])
        #expect(run.status == 0)
        return run.stdout
    }

    /// A metric's value in `/metrics` (0 when it is not there yet).
    static func metric(_ name: String, _ server: RunningServe) async throws -> Double {
        let text = try await ExternalTool.run("curl", ["-sf", "\(server.url)/metrics"]).text
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test("the same video uploaded again is served from the cache, byte-identical and without a conversion, also after a restart; another bit rate is converted")
    func repeatUploads() async throws {
        let video = try await TestClip.make(at: try makeScratchDirectory().appendingPathComponent("clip.mp4"), seconds: 3)
        var server = try await RunningServe.start(environment: ["VMP3_CONVERSION_CACHE": "user"])
        var client = try await Client.signUp(server)
        let first = try await client.upload(video)
        _ = try await client.wait("the first job") { $0[first] == "succeeded" }
        #expect(try await Self.job(first, client)["from_cache"] as? Bool == false)
        #expect(try await Self.metric("vmp3_conversions_total", server) == 1)
        let original = try await Self.download(first, client)

        // The worker records the conversion right after the job succeeds.
        var second = ""
        try await eventually("an upload served from the cache", timeout: .seconds(120)) {
            second = try await client.upload(video)
            return try await Self.job(second, client)["from_cache"] as? Bool == true
        }
        let document = try await Self.job(second, client)
        #expect(document["status"] as? String == "succeeded" && document["attempts"] as? Int == 0)
        #expect(try await Self.download(second, client) == original)
        #expect(try await Self.metric(#"vmp3_conversion_cache_lookups_total{result="hit"}"#, server) >= 1)

        // A restart keeps the cache (it is in the database).
        let beforeRestart = try await server.stop()
        #expect(beforeRestart.status == 0, "\(beforeRestart.stderrTail)")
        server = try await RunningServe.start(environment: ["VMP3_CONVERSION_CACHE": "user"], in: server.directory)
        client = Client(base: server.url, token: client.token)  // a new port; the same signing key
        let afterRestart = try await client.upload(video)
        #expect(try await Self.job(afterRestart, client)["from_cache"] as? Bool == true)
        #expect(try await Self.download(afterRestart, client) == original)

        // Another option misses.
        let run = try await ExternalTool.run("curl", ["-sf", "\(client.base)/v1/jobs?bitrate=64", "-H", "Authorization: Bearer \(client.token)", "--data-binary", "@\(video.path)"])
        let other = try #require(run.text.firstMatch(of: /"id":"([0-9a-f-]{36})"/).map { String($0.1) })
        _ = try await client.wait("the 64 kbps job") { $0[other] == "succeeded" }
        #expect(try await Self.job(other, client)["from_cache"] as? Bool == false)
        #expect(try await Self.metric("vmp3_conversions_total", server) == 1, "one conversion since the restart")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    @Test("VMP3_CONVERSION_CACHE=off converts every upload")
    func off() async throws {
        let video = try await TestClip.make(at: try makeScratchDirectory().appendingPathComponent("clip.mp4"), seconds: 2)
        let server = try await RunningServe.start(environment: ["VMP3_CONVERSION_CACHE": "off"])
        let client = try await Client.signUp(server)
        for _ in 0..<2 {
            let id = try await client.upload(video)
            _ = try await client.wait("the job") { $0[id] == "succeeded" }
            #expect(try await Self.job(id, client)["from_cache"] as? Bool == false)
        }
        #expect(try await Self.metric("vmp3_conversions_total", server) == 2)
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }
}
