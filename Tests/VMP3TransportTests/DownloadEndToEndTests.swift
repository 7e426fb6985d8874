import Foundation
import Testing
import VMP3TestSupport

/// Downloads as a media server serves them (ranges, validators, `HEAD`, the upload's file name,
/// presigned URLs on S3, a cut download resumed), against `vmp3 serve` on its file store and
/// against vmp3-gateway on the S3 server, over HTTP with `curl` and the GatewayClient example.
@Suite(.serialized) struct DownloadEndToEndTests {
    /// Registers `email` and logs in at `base`: the bearer token.
    static func token(_ base: String, _ email: String) async throws -> String {
        let credentials = #"{"email":"\#(email)","password":"a long passphrase"}"#
        _ = try await ExternalTool.run("curl", ["-s", base + "/v1/auth/register", "-H", "Content-Type: application/json", "-d", credentials])
        let login = try await ExternalTool.run("curl", ["-sf", base + "/v1/auth/login", "-H", "Content-Type: application/json", "-d", credentials])
        return try #require(login.text.firstMatch(of: /"access_token":"([^"]+)"/).map { String($0.1) }, "\(login.text) \(login.stderr)")
    }

    /// Uploads `video` with `arguments` added to curl's, waits for the job to succeed: its id.
    static func convert(_ base: String, token: String, _ video: URL, query: String = "", _ arguments: [String] = []) async throws -> String {
        let upload = try await ExternalTool.run("curl", ["-sf", "\(base)/v1/jobs?bitrate=128\(query)", "-H", "Authorization: Bearer \(token)", "--data-binary", "@\(video.path)"] + arguments)
        let id = try #require(upload.text.firstMatch(of: /"id":"([0-9a-f-]{36})"/).map { String($0.1) }, "\(upload.text) \(upload.stderr)")
        let events = try await ExternalTool.run("curl", ["-sf", "-N", "--max-time", "120", "\(base)/v1/jobs/\(id)/events", "-H", "Authorization: Bearer \(token)"])
        #expect(events.text.contains("\"status\":\"succeeded\""), "\(events.text.suffix(500))")
        return id
    }

    @Test("vmp3 serve: ranges, HEAD, validators and 304s, the upload's name; redirect=1 streams (a directory cannot presign); GatewayClient resumes a download cut half-way and writes the identical file")
    func serve() async throws {
        let served = try await RunningServe.start()
        let video = try await TestClip.make(at: served.directory.appendingPathComponent("talk.mp4"), seconds: 20)
        let token = try await Self.token(served.url, "ranges-\(UUID().uuidString.prefix(8).lowercased())@example.com")
        let id = try await Self.convert(served.url, token: token, video, query: "&filename=talk.mp4")
        let checks = DownloadChecks(base: served.url, token: token, jobID: id, scratch: served.directory)
        let mp3 = try await checks.checkAll(named: "talk.mp3")

        let streamed = try await checks.fetch(url: "\(served.url)/v1/jobs/\(id)/download?redirect=1")
        #expect(streamed.status == 200 && streamed.body == mp3, "\(streamed.status)")
        // Only the owner: another user's download, ranged or not, is 404.
        let other = try await Self.token(served.url, "other-\(UUID().uuidString.prefix(8).lowercased())@example.com")
        let foreign = try await DownloadChecks(base: served.url, token: other, jobID: id, scratch: served.directory).fetch(["Range: bytes=0-9"])
        #expect(foreign.status == 404)

        // GatewayClient through a proxy that drops the connection after 100 kB of the download.
        let proxy = try await ExternalTool.start("python3", [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cutting_proxy.py").path,
                                                       String(try #require(URL(string: served.url)?.port)), "100000"])
        let port = try #require(try await proxy.waitForOutput(/listening on ([0-9]+)/, timeout: .seconds(30)))
        let written = served.directory.appendingPathComponent("resumed.mp3")
        let email = "resume-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let run = try await ExternalTool.run("/usr/bin/env", [
            "VMP3_PASSWORD=a long passphrase", builtExecutable("GatewayClient"), "--url", "http://127.0.0.1:\(port)",
            "--email", email, "--bitrate", "128", "-o", written.path, video.path,
        ])
        proxy.kill(SIGTERM)
        _ = try await proxy.finish()
        #expect(run.status == 0, "\(run.text) \(run.stderr)")
        let resumedAt = try #require(run.text.firstMatch(of: /download cut off; resumed at byte ([0-9]+)/).flatMap { Int($0.1) }, "\(run.text)")
        #expect(resumedAt > 0 && resumedAt <= 100_000, "\(resumedAt)")
        // The same bytes as the MP3 fetched in one piece, directly.
        let job = try #require(run.text.firstMatch(of: /job ([0-9a-f-]{36})/).map { String($0.1) }, "\(run.text)")
        let whole = try await DownloadChecks(base: served.url, token: try await Self.token(served.url, email), jobID: job, scratch: served.directory).fetch()
        #expect(whole.status == 200 && whole.body.count > 200_000)
        #expect(try Data(contentsOf: written) == whole.body)
        #expect(!FileManager.default.fileExists(atPath: written.path + ".partial"))
        let exited = try await served.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    @Test("vmp3-gateway on S3: ranges, HEAD, validators and 304s read from S3 with ranged GETs; a non-ASCII upload name in filename*; redirect=1 is a presigned URL that plain curl fetches with the file name, and that stops working after its expiry")
    func gatewayOnS3() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_DOWNLOAD_URL_SECONDS"] = "3"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        let (token, _) = try await deployment.signIn("downloads@example.com")
        let video = try await deployment.makeClip("clip.mp4", seconds: 20)
        let id = try await Self.convert(base, token: token, video, ["-H", "Content-Disposition: attachment; filename=\"fallback.mp4\"; filename*=UTF-8''Vortr%C3%A4g.mp4"])
        let checks = DownloadChecks(base: base, token: token, jobID: id, scratch: deployment.data)
        let mp3 = try await checks.checkAll(named: "Vortr_g.mp3")
        #expect(try await checks.fetch()["content-disposition"] == "attachment; filename=\"Vortr_g.mp3\"; filename*=UTF-8''Vortr%C3%A4g.mp3")

        let redirect = try await checks.fetch(url: "\(base)/v1/jobs/\(id)/download?redirect=1")
        #expect(redirect.status == 307, "\(redirect.status) \(redirect.headers)")
        let signedAt = ContinuousClock.now
        let location = try #require(redirect["location"])
        #expect(location.hasPrefix(try TestServices.s3Endpoint.absoluteString) && location.contains("X-Amz-Expires=3&"), "\(location)")
        // Plain curl, no token: the URL is the credential.
        let presigned = try await checks.fetch(url: location, authorized: false)
        #expect(presigned.status == 200 && presigned.body == mp3, "\(presigned.status)")
        #expect(presigned["content-disposition"] == "attachment; filename=\"Vortr_g.mp3\"; filename*=UTF-8''Vortr%C3%A4g.mp3", "\(presigned.headers)")
        // Someone else's token gets no URL.
        let (stranger, _) = try await deployment.signIn("stranger@example.com")
        let foreign = try await DownloadChecks(base: base, token: stranger, jobID: id, scratch: deployment.data).fetch(url: "\(base)/v1/jobs/\(id)/download?redirect=1")
        #expect(foreign.status == 404)

        try await Task.sleep(until: signedAt + .seconds(4))
        let expired = try await checks.fetch(url: location, authorized: false)
        #expect(expired.status == 403, "\(expired.status)")
        try await deployment.stopAll()
    }
}
