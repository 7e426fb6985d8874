import Foundation
import VMP3Core

/// The message the queue checks send.
public struct ConformanceMessage: Codable, Sendable, Hashable {
    public var number: Int
    public var text: String

    public init(_ number: Int, text: String = "message") {
        self.number = number
        self.text = text
    }
}

/// The `MessageQueue` contract. Each check gets a new, empty queue.
public enum MessageQueueConformance {
    public typealias Queue = any MessageQueue<ConformanceMessage>
    public typealias Check = ConformanceCheck<Queue>

    public static let checks: [Check] = [
        Check("messages arrive in publish order, intact") { queue in
            for number in 1...20 { try await queue.publish(ConformanceMessage(number, text: "ünïcode \(number)")) }
            let subscription = try await queue.subscribe(prefetch: 50)
            let inbox = Inbox(subscription)
            let deliveries = try await inbox.take(20)
            try require(deliveries.map(\.message.number) == Array(1...20), "order: \(deliveries.map(\.message.number))")
            try require(deliveries.allSatisfy { $0.message.text == "ünïcode \($0.message.number)" && $0.deliveryCount == 1 }, "content or count changed")
            for delivery in deliveries { try await delivery.acknowledge() }
            await subscription.close()
        },

        Check("acknowledged messages are gone for good") { queue in
            for number in 1...5 { try await queue.publish(ConformanceMessage(number)) }
            let first = try await queue.subscribe(prefetch: 10)
            for delivery in try await Inbox(first).take(5) { try await delivery.acknowledge() }
            await first.close()
            let second = try await queue.subscribe(prefetch: 10)
            try await Inbox(second).expectNothing(for: .milliseconds(500), "after every message was acknowledged")
            await second.close()
        },

        Check("unacknowledged messages are redelivered, in order, when their subscription closes") { queue in
            for number in 1...5 { try await queue.publish(ConformanceMessage(number)) }
            let crashed = try await queue.subscribe(prefetch: 10)
            let held = try await Inbox(crashed).take(5)
            try await held[0].acknowledge()
            try await held[1].acknowledge()
            await crashed.close()  // as a consumer whose connection drops

            let next = try await queue.subscribe(prefetch: 10)
            let redelivered = try await Inbox(next).take(3)
            try require(redelivered.map(\.message.number) == [3, 4, 5], "redelivered \(redelivered.map(\.message.number))")
            try require(redelivered.allSatisfy { $0.deliveryCount >= 2 }, "redeliveries are not counted")
            for delivery in redelivered { try await delivery.acknowledge() }
            await next.close()
        },

        Check("a requeued message comes again with a higher delivery count") { queue in
            try await queue.publish(ConformanceMessage(1))
            let subscription = try await queue.subscribe(prefetch: 1)
            let inbox = Inbox(subscription)
            let first = try await inbox.takeOne()
            try await first.requeue()
            let again = try await inbox.takeOne()
            try require(again.message == first.message && again.deliveryCount == first.deliveryCount + 1, "requeued: \(again.deliveryCount)")
            try await again.acknowledge()
            await subscription.close()
        },

        Check("a dead-lettered message leaves the queue for the dead-letter queue, with its reason") { queue in
            try await queue.publish(ConformanceMessage(1, text: "poison"))
            try await queue.publish(ConformanceMessage(2))
            let subscription = try await queue.subscribe(prefetch: 5)
            let inbox = Inbox(subscription)
            let (poison, fine) = try await { let two = try await inbox.take(2); return (two[0], two[1]) }()
            try await poison.deadLetter(reason: "cannot be converted")
            try await fine.acknowledge()
            try await inbox.expectNothing(for: .milliseconds(300), "a dead-lettered message came back")
            var dead: [DeadLetter<ConformanceMessage>] = []
            try await eventually("the dead letter") {
                dead += try await queue.takeDeadLetters(limit: 10)
                return !dead.isEmpty
            }
            try require(dead.count == 1 && dead[0].message == ConformanceMessage(1, text: "poison"), "dead letters: \(dead)")
            try require(dead[0].reason.contains("cannot be converted"), "reason: \(dead[0].reason)")
            try require(try await queue.takeDeadLetters(limit: 10).isEmpty, "a dead letter was taken twice")
            await subscription.close()
        },

        Check("a subscription holds at most `prefetch` unsettled deliveries") { queue in
            for number in 1...5 { try await queue.publish(ConformanceMessage(number)) }
            let subscription = try await queue.subscribe(prefetch: 2)
            let inbox = Inbox(subscription)
            let firstTwo = try await inbox.take(2)
            try await inbox.expectNothing(for: .milliseconds(400), "beyond the prefetch of 2")
            try await firstTwo[0].acknowledge()
            let third = try await inbox.takeOne()
            try require(third.message.number == 3, "after one acknowledgement came \(third.message.number)")
            try await inbox.expectNothing(for: .milliseconds(300), "beyond the prefetch after one acknowledgement")
            try await firstTwo[1].acknowledge()
            try await third.acknowledge()
            for delivery in try await inbox.take(2) { try await delivery.acknowledge() }
            await subscription.close()
        },

        Check("a delivery can be settled only once") { queue in
            try await queue.publish(ConformanceMessage(1))
            let subscription = try await queue.subscribe(prefetch: 1)
            let delivery = try await Inbox(subscription).takeOne()
            try await delivery.acknowledge()
            try await requireError(QueueError.self, "a second acknowledgement", matching: { $0.code == .unknownDelivery }) {
                try await delivery.acknowledge()
            }
            await subscription.close()
        },

        Check("two consumers share the messages: each is delivered to exactly one") { queue in
            let one = try await queue.subscribe(prefetch: 3)
            let two = try await queue.subscribe(prefetch: 3)
            let (inboxOne, inboxTwo) = (Inbox(one), Inbox(two))
            for number in 1...30 { try await queue.publish(ConformanceMessage(number)) }
            var seen: [Int] = []
            try await eventually("30 deliveries across both consumers") {
                for inbox in [inboxOne, inboxTwo] {
                    for delivery in try await inbox.take(inbox.count, within: .zero) {
                        seen.append(delivery.message.number)
                        try await delivery.acknowledge()
                    }
                }
                return seen.count >= 30
            }
            try await Task.sleep(for: .milliseconds(200))
            try require(inboxOne.count + inboxTwo.count == 0, "extra deliveries")
            try require(seen.sorted() == Array(1...30), "delivered: \(seen.sorted())")
            await one.close()
            await two.close()
        },

        Check("a prefetch below 1 is refused") { queue in
            try await requireError(QueueError.self, "prefetch 0", matching: { $0.code == .invalidArgument }) {
                _ = try await queue.subscribe(prefetch: 0)
            }
        },
    ]
}
