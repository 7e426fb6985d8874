import Foundation
import Testing
import VMP3Conformance
import VMP3Kit
@testable import VMP3Transport

/// The RabbitMQ queue against a real broker.
// One check at a time: each declares quorum queues (a Raft group each, started by the broker)
// and opens connections; all at once, beside the rest of the suite, they kept the broker busy past
// its clients' login timeout on a loaded machine.
@Suite(.serialized) struct AMQPMessageQueueTests {
    static func queue<M: Codable & Sendable>(_: M.Type = ConformanceMessage.self, heartbeat: Int = 30) throws -> AMQPMessageQueue<M> {
        var endpoint = try AMQPEndpoint(url: try TestServices.amqp)
        endpoint.heartbeat = heartbeat
        // A hang detector, not a measure: the broker shares two cores with the whole suite.
        endpoint.connectTimeout = .seconds(30)
        return AMQPMessageQueue<M>(endpoint: endpoint, name: "test-\(UUID().uuidString.prefix(8))")
    }

    @Test("AMQPMessageQueue", arguments: MessageQueueConformance.checks)
    func conformance(_ check: MessageQueueConformance.Check) async throws {
        try await check.run(try Self.queue())
    }

    @Test("shutdown closes the publishing connection and ends its thread: a publish afterwards fails at once")
    func shutdown() async throws {
        let queue = try Self.queue()
        try await queue.publish(ConformanceMessage(1, text: "before"))
        await queue.shutdown()
        let started = ContinuousClock.now
        let error = await #expect(throws: QueueError.self) { try await queue.publish(ConformanceMessage(2, text: "after")) }
        #expect(error?.code == .unavailable)
        #expect(ContinuousClock.now - started < .seconds(2), "a stopped thread answers at once, not after a timeout")
    }

    @Test("the broker itself dead-letters a message delivered more often than the queue's delivery limit")
    func deliveryLimit() async throws {
        let queue = AMQPMessageQueue<ConformanceMessage>(
            endpoint: try AMQPEndpoint(url: try TestServices.amqp), name: "limit-\(UUID().uuidString.prefix(8))", deliveryLimit: 2
        )
        try await queue.publish(ConformanceMessage(1, text: "poison"))
        let subscription = try await queue.subscribe(prefetch: 1)
        let inbox = Inbox(subscription)
        // Delivered, then handed back without being settled, as by consumers that die with it.
        // The broker lets a message be returned as often as the limit, and dead-letters it the next time.
        for _ in 1...3 { try await inbox.takeOne().requeue() }
        try await inbox.expectNothing(for: .seconds(1), "a message past its delivery limit")
        var dead: [DeadLetter<ConformanceMessage>] = []
        try await eventually("the broker's dead letter") {
            dead += try await queue.takeDeadLetters(limit: 5)
            return !dead.isEmpty
        }
        #expect(dead.map(\.message) == [ConformanceMessage(1, text: "poison")])
        await subscription.close()
    }
}

/// RabbitMQ failures, on a broker of these tests' own (`scripts/services.sh start-fault-rabbitmq`)
/// so that stopping it disturbs no other test.
@Suite(.serialized) struct AMQPFaultTests {
    @Test("the broker restarts while a consumer holds unacknowledged messages: all are redelivered, none lost; a publish while it is down fails")
    func brokerRestart() async throws {
        try await TestServices.control("start-fault-rabbitmq")
        let endpoint = try AMQPEndpoint(url: try TestServices.url("VMP3_TEST_FAULT_AMQP_URL"))
        let queue = AMQPMessageQueue<ConformanceMessage>(endpoint: endpoint, name: "fault-\(UUID().uuidString.prefix(8))")
        for number in 1...5 { try await queue.publish(ConformanceMessage(number)) }
        let subscription = try await queue.subscribe(prefetch: 10)
        let inbox = Inbox(subscription)
        let held = try await inbox.take(5)

        try await TestServices.control("stop-fault-rabbitmq")
        await #expect { try await queue.publish(ConformanceMessage(99)) } throws: { ($0 as? QueueError)?.code == .unavailable }

        try await TestServices.control("start-fault-rabbitmq")
        let redelivered = try await inbox.take(5, within: .seconds(60))
        #expect(redelivered.map(\.message.number).sorted() == [1, 2, 3, 4, 5])
        #expect(redelivered.allSatisfy { $0.deliveryCount >= 2 })
        // A delivery of the lost connection cannot be settled: the broker owns it again.
        await #expect { try await held[0].acknowledge() } throws: { ($0 as? QueueError)?.code == .unknownDelivery }
        for delivery in redelivered { try await delivery.acknowledge() }
        try await queue.publish(ConformanceMessage(6))
        let sixth = try await inbox.takeOne(within: .seconds(20))
        #expect(sixth.message.number == 6 && sixth.deliveryCount == 1)
        try await sixth.acknowledge()
        await subscription.close()
        let check = try await queue.subscribe(prefetch: 10)
        try await Inbox(check).expectNothing(for: .seconds(1), "after everything was acknowledged")
        await check.close()
        // Not left running into the sanitized stage, where it would only take CPU from other tests.
        try await TestServices.control("stop-fault-rabbitmq")
    }

    @Test("heartbeats keep a consumer's connection alive while it holds a delivery for many heartbeat intervals")
    func heartbeats() async throws {
        let queue = try AMQPMessageQueueTests.queue(heartbeat: 1)
        try await queue.publish(ConformanceMessage(1))
        let subscription = try await queue.subscribe(prefetch: 1)
        let delivery = try await Inbox(subscription).takeOne()
        // A broker that misses two heartbeats closes the connection and redelivers.
        try await Task.sleep(for: .seconds(5))
        try await delivery.acknowledge()
        await subscription.close()
        let check = try await queue.subscribe(prefetch: 1)
        try await Inbox(check).expectNothing(for: .seconds(1), "the held message came back: the connection had died")
        await check.close()
    }

    @Test("a broker that cannot be reached is an unavailable error within seconds, not a hang")
    func unreachable() async throws {
        let queue = AMQPMessageQueue<ConformanceMessage>(endpoint: AMQPEndpoint(host: "127.0.0.1", port: 1, connectTimeout: .seconds(300)), name: "nowhere")
        let start = ContinuousClock.now
        await #expect { try await queue.publish(ConformanceMessage(1)) } throws: { ($0 as? QueueError)?.code == .unavailable }
        await #expect { _ = try await queue.subscribe(prefetch: 1) } throws: { ($0 as? QueueError)?.code == .unavailable }
        // Refused at once, not after the 300 s connect timeout; room for a starved sanitized run.
        #expect(ContinuousClock.now - start < .seconds(240))
    }
}

/// `ThreadWakeup` without a pipe (what a process out of file descriptors gets): no trap, and a
/// signal still ends a wait.
@Suite struct ThreadWakeupTests {
    @Test("without a pipe, a signal still wakes the waiter, and a wait with none lasts its timeout")
    func withoutPipe() async throws {
        let wakeup = ThreadWakeup(usePipe: false)
        #expect(!wakeup.hasPipe)
        let start = ContinuousClock.now
        #expect(!wakeup.wait(timeout: .milliseconds(100)).signalled)
        #expect(ContinuousClock.now - start >= .milliseconds(100))
        wakeup.signal()
        let woken = ContinuousClock.now
        #expect(wakeup.wait(timeout: .seconds(600)).signalled)
        #expect(ContinuousClock.now - woken < .seconds(300), "a signalled wait must not last its timeout")
        #expect(ThreadWakeup().hasPipe)
    }
}
