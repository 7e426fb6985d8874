import AsyncHTTPClient
import Crypto
import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The webhook sender against a real HTTP receiver on loopback that answers from a script.
@Suite struct WebhookNotifierTests {
    static let secret = "whsec-test-0123456789abcdef"

    /// The receivers listen on loopback, which webhooks may not reach by default.
    static let loopbackAllowed = WebhookEgressPolicy(allowedNetworks: [IPNetwork("127.0.0.0/8")!])

    static func notifier(
        _ client: HTTPClient, ledger: InMemoryNotificationLedger, timeout: Duration = .seconds(5), maxAttempts: Int = 4,
        egress: WebhookEgressPolicy = loopbackAllowed, generations: (any JobStore)? = nil
    ) -> WebhookNotifier {
        WebhookNotifier(
            configuration: WebhookConfiguration(
                secret: SymmetricKey(data: Array(secret.utf8)), timeout: timeout, maxAttempts: maxAttempts,
                initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(400), egress: egress
            ),
            client: client, ledger: ledger, generations: generations
        )
    }

    /// An owner's secret as Docs/operations.md defines it, computed here independently of
    /// ``WebhookSigningSecrets``: `whsec_` + hex(HMAC-SHA256(master, "vmp3-webhook-secret" 0 OWNER 0 GENERATION)).
    static func ownerSecret(_ owner: String = "user-1", generation: Int = 0) -> String {
        let message = Array("vmp3-webhook-secret\u{0}\(owner)\u{0}\(generation)".utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "whsec_" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func finishedEvent() -> JobEvent {
        var job = Job(owner: "user-1", source: Job.sourceKey(for: JobID()), sourceName: "clip.mp4")
        job.status = .succeeded
        job.version = 3
        return JobEvent(kind: .status, job: job)
    }

    /// `v1` recomputed from the spec, independently of ``WebhookSignature``.
    static func expectedMAC(timestamp: String, body: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + body, using: SymmetricKey(data: Array(ownerSecret().utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    @Test("each owner's webhooks are signed with that owner's secret, at its current generation: another owner's secret, or a rotated-away one, does not verify")
    func perOwnerSecrets() async throws {
        let receiver = try await HTTPTestReceiver.start(script: [], fallback: .status(200))
        let client = WebhookNotifier.makeHTTPClient()
        let store = InMemoryJobStore()
        let notifier = Self.notifier(client, ledger: InMemoryNotificationLedger(), generations: store)
        func delivered(owner: UserID) async throws -> HTTPTestReceiver.Request {
            var job = Job(owner: owner, source: Job.sourceKey(for: JobID()), sourceName: "clip.mp4")
            job.status = .succeeded
            let before = receiver.requests.count
            try await notifier.deliver(JobEvent(kind: .status, job: job), to: .webhook(receiver.url))
            await receiver.waitForRequests(before + 1)
            return try #require(receiver.requests.last)
        }
        func verifies(_ request: HTTPTestReceiver.Request, _ secret: String) -> Bool {
            WebhookSignature.verify(header: request.header("VMP3-Signature") ?? "", body: request.body, secret: SymmetricKey(data: Array(secret.utf8)))
        }
        let ann = try await delivered(owner: "ann")
        let bob = try await delivered(owner: "bob")
        #expect(verifies(ann, Self.ownerSecret("ann")) && verifies(bob, Self.ownerSecret("bob")))
        #expect(!verifies(ann, Self.ownerSecret("bob")) && !verifies(bob, Self.ownerSecret("ann")), "bob's secret cannot sign ann's webhooks")
        #expect(WebhookSigningSecrets(master: Self.secret).secret(for: "ann", generation: 0) == Self.ownerSecret("ann"))

        #expect(try await store.rotateWebhookSecret(of: "ann") == 1)
        let rotated = try await delivered(owner: "ann")
        #expect(verifies(rotated, Self.ownerSecret("ann", generation: 1)))
        #expect(!verifies(rotated, Self.ownerSecret("ann", generation: 0)), "the old secret stops signing at once")
        #expect(verifies(try await delivered(owner: "bob"), Self.ownerSecret("bob")), "bob's secret did not move")

        // The receiver snippet of Docs/operations.md, run as it is printed there.
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let operations = try String(contentsOf: repository.appendingPathComponent("Docs/operations.md"), encoding: .utf8)
        let snippet = try #require(operations.firstMatch(of: /In Python:\n\n```python\n([\s\S]*?)```/).map { String($0.1) })
        let bodyFile = try makeScratchDirectory().appendingPathComponent("body.json")
        try Data(rotated.body).write(to: bodyFile)
        for (secret, expected) in [(Self.ownerSecret("ann", generation: 1), "True"), (Self.ownerSecret("ann"), "False"), (Self.ownerSecret("bob"), "False")] {
            let script = snippet + "\nimport sys\nprint(verify(sys.argv[1], open(sys.argv[2], 'rb').read(), sys.argv[3]))\n"
            let run = try await ExternalTool.run("python3", ["-c", script, rotated.header("VMP3-Signature") ?? "", bodyFile.path, secret])
            #expect(run.text.trimmingCharacters(in: .whitespacesAndNewlines) == expected, "\(run.text) \(run.stderr)")
        }
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test("a receiver answering 500 twice then 200 gets the event delivered once, same delivery id, valid signature")
    func retriedUntilDelivered() async throws {
        let receiver = try await HTTPTestReceiver.start(script: [.status(500), .status(503)], fallback: .status(200))
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let event = Self.finishedEvent()
        try await Self.notifier(client, ledger: ledger).deliver(event, to: .webhook(receiver.url))
        try await client.shutdown()
        try await receiver.stop()

        let requests = receiver.requests
        #expect(requests.count == 3)
        #expect(requests.map { $0.header("VMP3-Attempt") } == ["1", "2", "3"])
        #expect(Set(requests.map { $0.header("VMP3-Delivery") }) == [event.deliveryID])
        let delivered = try #require(requests.last)
        #expect(delivered.method == "POST" && delivered.uri == "/hook")
        #expect(delivered.header("Content-Type") == "application/json")
        #expect(delivered.header("VMP3-Event") == "job.succeeded")

        let header = try #require(delivered.header("VMP3-Signature"))
        let fields = Dictionary(uniqueKeysWithValues: header.split(separator: ",").map { field in
            let parts = field.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), String(parts[1]))
        })
        let timestamp = try #require(fields["t"])
        #expect(fields["v1"] == Self.expectedMAC(timestamp: timestamp, body: delivered.body))
        #expect(abs(Double(timestamp)! - Date().timeIntervalSince1970) < 60)
        #expect(WebhookSignature.verify(header: header, body: delivered.body, secret: SymmetricKey(data: Array(Self.ownerSecret().utf8))))
        #expect(!WebhookSignature.verify(header: header, body: delivered.body, secret: SymmetricKey(data: Array(Self.secret.utf8))), "never the master itself")

        let payload = try JobDocument.makeDecoder().decode(WebhookEvent.self, from: Data(delivered.body))
        #expect(payload.id == event.deliveryID && payload.type == "job.succeeded")
        #expect(payload.job.id == event.job.id && payload.job.status == .succeeded && payload.job.sourceName == "clip.mp4")

        let records = await ledger.records(for: event.job.id)
        #expect(records.map(\.outcome) == [.delivered] && records.first?.attempts == 3)
    }

    // A hang fails the test here instead of holding up the whole run.
    @Test("a receiver that never answers: given up after three attempts of the configured timeout, and recorded",
          .timeLimit(.minutes(10)))
    func receiverNeverAnswers() async throws {
        let receiver = try await HTTPTestReceiver.start(fallback: .noAnswer)
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let event = Self.finishedEvent()
        let start = ContinuousClock.now
        await #expect {
            try await Self.notifier(client, ledger: ledger, timeout: .seconds(1), maxAttempts: 3).deliver(event, to: .webhook(receiver.url))
        } throws: { error in
            // Timed out by the HTTP client's deadline, which is the configured second.
            let error = error as? NotificationError
            return error?.code == .timedOut && error?.attempts == 3 && error?.message == "no answer within 1.0 seconds"
        }
        let elapsed = ContinuousClock.now - start
        // 3 attempts of 1 s with 100 + 200 ms between them: never less. No upper bound on the
        // wall time: a starved run of the sanitized stage took 31 s once and 103 s another time
        // for the same three deadlines; the time limit above tells a give-up from a hang.
        #expect(elapsed >= .seconds(3), "took \(elapsed)")
        #expect(receiver.requests.count == 3)
        let records = await ledger.records(for: event.job.id)
        #expect(records.count == 1)
        #expect(records.first?.outcome == .gaveUp && records.first?.errorCode == "timed_out" && records.first?.attempts == 3)
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test("a receiver that answers 200 and then stalls its body holds nothing: delivered at its status, at once, the connection let go; twenty such deliveries at once do not hold up a healthy receiver",
          .timeLimit(.minutes(10)))
    func stalledBody() async throws {
        let stalling = try await HTTPTestReceiver.start(fallback: .stalledBody)
        let healthy = try await HTTPTestReceiver.start(fallback: .status(204))
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let notifier = Self.notifier(client, ledger: ledger, timeout: .seconds(30))
        let clock = ContinuousClock()
        let start = clock.now
        // The status is the answer; its body is not waited for (it used to be, with no deadline).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask { try await notifier.deliver(Self.finishedEvent(), to: .webhook(stalling.url)) }
            }
            try await group.waitForAll()
        }
        let event = Self.finishedEvent()
        try await notifier.deliver(event, to: .webhook(healthy.url))
        let elapsed = clock.now - start
        #expect(stalling.requests.count == 20, "each delivered in one attempt")
        #expect(healthy.requests.count == 1)
        #expect(await ledger.records(for: event.job.id).first?.outcome == .delivered)
        // Well under one attempt's 30 s deadline: nothing waited for a body that never came.
        #expect(elapsed < .seconds(25), "took \(elapsed)")
        try await client.shutdown()
        try await healthy.stop()
        try await stalling.stop()
    }

    @Test("a receiver whose deliveries keep being given up is backed off: one attempt a delivery, not all of them; once it answers, its deliveries go through and get every attempt again")
    func failingReceiverBackedOff() async throws {
        // Three deliveries of two attempts each fail (503) and back the receiver off; the fourth
        // gets one attempt (503 again); the receiver then answers 200.
        let receiver = try await HTTPTestReceiver.start(script: Array(repeating: .status(503), count: 7), fallback: .status(200))
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let notifier = Self.notifier(client, ledger: ledger, maxAttempts: 2)
        var events: [JobEvent] = []
        for _ in 1...4 {
            let event = Self.finishedEvent()
            events.append(event)
            await #expect(throws: NotificationError.self) { try await notifier.deliver(event, to: .webhook(receiver.url)) }
        }
        #expect(receiver.requests.count == 3 * 2 + 1, "the backed-off delivery had \(receiver.requests.count - 6) attempts")
        let backedOff = await ledger.records(for: events[3].job.id)
        #expect(backedOff.first?.attempts == 1 && backedOff.first?.errorCode == "unavailable")
        #expect(backedOff.first?.message?.contains("keeps failing") == true, "\(backedOff)")

        // Still backed off, but it answers now: delivered with its one attempt, which ends the backoff.
        let recovered = Self.finishedEvent()
        try await notifier.deliver(recovered, to: .webhook(receiver.url))
        #expect(receiver.requests.count == 8)
        #expect(await ledger.records(for: recovered.job.id).first?.outcome == .delivered)
        try await client.shutdown()
        try await receiver.stop()

        // Each receiver on its own: another one that fails gets every attempt at once.
        let other = try await HTTPTestReceiver.start(fallback: .status(503))
        let otherClient = WebhookNotifier.makeHTTPClient()
        await #expect(throws: NotificationError.self) {
            try await Self.notifier(otherClient, ledger: ledger, maxAttempts: 2).deliver(Self.finishedEvent(), to: .webhook(other.url))
        }
        #expect(other.requests.count == 2)
        try await otherClient.shutdown()
        try await other.stop()
    }

    @Test("the backoff's arithmetic: backed off after the set number of failures in a row, doubling to its maximum; a success forgets the receiver; at most the set number of receivers remembered")
    func backoffPolicy() async {
        let backoff = ReceiverBackoff(policy: .init(failuresBeforeBackoff: 2, initialBackoff: .seconds(10), maximumBackoff: .seconds(35), receivers: 2))
        await backoff.recordFailure("a:80")
        #expect(await backoff.backedOff("a:80") == nil)
        var start = ContinuousClock.now
        await backoff.recordFailure("a:80")
        var until = await backoff.backedOff("a:80")
        #expect(until.map { $0 - start >= .seconds(9) && $0 - start <= .seconds(11) } == true, "first: \(String(describing: until.map { $0 - start }))")
        start = .now
        await backoff.recordFailure("a:80")
        until = await backoff.backedOff("a:80")
        #expect(until.map { $0 - start >= .seconds(19) && $0 - start <= .seconds(21) } == true, "doubled")
        start = .now
        for _ in 0..<40 { await backoff.recordFailure("a:80") }
        until = await backoff.backedOff("a:80")
        #expect(until.map { $0 - start <= .seconds(36) } == true, "capped")
        await backoff.recordSuccess("a:80")
        #expect(await backoff.backedOff("a:80") == nil)
        await backoff.recordFailure("a:80")
        #expect(await backoff.backedOff("a:80") == nil, "a success starts the count again")

        // Two remembered at most: a third failing receiver forgets the least recently failed.
        await backoff.recordFailure("a:80")
        await backoff.recordFailure("b:80")
        await backoff.recordFailure("b:80")
        await backoff.recordFailure("c:80")
        await backoff.recordFailure("c:80")
        #expect(await backoff.backedOff("a:80") == nil)
        #expect(await backoff.backedOff("b:80") != nil)
        #expect(await backoff.backedOff("c:80") != nil)
    }

    @Test("4xx answers and redirects are not retried", arguments: [400, 410, 302])
    func rejected(status: Int) async throws {
        let receiver = try await HTTPTestReceiver.start(fallback: .status(status))
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let event = Self.finishedEvent()
        await #expect {
            try await Self.notifier(client, ledger: ledger).deliver(event, to: .webhook(receiver.url))
        } throws: { ($0 as? NotificationError)?.code == .rejected }
        #expect(receiver.requests.count == 1)
        #expect(await ledger.records(for: event.job.id).first?.errorCode == "rejected")
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test("an unreachable receiver is retried, then reported unavailable")
    func unreachable() async throws {
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let start = ContinuousClock.now
        // A deadline of 5 minutes an attempt: a refused connection must be reported when it is
        // refused, not when the deadline passes (2 × 300 s). The bound tells the two apart with
        // room for a sanitized run that starves every test for half a minute (33 s once, with
        // a 1 s deadline and a 30 s bound).
        await #expect {
            try await Self.notifier(client, ledger: ledger, timeout: .seconds(300), maxAttempts: 2)
                .deliver(Self.finishedEvent(), to: .webhook(URL(string: "http://127.0.0.1:1/hook")!))
        } throws: { error in
            let error = error as? NotificationError
            return error?.code == .unavailable && error?.attempts == 2
        }
        #expect(ContinuousClock.now - start < .seconds(240))
        try await client.shutdown()
    }

    @Test("a destination that is not an http(s) URL is refused before any request")
    func invalidDestination() async throws {
        let client = WebhookNotifier.makeHTTPClient()
        let notifier = Self.notifier(client, ledger: InMemoryNotificationLedger())
        for url in ["ftp://example.com/hook", "file:///etc/passwd", "http:///nohost"] {
            await #expect {
                try await notifier.deliver(Self.finishedEvent(), to: .webhook(URL(string: url)!))
            } throws: { ($0 as? NotificationError)?.code == .invalidDestination }
        }
        #expect(!notifier.supports(.email("a@b.c")) && notifier.supports(.webhook(URL(string: "http://x")!)))
        try await client.shutdown()
    }

    @Test("a webhook to an internal address (a loopback literal, or a name resolving to one) is refused at connect time: no request, not retried, recorded as forbidden_destination")
    func internalAddressRefused() async throws {
        let receiver = try await HTTPTestReceiver.start()
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let notifier = Self.notifier(client, ledger: ledger, egress: WebhookEgressPolicy())
        let port = try #require(receiver.url.port)
        for url in ["http://127.0.0.1:\(port)/hook", "http://localhost:\(port)/hook", "http://[::ffff:127.0.0.1]:\(port)/hook"] {
            let event = Self.finishedEvent()
            await #expect(throws: NotificationError.self) { try await notifier.deliver(event, to: .webhook(URL(string: url)!)) }
            let record = try #require(await ledger.records(for: event.job.id).first)
            #expect(record.outcome == .gaveUp && record.errorCode == "forbidden_destination" && record.attempts == 1, "\(url): \(record)")
        }
        #expect(receiver.requests.isEmpty)

        // Allowed, a name is connected to at the address it was checked at (pinned), TLS name kept.
        let allowed = Self.notifier(client, ledger: ledger)
        try await allowed.deliver(Self.finishedEvent(), to: .webhook(URL(string: "http://localhost:\(port)/hook")!))
        #expect(receiver.requests.count == 1)
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test("a signature checks out only with its body, its secret and a recent time")
    func signatureVerification() {
        let key = SymmetricKey(data: Array(Self.secret.utf8))
        let body = Array(#"{"id":"x"}"#.utf8)
        let now = Date()
        let header = WebhookSignature(body: body, secret: key, timestamp: Int64(now.timeIntervalSince1970)).headerValue
        #expect(header.hasPrefix("t=\(Int64(now.timeIntervalSince1970)),v1="))
        #expect(WebhookSignature.verify(header: header, body: body, secret: key, now: now))
        #expect(!WebhookSignature.verify(header: header, body: Array(#"{"id":"y"}"#.utf8), secret: key, now: now))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: SymmetricKey(data: Array("another-secret-value".utf8)), now: now))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: key, now: now.addingTimeInterval(3600)))
        #expect(!WebhookSignature.verify(header: "t=1,v1=zz", body: body, secret: key, now: now))
        #expect(!WebhookSignature.verify(header: "", body: body, secret: key, now: now))
    }

    @Test("the secret comes from the environment and must be long enough")
    func configuration() throws {
        #expect(throws: ConfigurationError.self) { try WebhookConfiguration(settings: Settings([:])) }
        #expect(throws: ConfigurationError.self) { try WebhookConfiguration(settings: Settings(["VMP3_WEBHOOK_SECRET": "short"])) }
        let configuration = try WebhookConfiguration(settings: Settings(["VMP3_WEBHOOK_SECRET": Self.secret]))
        #expect(configuration.backoff(before: 2) == .milliseconds(500) && configuration.backoff(before: 4) == .seconds(2))
        #expect(configuration.backoff(before: 30) == configuration.maxBackoff)
    }
}
