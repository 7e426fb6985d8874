import Crypto
import Foundation
import Testing
import VMP3TestSupport
import VMP3Transport

/// `vmp3 serve` (the four services in one process, embedded backends) driven by the
/// `GatewayClient` example: the end-to-end flow of the separate services, webhook and e-mail
/// included.
@Suite(.serialized) struct ServeEndToEndTests {
    /// A running `vmp3 serve` on a port of its own, and its data directory.
    struct Served {
        let process: ExternalTool.Running
        let url: String
        let data: URL

        static func start(_ arguments: [String] = []) async throws -> Served {
            let data = try makeScratchDirectory()
            let process = try ExternalTool.start(builtExecutable("vmp3"), [
                "serve", "--port", "0", "--data-dir", data.appendingPathComponent("data").path, "--concurrency", "1",
            ] + arguments)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(60)
            while clock.now < deadline {
                if let match = process.outputSoFar().firstMatch(of: /serving on (http:\/\/[0-9.]+:[0-9]+)/) {
                    return Served(process: process, url: String(match.1), data: data)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            process.kill(SIGKILL)
            throw ExternalTool.Failure(description: "vmp3 serve did not start: \(try await process.finish().stderr)")
        }

        /// Runs the GatewayClient example against it.
        func client(_ arguments: [String], password: String = "a long passphrase") async throws -> ExternalTool.Output {
            try await ExternalTool.run("/usr/bin/env", ["VMP3_PASSWORD=\(password)", builtExecutable("GatewayClient"), "--url", url] + arguments)
        }

        func stop() async throws -> ExternalTool.Output {
            process.kill(SIGTERM)
            return try await process.finish()
        }
    }

    static func makeVideo(in directory: URL, seconds: Int = 3) async throws -> URL {
        let video = directory.appendingPathComponent("talk.mp4")
        try await ExternalTool.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=\(seconds)", "-f", "lavfi", "-i", "sine=frequency=440:duration=\(seconds)",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", video.path,
        ])
        return video
    }

    @Test("GatewayClient against `vmp3 serve`: register, upload, follow the progress to succeeded, download a valid MP3; the signed webhook and the e-mail arrive")
    func gatewayClientFlow() async throws {
        let smtp = "\(try TestServices.value("VMP3_TEST_SMTP_URL"))?from=vmp3@example.com&tls=none"
        let served = try await Served.start(["--smtp", smtp])
        let receiver = try await HTTPTestReceiver.start()
        let video = try await Self.makeVideo(in: served.data)
        let email = "serve-\(UUID().uuidString.prefix(8).lowercased())@example.com"

        let run = try await served.client(["--email", email, "--bitrate", "128", "--webhook-url", receiver.url.absoluteString, "--notify-email", video.path])
        #expect(run.status == 0, "\(run.text) \(run.stderr)")
        #expect(run.text.contains("progress "), "\(run.text)")
        #expect(run.text.contains("status: succeeded"), "\(run.text)")
        let jobID = try #require(run.text.firstMatch(of: /job ([0-9a-f-]{36})/).map { String($0.1) }, "\(run.text)")
        let mp3 = served.data.appendingPathComponent("talk.mp3")
        let probe = try await ExternalTool.run("ffprobe", ["-v", "error", "-show_entries", "format=format_name,bit_rate,duration", "-of", "csv=p=0", mp3.path])
        #expect(probe.text.hasPrefix("mp3,3."), "\(probe.text) \(probe.stderr)")

        // The webhook, signed with the secret `vmp3 serve` made in its data directory.
        await receiver.waitForRequests(1)
        let secret = try String(contentsOf: served.data.appendingPathComponent("data/webhook-secret"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let hook = try #require(receiver.requests.first)
        #expect(hook.header("VMP3-Delivery") == "\(jobID).succeeded")
        #expect(WebhookSignature.verify(header: hook.header("VMP3-Signature") ?? "", body: hook.body, secret: SymmetricKey(data: Array(secret.utf8))))
        let attributes = try FileManager.default.attributesOfItem(atPath: served.data.appendingPathComponent("data/webhook-secret").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // The e-mail, to the account's address.
        let maildir = URL(fileURLWithPath: try TestServices.value("VMP3_TEST_MAILDIR")).appendingPathComponent("new")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var mail: String?
        while mail == nil && clock.now < deadline {
            mail = try FileManager.default.contentsOfDirectory(atPath: maildir.path)
                .map { try String(contentsOf: maildir.appendingPathComponent($0), encoding: .utf8) }
                .first { $0.contains("Message-ID: <\(jobID).succeeded@example.com>") }
            if mail == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(try #require(mail).contains("To: \(email)"))

        let readiness = try await ExternalTool.run("curl", ["-s", "-w", "%{http_code}", "\(served.url)/readyz"])
        #expect(readiness.text == "200")
        try await receiver.stop()
        #expect(try await served.stop().status == 0)
    }

    @Test("GatewayClient's failures: a wrong password exits 2 with the gateway's 401; a file that is not a video exits 1 with the job's typed reason")
    func gatewayClientFailures() async throws {
        let served = try await Served.start()
        let video = try await Self.makeVideo(in: served.data, seconds: 1)
        let email = "fail-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        #expect(try await served.client(["--email", email, video.path]).status == 0)

        let wrong = try await served.client(["--email", email, video.path], password: "not the passphrase")
        #expect(wrong.status == 2)
        #expect(wrong.text.contains("401 invalid_credentials"), "\(wrong.text)")

        let text = served.data.appendingPathComponent("notes.mp4")
        try Data(String(repeating: "not a video ", count: 500).utf8).write(to: text)
        let failed = try await served.client(["--email", email, text.path])
        #expect(failed.status == 1)
        #expect(failed.text.contains("the job ended failed: not_media_file"), "\(failed.text)")
        #expect(!FileManager.default.fileExists(atPath: served.data.appendingPathComponent("notes.mp3").path))

        let health = try await ExternalTool.run("curl", ["-s", "-w", "%{http_code}", "\(served.url)/healthz"])
        #expect(health.text == "200")
        #expect(try await served.stop().status == 0)
    }
}
