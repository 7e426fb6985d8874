import Crypto
import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The four services as separate processes, wired to the real RabbitMQ, Redis, S3 server and SMTP
/// receiver of `scripts/services.sh`, driven over HTTP only.
@Suite(.serialized) struct ServicesEndToEndTests {
    @Test("register, log in, upload a real clip, follow it to succeeded, download the MP3, get the signed webhook and the e-mail")
    func fullFlow() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_PUBLIC_URL"] = "https://vmp3.example.com"
        deployment.environment["VMP3_SMTP"] = "\(try TestServices.value("VMP3_TEST_SMTP_URL"))?from=vmp3@example.com&tls=none"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter", "vmp3-notifier"])
        let services = Array(deployment.services.values)
        let receiver = deployment.receiver
        let data = deployment.data
        let master = try #require(deployment.environment["VMP3_WEBHOOK_SECRET"])

        _ = try await deployment.makeClip("video.mp4", seconds: 3)
        let run = try await deployment.run("""
        JOB=$(curl -sf "$BASE/v1/jobs?bitrate=128&title=E2E&notify_email=true&webhook_url=\(receiver.url.absoluteString)" \\
          -H "Authorization: Bearer $TOKEN" --data-binary @video.mp4 | sed -E 's/.*"id":"([^"]+)".*/\\1/')
        echo "JOB=$JOB"
        curl -sf -N --max-time 60 $BASE/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN"
        curl -sf $BASE/v1/jobs/$JOB/download -H "Authorization: Bearer $TOKEN" -o video.mp3
        echo "SECRET=$(curl -sf $BASE/v1/webhook-secret -H "Authorization: Bearer $TOKEN")"
        """, user: "e2e@example.com")
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
        // Signed with the user's own secret, as GET /v1/webhook-secret shows it; not the master.
        let line = try #require(run.text.split(separator: "\n").first { $0.hasPrefix("SECRET=") }?.dropFirst(7), "\(run.text)")
        let shown = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(shown?["generation"] as? Int == 0)
        let secret = try #require(shown?["secret"] as? String)
        #expect(secret.wholeMatch(of: /whsec_[0-9a-f]{64}/) != nil)
        #expect(WebhookSignature.verify(header: hook.header("VMP3-Signature") ?? "", body: hook.body, secret: SymmetricKey(data: Array(secret.utf8))))
        #expect(!WebhookSignature.verify(header: hook.header("VMP3-Signature") ?? "", body: hook.body, secret: SymmetricKey(data: Array(master.utf8))))

        // The e-mail, with its download link.
        let mail = try #require(try ReceivedMail.find(withID: "\(jobID).succeeded@example.com", in: try TestServices.value("VMP3_TEST_MAILDIR")))
        #expect(mail.headers["to"] == "e2e@example.com")
        #expect(mail.body.contains("https://vmp3.example.com/v1/jobs/\(jobID)/download"))

        // Every service answers /healthz, /readyz (its backends answer) and /metrics (Prometheus text).
        for service in services {
            for path in ["healthz", "readyz"] {
                let health = try await ExternalTool.run("curl", ["-s", "-w", "%{http_code}", "\(service.url)/\(path)"])
                #expect(health.text == "200", "\(service.url)/\(path): \(health.text)")
            }
            let metrics = try await ExternalTool.run("curl", ["-sf", "\(service.url)/metrics"])
            #expect(metrics.status == 0 && metrics.text.contains("# TYPE"), "\(service.url): \(metrics.text.prefix(300))")
        }

        for service in services { service.process.kill(SIGTERM) }
        for service in services {
            let output = try await service.process.finish()
            #expect(output.status == 0, "\(output.stderr.suffix(2000))")
        }
        try await receiver.stop()
    }

    @Test("the converter killed with SIGKILL mid-job and started again: the job still succeeds, with one output and one notification")
    func converterKilled() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter", "vmp3-notifier"])
        let jobID = try await deployment.uploadLongJobAndWaitUntilRunning()
        let killed = try #require(deployment.services["vmp3-converter"])
        killed.process.kill(SIGKILL)
        #expect(try await killed.process.finish().status == 128 + SIGKILL)
        try await deployment.start("vmp3-converter")

        let followed = try await deployment.job(jobID, follow: true)
        #expect(followed.contains(#""status":"succeeded""#), "\(followed)")
        #expect(followed.contains(#""attempts":2"#), "the job ran twice: \(followed)")

        // One output object for the job in storage, and one webhook.
        #expect(try await deployment.outputSize(of: jobID) > 1_000_000)
        await deployment.receiver.waitForRequests(1)
        try await Task.sleep(for: .seconds(1))
        #expect(deployment.receiver.requests.count == 1)
        try await deployment.stopAll()
    }

    @Test("the converter stopped with SIGTERM mid-job: it finishes the job within its grace period, or, with none, returns it to the queue for the next converter; it exits 0 either way")
    func converterStopped() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter", "vmp3-notifier"])

        // The default grace period (30 s): the job is done before the converter exits.
        let finished = try await deployment.uploadLongJobAndWaitUntilRunning()
        let first = try #require(deployment.services["vmp3-converter"])
        first.process.kill(SIGTERM)
        #expect(try await first.process.finish().status == 0)
        let done = try await deployment.job(finished)
        #expect(done.contains(#""status":"succeeded""#) && done.contains(#""attempts":1"#), "\(done)")

        // No grace period: the job goes back to the queue at once, and the next converter runs it.
        deployment.environment["VMP3_SHUTDOWN_GRACE_SECONDS"] = "0"
        try await deployment.start("vmp3-converter")
        let returned = try await deployment.uploadLongJobAndWaitUntilRunning()
        let second = try #require(deployment.services["vmp3-converter"])
        second.process.kill(SIGTERM)
        #expect(try await second.process.finish().status == 0)
        let requeued = try await deployment.job(returned)
        #expect(requeued.contains(#""status":"queued""#), "\(requeued)")
        deployment.environment["VMP3_SHUTDOWN_GRACE_SECONDS"] = nil
        try await deployment.start("vmp3-converter")
        // A run stopped by a shutdown is not counted against the job's attempts.
        let followed = try await deployment.job(returned, follow: true)
        #expect(followed.contains(#""status":"succeeded""#) && followed.contains(#""attempts":1"#), "\(followed)")

        #expect(try await deployment.outputSize(of: finished) > 1_000_000)
        #expect(try await deployment.outputSize(of: returned) > 1_000_000)
        await deployment.receiver.waitForRequests(2)
        try await Task.sleep(for: .seconds(1))
        #expect(deployment.receiver.requests.count == 2)
        try await deployment.stopAll()
    }

    @Test("a job whose converter is SIGKILLed every time it runs it ends failed (gave_up) once its attempts reach the limit, its source deleted; the next job on that converter succeeds")
    func poisonJobGivesUp() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_MAX_ATTEMPTS"] = "2"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter", "vmp3-notifier"])
        let jobID = try await deployment.uploadLongJobAndWaitUntilRunning()
        for attempt in 1...2 {
            if attempt > 1 {
                // The next converter takes the job over once the dead one's lease (4 s) expires.
                try await deployment.start("vmp3-converter")
                let running = try await deployment.run("""
                for i in $(seq 1 300); do
                  curl -sf $BASE/v1/jobs/\(jobID) -H "Authorization: Bearer $TOKEN" | grep '"status":"running"' | grep -q '"attempts":\(attempt)' && { echo RUNNING; break; }
                  sleep 0.1
                done
                """, user: "fault@example.com")
                if !running.text.contains("RUNNING") {
                    Issue.record("attempt \(attempt) never ran: \(try await deployment.job(jobID))")
                }
            }
            let converter = try #require(deployment.services["vmp3-converter"])
            converter.process.kill(SIGKILL)
            #expect(try await converter.process.finish().status == 128 + SIGKILL)
        }
        // The third converter finds the job out of attempts before starting it again.
        try await deployment.start("vmp3-converter")
        let followed = try await deployment.job(jobID, follow: true)
        #expect(followed.contains(#""status":"failed""#) && followed.contains(#""code":"gave_up""#), "\(followed)")
        #expect(followed.contains(#""attempts":2"#), "\(followed)")
        await deployment.receiver.waitForRequests(1)
        #expect(deployment.receiver.requests.first?.header("VMP3-Delivery") == "\(jobID).failed")
        #expect(try await deployment.storedObjects().filter { $0.hasPrefix("sources/") }.isEmpty, "the source of the failed job is kept")

        _ = try await deployment.makeClip()
        let next = try await deployment.run("""
        JOB=$(curl -sf "$BASE/v1/jobs" -H "Authorization: Bearer $TOKEN" --data-binary @clip.mp4 | sed -E 's/.*"id":"([^"]+)".*/\\1/')
        curl -sf -N --max-time 60 $BASE/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN" | tail -c 500
        """)
        #expect(next.text.contains(#""status":"succeeded""#), "\(next.text) \(next.stderr)")
        try await deployment.stopAll()
    }

    @Test("the notifier down while a job finishes: the notification goes out when it comes back")
    func notifierDown() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", deployment.data.appendingPathComponent("clip.m4a").path])
        let run = try await deployment.run("""
        JOB=$(curl -sf "$BASE/v1/jobs?webhook_url=\(deployment.receiver.url.absoluteString)" -H "Authorization: Bearer $TOKEN" --data-binary @clip.m4a | sed -E 's/.*"id":"([^"]+)".*/\\1/')
        echo "JOB=$JOB"
        curl -sf -N --max-time 60 $BASE/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN" | tail -c 500
        """)
        #expect(run.text.contains(#""status":"succeeded""#), "\(run.text) \(run.stderr)")
        let jobID = try #require(run.text.firstMatch(of: /JOB=([0-9a-f-]{36})/).map { String($0.1) })
        try await Task.sleep(for: .milliseconds(500))
        #expect(deployment.receiver.requests.isEmpty)

        try await deployment.start("vmp3-notifier")
        await deployment.receiver.waitForRequests(1)
        #expect(deployment.receiver.requests.first?.header("VMP3-Delivery") == "\(jobID).succeeded")
        try await deployment.stopAll()
    }

    @Test("schemathesis, run against /openapi.json of the vmp3-gateway process (auth forwarded to vmp3-auth), finds no server error and no response outside the schema")
    func schemathesis() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        let run = try await Schemathesis.run(against: try #require(deployment.services["vmp3-gateway"]).url, examples: 30)
        #expect(run.status == 0, "\(run.text.suffix(4000)) \(run.stderr.suffix(2000))")
        #expect(run.text.contains("passed"))
        try await deployment.stopAll()
    }
}
