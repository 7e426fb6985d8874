import Foundation
import Testing
import VMP3TestSupport

/// The web page in headless Chromium (`Tests/Browser/page_test.py`, Selenium), against
/// `vmp3 serve` and against the gateway of the four services on RabbitMQ, Redis and S3: sign up,
/// upload real clips, progress to 100 %, play, download, a failure in words, a hostile title shown
/// as text, the CSP blocking an inline script, delete, logout, a second user who sees nothing of
/// the first's. Screenshots of each state at desktop and phone width go to `artifacts/screenshots`
/// (or `$VMP3_SCREENSHOTS`).
@Suite(.serialized) struct WebPageEndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var screenshots: URL {
        ProcessInfo.processInfo.environment["VMP3_SCREENSHOTS"].map { URL(fileURLWithPath: $0) }
            ?? repository.appendingPathComponent("artifacts/screenshots")
    }

    /// Runs the browser test against `base`; every check it prints must pass.
    static func browse(_ base: String, label: String, work: URL) async throws {
        let run = try await ExternalTool.run("python3", [
            repository.appendingPathComponent("Tests/Browser/page_test.py").path,
            "--base", base, "--label", label, "--screenshots", screenshots.path, "--work", work.path,
        ])
        #expect(run.status == 0, "\(run.text)\n\(run.stderr.suffix(3000))")
        #expect(run.text.contains(" 0 failed"), "\(run.text)")
        for state in ["empty", "uploading", "converting", "done", "error"] {
            for width in ["desktop", "phone"] {
                let shot = screenshots.appendingPathComponent("\(label)-\(state)-\(width).png")
                #expect(FileManager.default.fileExists(atPath: shot.path), "no screenshot \(shot.lastPathComponent)")
            }
        }
    }

    @Test("vmp3 serve: a person with a browser turns videos into MP3s, and only they see them")
    func serve() async throws {
        let served = try await RunningServe.start()
        try await Self.browse(served.url, label: "serve", work: served.directory)
        _ = try await served.stop()
    }

    @Test("the four services: the same page through vmp3-gateway, converted by vmp3-converter from S3 and RabbitMQ")
    func services() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        try await Self.browse(try #require(deployment.services["vmp3-gateway"]).url, label: "services", work: deployment.data)
        try await deployment.stopAll()
    }
}
