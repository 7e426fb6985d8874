import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import ServiceLifecycle
import Testing
import VMP3Kit
import VMP3TestSupport
@testable import VMP3Transport

/// The notifier's loop with the real webhook sender and a real receiver.
@Suite struct NotificationDispatcherTests {
    static func outcome(webhook: URL?) -> JobEvent {
        var job = Job(owner: "user-1", source: Job.sourceKey(for: JobID()), webhookURL: webhook)
        job.status = .succeeded
        return JobEvent(kind: .status, job: job)
    }

    @Test("an outcome published three times (a redelivery, a second converter) is sent once; a job without a webhook sends nothing")
    func oncePerOutcome() async throws {
        let receiver = try await HTTPTestReceiver.start()
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let outcomes = InMemoryMessageQueue<JobEvent>()
        let webhook = WebhookNotifier(
            configuration: WebhookConfiguration(secret: SymmetricKey(data: Array("dispatcher-test-secret".utf8)), egress: WebhookNotifierTests.loopbackAllowed),
            client: client, ledger: ledger
        )
        let dispatcher = NotificationDispatcher(outcomes: outcomes, notifiers: [webhook], ledger: ledger, concurrency: 4)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: dispatcher)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }

        let twice = Self.outcome(webhook: receiver.url)
        let quiet = Self.outcome(webhook: nil)
        let sentinel = Self.outcome(webhook: receiver.url)
        for event in [twice, quiet, twice, twice] { try await outcomes.publish(event) }
        // The duplicates were handled before or beside the first: after the sentinel arrives and
        // a moment more, no second request for `twice` may come.
        try await outcomes.publish(sentinel)
        await receiver.waitForRequests(2)
        try await Task.sleep(for: .milliseconds(300))

        let deliveries = receiver.requests.compactMap { $0.header("VMP3-Delivery") }
        #expect(deliveries.sorted() == [twice.deliveryID, sentinel.deliveryID].sorted())
        #expect(await ledger.records(for: twice.job.id).map(\.outcome) == [.delivered])
        #expect(await ledger.records(for: quiet.job.id).isEmpty)

        await group.triggerGracefulShutdown()
        try await running.value
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test("with the ledger in Redis, a notifier started later (another process, a restart) does not send an outcome again")
    func sharedLedger() async throws {
        let receiver = try await HTTPTestReceiver.start()
        let client = WebhookNotifier.makeHTTPClient()
        let prefix = "test-\(UUID().uuidString.prefix(8)):"
        let event = Self.outcome(webhook: receiver.url)

        for round in 1...2 {
            // A fresh ledger object each round: only Redis carries what the first one recorded.
            let ledger = RedisNotificationLedger(endpoint: try RedisEndpoint(url: try TestServices.redis), prefix: prefix)
            let outcomes = InMemoryMessageQueue<JobEvent>()
            let webhook = WebhookNotifier(
                configuration: WebhookConfiguration(secret: SymmetricKey(data: Array("dispatcher-test-secret".utf8)), egress: WebhookNotifierTests.loopbackAllowed),
            client: client, ledger: ledger
            )
            let dispatcher = NotificationDispatcher(outcomes: outcomes, notifiers: [webhook], ledger: ledger)
            try await outcomes.publish(event)
            let subscription = try await outcomes.subscribe(prefetch: 1)
            var iterator = subscription.makeAsyncIterator()
            let delivery = try #require(try await iterator.next())
            await dispatcher.handle(delivery)
            await subscription.close()
            let records = try await ledger.records(for: event.job.id)
            #expect(records.map(\.outcome) == [.delivered], "round \(round)")
            #expect(records.first?.deliveryID == event.deliveryID && records.first?.channel == "webhook")
        }
        #expect(receiver.requests.count == 1)
        try await client.shutdown()
        try await receiver.stop()
    }

    @Test("stalled receivers hold one place each: with three receivers that never answer and four outcomes for each, a healthy receiver's webhook goes out at once; on shutdown the waiting outcomes go back to the queue, none given up",
          .timeLimit(.minutes(5)))
    func stalledReceiversHoldTheirShare() async throws {
        let stalled = [
            try await HTTPTestReceiver.start(fallback: .noAnswer), try await HTTPTestReceiver.start(fallback: .noAnswer),
            try await HTTPTestReceiver.start(fallback: .noAnswer),
        ]
        let healthy = try await HTTPTestReceiver.start(fallback: .status(204))
        let client = WebhookNotifier.makeHTTPClient()
        let ledger = InMemoryNotificationLedger()
        let outcomes = InMemoryMessageQueue<JobEvent>()
        // One attempt of 60 s: without a share per receiver, the first four outcomes (all for
        // the first stalled receiver) would take the four places for a minute.
        let webhook = WebhookNotifier(
            configuration: WebhookConfiguration(
                secret: SymmetricKey(data: Array("dispatcher-test-secret".utf8)), timeout: .seconds(60), maxAttempts: 1,
                egress: WebhookNotifierTests.loopbackAllowed
            ),
            client: client, ledger: ledger
        )
        let dispatcher = NotificationDispatcher(outcomes: outcomes, notifiers: [webhook], ledger: ledger, concurrency: 4, perReceiver: 1)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: dispatcher)], logger: Logger(label: "test")))
        let running = Task { try await group.run() }

        var waiting: [JobEvent] = []
        for receiver in stalled {
            for _ in 0..<4 {
                let event = Self.outcome(webhook: receiver.url)
                waiting.append(event)
                try await outcomes.publish(event)
            }
        }
        let event = Self.outcome(webhook: healthy.url)
        try await outcomes.publish(event)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await healthy.waitForRequests(1, timeout: .seconds(30)))
        #expect(clock.now - start < .seconds(30), "the healthy receiver waited for the stalled ones")
        try await Task.sleep(for: .milliseconds(300))
        #expect(await ledger.records(for: event.job.id).map(\.outcome) == [.delivered])
        // Each stalled receiver has one request open, never more.
        #expect(stalled.map(\.requests.count) == [1, 1, 1])

        let stopping = clock.now
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(clock.now - stopping < .seconds(20), "stopping waited for the stalled receivers")
        for event in waiting {
            #expect(await ledger.records(for: event.job.id).isEmpty, "an outcome that was never sent was recorded")
        }
        // All twelve are back in the queue for the next notifier.
        let subscription = try await outcomes.subscribe(prefetch: 16)
        var iterator = subscription.makeAsyncIterator()
        var back: Set<String> = []
        while back.count < waiting.count, let delivery = try await iterator.next() {
            back.insert(delivery.message.deliveryID)
            try await delivery.acknowledge()
        }
        #expect(back == Set(waiting.map(\.deliveryID)))
        await subscription.close()
        try await client.shutdown()
        for receiver in stalled + [healthy] { try await receiver.stop() }
    }
}
