import Crypto
import Foundation
import Testing
import VMP3TestSupport
import VMP3Transport

/// `vmp3 serve` (the four services in one process, embedded backends) driven by the
/// `GatewayClient` example: the end-to-end flow of the separate services, webhook and e-mail
/// included.
@Suite(.serialized) struct ServeEndToEndTests {
    /// Runs the GatewayClient example against `served`.
    static func client(_ served: RunningServe, _ arguments: [String], password: String = "a long passphrase") async throws -> ExternalTool.Output {
        try await ExternalTool.run("/usr/bin/env", ["VMP3_PASSWORD=\(password)", builtExecutable("GatewayClient"), "--url", served.url] + arguments)
    }

    @Test("GatewayClient against `vmp3 serve`: register, upload, follow the progress to succeeded, download a valid MP3; the signed webhook and the e-mail arrive")
    func gatewayClientFlow() async throws {
        let smtp = "\(try TestServices.value("VMP3_TEST_SMTP_URL"))?from=vmp3@example.com&tls=none"
        let served = try await RunningServe.start(["--smtp", smtp])
        let receiver = try await HTTPTestReceiver.start()
        // A minute: the conversion lasts long enough for a progress event to be written and
        // streamed whatever the load (a 3 s clip could finish before its first progress write).
        let video = try await TestClip.make(at: served.directory.appendingPathComponent("talk.mp4"), seconds: 60)
        let email = "serve-\(UUID().uuidString.prefix(8).lowercased())@example.com"

        let run = try await Self.client(served, ["--email", email, "--bitrate", "128", "--webhook-url", receiver.url.absoluteString, "--notify-email", video.path])
        #expect(run.status == 0, "\(run.text) \(run.stderr)")
        #expect(run.text.contains("progress "), "\(run.text)")
        #expect(run.text.contains("status: succeeded"), "\(run.text)")
        let jobID = try #require(run.text.firstMatch(of: /job ([0-9a-f-]{36})/).map { String($0.1) }, "\(run.text)")
        let mp3 = served.directory.appendingPathComponent("talk.mp3")
        let probe = try await ExternalTool.run("ffprobe", ["-v", "error", "-show_entries", "format=format_name,bit_rate,duration", "-of", "csv=p=0", mp3.path])
        #expect(probe.text.hasPrefix("mp3,60."), "\(probe.text) \(probe.stderr)")

        // The webhook, signed with the user's own secret (derived from the master `vmp3 serve`
        // made in its data directory), which the user reads and rotates through the API.
        await receiver.waitForRequests(1)
        let hook = try #require(receiver.requests.first)
        #expect(hook.header("VMP3-Delivery") == "\(jobID).succeeded")
        let login = try await ExternalTool.run("curl", [
            "-sf", served.url + "/v1/auth/login", "-H", "Content-Type: application/json", "-d", #"{"email":"\#(email)","password":"a long passphrase"}"#,
        ])
        let token = try #require(login.text.firstMatch(of: /"access_token":"([^"]+)"/).map { String($0.1) }, "\(login.text)")
        func secret(_ method: String, _ path: String) async throws -> (secret: String, generation: Int) {
            let answer = try await ExternalTool.run("curl", ["-sf", "-X", method, served.url + path, "-H", "Authorization: Bearer \(token)"])
            struct Secret: Decodable { var secret: String; var generation: Int }
            let decoded = try JSONDecoder().decode(Secret.self, from: answer.stdout)
            return (decoded.secret, decoded.generation)
        }
        let own = try await secret("GET", "/v1/webhook-secret")
        #expect(own.generation == 0 && own.secret.hasPrefix("whsec_"))
        #expect(WebhookSignature.verify(header: hook.header("VMP3-Signature") ?? "", body: hook.body, secret: SymmetricKey(data: Array(own.secret.utf8))))
        let master = try String(contentsOf: served.directory.appendingPathComponent("data/webhook-secret"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!WebhookSignature.verify(header: hook.header("VMP3-Signature") ?? "", body: hook.body, secret: SymmetricKey(data: Array(master.utf8))))
        let rotated = try await secret("POST", "/v1/webhook-secret/rotate")
        #expect(rotated.generation == 1 && rotated.secret != own.secret)
        let again = try await secret("GET", "/v1/webhook-secret")
        #expect(again.secret == rotated.secret && again.generation == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: served.directory.appendingPathComponent("data/webhook-secret").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // The e-mail, to the account's address.
        let mail = try await ReceivedMail.waitFor(withID: "\(jobID).succeeded@example.com", in: try TestServices.value("VMP3_TEST_MAILDIR"), timeout: .seconds(30))
        #expect(try #require(mail).headers["to"] == email)

        let readiness = try await ExternalTool.run("curl", ["-s", "-w", "%{http_code}", "\(served.url)/readyz"])
        #expect(readiness.text == "200")
        try await receiver.stop()
        let exited = try await served.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    @Test("GatewayClient's failures: a wrong password exits 2 with the gateway's 401; a file that is not a video exits 1 with the job's typed reason")
    func gatewayClientFailures() async throws {
        let served = try await RunningServe.start()
        let video = try await TestClip.make(at: served.directory.appendingPathComponent("talk.mp4"), seconds: 1)
        let email = "fail-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        #expect(try await Self.client(served, ["--email", email, video.path]).status == 0)

        let wrong = try await Self.client(served, ["--email", email, video.path], password: "not the passphrase")
        #expect(wrong.status == 2)
        #expect(wrong.text.contains("401 invalid_credentials"), "\(wrong.text)")

        let text = served.directory.appendingPathComponent("notes.mp4")
        try Data(String(repeating: "not a video ", count: 500).utf8).write(to: text)
        let failed = try await Self.client(served, ["--email", email, text.path])
        #expect(failed.status == 1)
        #expect(failed.text.contains("the job ended failed: not_media_file"), "\(failed.text)")
        #expect(!FileManager.default.fileExists(atPath: served.directory.appendingPathComponent("notes.mp3").path))

        let health = try await ExternalTool.run("curl", ["-s", "-w", "%{http_code}", "\(served.url)/healthz"])
        #expect(health.text == "200")
        let exited = try await served.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }
}
