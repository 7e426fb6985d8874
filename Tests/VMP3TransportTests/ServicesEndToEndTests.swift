import Crypto
import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The four services as separate processes, wired to the real RabbitMQ, Redis, S3 server and SMTP
/// receiver of `scripts/services.sh`, driven over HTTP only.
@Suite(.serialized) struct ServicesEndToEndTests {
    /// A started service and the address it printed.
    struct Started {
        let process: ExternalTool.Running
        let url: String
    }

    static func start(_ name: String, environment: [String: String]) async throws -> Started {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let process = try ExternalTool.start("/usr/bin/env", assignments + [builtExecutable(name)])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            if let match = process.outputSoFar().firstMatch(of: /listening on (http:\/\/[0-9.]+:[0-9]+)/) {
                return Started(process: process, url: String(match.1))
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.kill(SIGKILL)
        let output = try await process.finish()
        throw ExternalTool.Failure(description: "\(name) did not start: \(output.stderr)")
    }

    @Test("register, log in, upload a real clip, follow it to succeeded, download the MP3, get the signed webhook and the e-mail")
    func fullFlow() async throws {
        let name = "e2e-\(UUID().uuidString.prefix(8).lowercased())"
        let secret = "e2e-webhook-secret-\(UUID().uuidString)"
        let data = try makeScratchDirectory()
        let storage = "s3://\(name)?endpoint=\(try TestServices.s3Endpoint.absoluteString)&region=us-east-1"
        try await S3ObjectStore(configuration: try S3Configuration(url: URL(string: storage)!), credentials: S3ObjectStoreTests.credentials).createBucketIfNeeded()
        let receiver = try await HTTPTestReceiver.start()
        var environment = [
            "VMP3_STORAGE": storage, "AWS_ACCESS_KEY_ID": "vmp3-test", "AWS_SECRET_ACCESS_KEY": "vmp3-test-secret",
            "VMP3_QUEUE": "\(try TestServices.amqp.absoluteString)?prefix=\(name).",
            "VMP3_STORE": "\(try TestServices.redis.absoluteString)?prefix=\(name):",
            "VMP3_DATA_DIR": data.path, "VMP3_HTTP_ADDRESS": "127.0.0.1:0", "VMP3_LOG_LEVEL": "info",
            "VMP3_WEBHOOK_SECRET": secret, "VMP3_PUBLIC_URL": "https://vmp3.example.com",
            "VMP3_SMTP": "\(try TestServices.value("VMP3_TEST_SMTP_URL"))?from=vmp3@example.com&tls=none",
            "VMP3_CONCURRENCY": "1",
        ]
        let auth = try await Self.start("vmp3-auth", environment: environment)
        environment["VMP3_AUTH_URL"] = auth.url
        let gateway = try await Self.start("vmp3-gateway", environment: environment)
        let converter = try await Self.start("vmp3-converter", environment: environment)
        let notifier = try await Self.start("vmp3-notifier", environment: environment)
        let services = [auth, gateway, converter, notifier]

        let video = data.appendingPathComponent("video.mp4")
        try await ExternalTool.ffmpeg([
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", video.path,
        ])
        let login = #"-H 'Content-Type: application/json' -d '{"email":"e2e@example.com","password":"a long passphrase"}'"#
        let base = gateway.url
        let script = """
        set -e
        cd '\(data.path)'
        curl -sf \(base)/v1/auth/register \(login) > /dev/null
        TOKEN=$(curl -sf \(base)/v1/auth/login \(login) | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
        JOB=$(curl -sf "\(base)/v1/jobs?bitrate=128&title=E2E&notify_email=true&webhook_url=\(receiver.url.absoluteString)" \\
          -H "Authorization: Bearer $TOKEN" --data-binary @video.mp4 | sed -E 's/.*"id":"([^"]+)".*/\\1/')
        echo "JOB=$JOB"
        curl -sf -N --max-time 60 \(base)/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN"
        curl -sf \(base)/v1/jobs/$JOB/download -H "Authorization: Bearer $TOKEN" -o video.mp3
        """
        let run = try await ExternalTool.run("/bin/bash", ["-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.text.contains(#""status":"succeeded""#), "\(run.text)")
        let jobID = try #require(run.text.firstMatch(of: /JOB=([0-9a-f-]{36})/).map { String($0.1) })

        let probe = try await ExternalTool.run("ffprobe", ["-v", "error", "-show_entries", "format=format_name,duration", "-of", "csv=p=0", data.appendingPathComponent("video.mp3").path])
        #expect(probe.text.hasPrefix("mp3,3."), "\(probe.text) \(probe.stderr)")

        // The webhook: once, signed with the secret.
        await receiver.waitForRequests(1)
        try await Task.sleep(for: .milliseconds(500))
        let hooks = receiver.requests
        #expect(hooks.count == 1)
        let hook = try #require(hooks.first)
        #expect(hook.header("VMP3-Delivery") == "\(jobID).succeeded")
        #expect(WebhookSignature.verify(header: hook.header("VMP3-Signature") ?? "", body: hook.body, secret: SymmetricKey(data: Array(secret.utf8))))

        // The e-mail, with its download link.
        let maildir = URL(fileURLWithPath: try TestServices.value("VMP3_TEST_MAILDIR")).appendingPathComponent("new")
        let mails = try FileManager.default.contentsOfDirectory(atPath: maildir.path).map {
            try String(contentsOf: maildir.appendingPathComponent($0), encoding: .utf8)
        }
        let mail = try #require(mails.first { $0.contains("Message-ID: <\(jobID).succeeded@example.com>") })
        #expect(mail.contains("To: e2e@example.com"))
        #expect(mail.contains("https://vmp3.example.com/v1/jobs/\(jobID)/download"))

        for service in services { service.process.kill(SIGTERM) }
        for service in services {
            let output = try await service.process.finish()
            #expect(output.status == 0, "\(output.stderr.suffix(2000))")
        }
        try await receiver.stop()
    }
}
