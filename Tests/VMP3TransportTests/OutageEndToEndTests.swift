import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The four services through outages of what they stand on. On the fault broker and a Redis of
/// the test's own, in the serialized fault suite: restarting them disturbs no other test.
extension AMQPFaultTests {
    @Test("RabbitMQ restarted, then Redis restarted, during a batch of jobs on the services: every job ends succeeded with its MP3, none lost")
    func brokersRestartDuringBatch() async throws {
        try await TestServices.control("start-fault-rabbitmq")
        let redisData = try makeScratchDirectory()
        var redis = try await ScratchRedis.start(dataDirectory: redisData)
        let redisPort = redis.port
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_QUEUE"] = "\(try TestServices.url("VMP3_TEST_FAULT_AMQP_URL").absoluteString)?prefix=\(deployment.name)."
        deployment.environment["VMP3_STORE"] = "redis://127.0.0.1:\(redisPort)/0?prefix=\(deployment.name):"
        try await deployment.start(withAuth: ["vmp3-gateway"])
        let (token, _) = try await deployment.signIn()

        // Eight minutes of audio each: a few seconds of conversion, so that the batch outlasts both restarts.
        let audio = deployment.data.appendingPathComponent("talk.m4a")
        try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=480", "-c:a", "aac", "-b:a", "64k", audio.path])
        let base = try #require(deployment.services["vmp3-gateway"]).url
        var ids: [String] = []
        for _ in 1...10 {
            let upload = try await ExternalTool.run("curl", ["-sf", "\(base)/v1/jobs", "-H", "Authorization: Bearer \(token)", "--data-binary", "@\(audio.path)"])
            ids.append(try #require(upload.text.firstMatch(of: /"id":"([0-9a-f-]{36})"/).map { String($0.1) }, "\(upload.text) \(upload.stderr)"))
        }
        func done(_ statuses: [String: String]) -> Int { statuses.values.filter { $0 == "succeeded" }.count }
        // The whole batch is queued before the converter starts on it (uploads take longer than conversions).
        try await deployment.start("vmp3-converter")

        try await deployment.waitForStatuses(token: token, "a first job done") { done($0) >= 1 }
        #expect(done(try await deployment.statuses(token: token)) < ids.count - 2, "the batch was over before the broker stopped")
        try await TestServices.control("stop-fault-rabbitmq")
        try await Task.sleep(for: .seconds(2))
        try await TestServices.control("start-fault-rabbitmq")

        let before = done(try await deployment.statuses(token: token))
        try await deployment.waitForStatuses(token: token, "a job done after the broker's restart") { done($0) > before }
        #expect(done(try await deployment.statuses(token: token)) < ids.count, "the batch was over before Redis stopped")
        try await redis.stop()
        try await Task.sleep(for: .seconds(2))
        redis = try await ScratchRedis.start(port: redisPort, dataDirectory: redisData)

        let final = try await deployment.waitForStatuses(token: token, "every job to end", timeout: .seconds(300)) { statuses in
            statuses.count == ids.count && statuses.values.allSatisfy { ["succeeded", "failed", "cancelled"].contains($0) }
        }
        #expect(final.values.allSatisfy { $0 == "succeeded" }, "\(final)")
        for id in ids { #expect(try await deployment.outputSize(of: id) > 100_000) }
        try await deployment.stopAll()
        try await redis.stop()
        try await TestServices.control("stop-fault-rabbitmq")
    }
}

extension ServicesEndToEndTests {
    @Test("a gateway that died between writing a job and publishing its message: the converter's sweep publishes it again and the job finishes")
    func lostMessageRepublished() async throws {
        var deployment = try await Deployment.make()
        deployment.environment["VMP3_REQUEUE_AFTER_SECONDS"] = "2"
        deployment.environment["VMP3_MAINTENANCE_INTERVAL_SECONDS"] = "0.5"
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        let (token, user) = try await deployment.signIn()

        // What the gateway had written when it died: the source and the record, no message.
        let storage = S3ObjectStore(configuration: try S3Configuration(url: URL(string: try #require(deployment.environment["VMP3_STORAGE"]))!), credentials: S3ObjectStoreTests.credentials)
        let store = RedisJobStore(endpoint: try RedisEndpoint(url: try TestServices.redis), prefix: "\(deployment.name):")
        let id = JobID()
        let job = Job(id: id, owner: user, source: Job.sourceKey(for: id), sourceName: "clip.mp4")
        _ = try await storage.put(job.source, fromFile: try await deployment.makeClip(), contentType: "video/mp4")
        try await store.create(job, idempotencyKey: nil)

        let statuses = try await deployment.waitForStatuses(token: token, "the orphaned job to finish", timeout: .seconds(60)) {
            ["succeeded", "failed"].contains($0[id.rawValue] ?? "")
        }
        #expect(statuses[id.rawValue] == "succeeded")
        #expect(try await deployment.outputSize(of: id.rawValue) > 1000)
        try await deployment.stopAll()
    }
}

extension ServicesEndToEndTests {
    @Test("a webhook that reaches an internal address when the notifier connects (the gateway let it through, as it would a name that resolves elsewhere later) is refused by the notifier: no request arrives")
    func webhookToInternalAddressRefused() async throws {
        var deployment = try await Deployment.make()
        try await deployment.start(withAuth: ["vmp3-gateway", "vmp3-converter"])
        deployment.environment["VMP3_WEBHOOK_ALLOWED_NETWORKS"] = ""
        try await deployment.start("vmp3-notifier")
        _ = try await deployment.makeClip()
        let run = try await deployment.run("""
        curl -sf "$BASE/v1/jobs?webhook_url=\(deployment.receiver.url.absoluteString)" -H "Authorization: Bearer $TOKEN" --data-binary @clip.mp4 > job.json
        JOB=$(sed -E 's/.*"id":"([^"]+)".*/\\1/' job.json)
        curl -sf -N --max-time 60 $BASE/v1/jobs/$JOB/events -H "Authorization: Bearer $TOKEN" | tail -c 300
        """)
        #expect(run.text.contains(#""status":"succeeded""#), "\(run.text) \(run.stderr)")
        try await Task.sleep(for: .seconds(3))
        #expect(deployment.receiver.requests.isEmpty)
        let notifier = try #require(deployment.services["vmp3-notifier"])
        deployment.services["vmp3-notifier"] = nil
        notifier.process.kill(SIGTERM)
        let log = try await notifier.process.finish().stderr
        #expect(log.contains("forbidden_destination"), "\(log.suffix(2000))")
        try await deployment.stopAll()
    }
}

extension ServeEndToEndTests {
    @Test("`vmp3 serve` refuses a webhook URL naming an internal address with 422, and stores nothing")
    func internalWebhookRefused() async throws {
        let served = try await RunningServe.start(environment: ["VMP3_WEBHOOK_ALLOWED_NETWORKS": ""])
        let video = try await TestClip.make(at: served.directory.appendingPathComponent("clip.mp4"), seconds: 1)
        let credentials = #"{"email":"ssrf@example.com","password":"a long passphrase"}"#
        _ = try await ExternalTool.run("curl", ["-sf", "\(served.url)/v1/auth/register", "-H", "Content-Type: application/json", "-d", credentials])
        let login = try await ExternalTool.run("curl", ["-sf", "\(served.url)/v1/auth/login", "-H", "Content-Type: application/json", "-d", credentials])
        let token = try #require(login.text.firstMatch(of: /"access_token":"([^"]+)"/).map { String($0.1) })
        for hook in ["http://127.0.0.1:9/hook", "http://localhost:8080/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"] {
            let encoded = hook.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? hook
            let upload = try await ExternalTool.run("curl", [
                "-s", "-w", "\n%{http_code}", "\(served.url)/v1/jobs?webhook_url=\(encoded)", "-H", "Authorization: Bearer \(token)", "--data-binary", "@\(video.path)",
            ])
            #expect(upload.text.hasSuffix("422") && upload.text.contains("invalid_option"), "\(hook): \(upload.text)")
        }
        let list = try await ExternalTool.run("curl", ["-sf", "\(served.url)/v1/jobs", "-H", "Authorization: Bearer \(token)"])
        #expect(list.text.contains(#""jobs":[]"#), "\(list.text)")
        let exited = try await served.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }
}
