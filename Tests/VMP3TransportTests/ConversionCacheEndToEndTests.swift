import Foundation
import Testing
import VMP3Conformance
import VMP3Kit
import VMP3TestSupport

/// The conversion cache across the four services: kept in Redis beside the jobs, recorded by the
/// converter, looked up by the gateway.
@Suite(.serialized) struct ConversionCacheEndToEndTests {
    /// A metric's value in a service's `/metrics` (0 when it is not there yet).
    static func metric(_ name: String, at url: String) async throws -> Double {
        let text = try await ExternalTool.run("curl", ["-sf", "\(url)/metrics"]).text
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test("shared: a second user's identical upload succeeds at the gateway without reaching the converter, byte-identical, and its webhook is sent")
    func sharedAcrossUsers() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_CONVERSION_CACHE"] = "shared"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter", "vmp3-notifier"])
        let converter = try #require(deployment.services["vmp3-converter"]).url
        let gateway = try #require(deployment.services["vmp3-gateway"]).url
        let receiver = deployment.receiver
        _ = try await deployment.makeClip("video.mp4", seconds: 2)
        let upload = """
        JOB=$(curl -sf "$BASE/v1/jobs?bitrate=96&webhook_url=\(receiver.url.absoluteString)" -H "Authorization: Bearer $TOKEN" --data-binary @video.mp4 | sed -E 's/.*"id":"([^"]+)".*/\\1/')
        curl -sf -N --max-time 60 $BASE/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN" > /dev/null
        curl -sf $BASE/v1/jobs/$JOB -H "Authorization: Bearer $TOKEN"; echo
        curl -sf $BASE/v1/jobs/$JOB/download -H "Authorization: Bearer $TOKEN" -o "$OUT"
        """
        let first = try await deployment.run("OUT=first.mp3\n" + upload, user: "ann@example.com")
        #expect(first.status == 0 && first.text.contains(#""status":"succeeded""#) && first.text.contains(#""from_cache":false"#), "\(first.text) \(first.stderr)")
        #expect(try await Self.metric("vmp3_conversions_total", at: converter) == 1)

        // The converter records the conversion in Redis just after the job succeeds.
        var served: ExternalTool.Output?
        try await eventually("an upload served from the cache", timeout: .seconds(120)) {
            let run = try await deployment.run("OUT=second.mp3\n" + upload, user: "bob@example.com")
            served = run
            return run.text.contains(#""from_cache":true"#)
        }
        let second = try #require(served)
        #expect(second.status == 0 && second.text.contains(#""status":"succeeded""#), "\(second.text)")
        let firstMP3 = try Data(contentsOf: deployment.data.appendingPathComponent("first.mp3"))
        let secondMP3 = try Data(contentsOf: deployment.data.appendingPathComponent("second.mp3"))
        #expect(!firstMP3.isEmpty && firstMP3 == secondMP3)
        #expect(try await Self.metric("vmp3_conversions_total", at: converter) == 1, "the converter never saw the second job")
        #expect(try await Self.metric(#"vmp3_conversion_cache_lookups_total{result="hit"}"#, at: gateway) >= 1)

        // Both jobs' webhooks, the second published by the gateway for the notifier.
        let secondID = try #require(second.text.firstMatch(of: /"id":"([0-9a-f-]{36})"/).map { String($0.1) })
        try await eventually("the second job's webhook", timeout: .seconds(120)) {
            receiver.requests.contains { $0.header("VMP3-Delivery") == "\(secondID).succeeded" }
        }
        try await deployment.stopAll()
    }
}
