import Foundation
import Logging
import Synchronization
import VMP3Core

/// A `MessageQueue` on RabbitMQ (`amqp://user:pass@host:5672/vhost`), through librabbitmq.
///
/// - The queue is a durable quorum queue (so the broker counts deliveries: `x-delivery-count`)
///   that dead-letters to `NAME.dead`; both are declared on every (re)connection. With a
///   ``deliveryLimit`` (`x-delivery-limit`), the broker itself dead-letters a message delivered
///   that many times: a second line behind the job store's attempt count, for a message whose
///   consumers die before they can settle it.
/// - Messages are persistent JSON; ``publish(_:)`` returns only once the broker has confirmed the
///   message (publisher confirms) and throws `QueueError.Code.unavailable` otherwise.
/// - Each subscription consumes on a connection and thread of its own, with `basic.qos`
///   prefetch, manual acknowledgement, and heartbeats serviced however long a delivery is held.
/// - Dead-lettering publishes the message to `NAME.dead` with an `x-vmp3-reason` header
///   (confirmed), then acknowledges the original: the reason travels with the message.
/// - A lost connection is re-established with backoff; the broker redelivers what was unsettled,
///   and settling a delivery of the lost connection throws `QueueError.Code.unknownDelivery`.
public final class AMQPMessageQueue<Message: Codable & Sendable>: MessageQueue, Sendable {
    public let endpoint: AMQPEndpoint
    public let name: String
    public let confirmTimeout: Duration
    /// Deliveries of one message before the broker dead-letters it; `nil` for no limit.
    public let deliveryLimit: Int?
    private let publisher: AMQPConnectionThread

    public init(endpoint: AMQPEndpoint, name: String, confirmTimeout: Duration = .seconds(10), deliveryLimit: Int? = 20) {
        self.endpoint = endpoint
        self.name = name
        self.confirmTimeout = confirmTimeout
        self.deliveryLimit = deliveryLimit
        publisher = AMQPConnectionThread(endpoint: endpoint, name: "amqp-publish-\(name)") { connection in
            try connection.declareQueues(name, deliveryLimit: deliveryLimit)
            try connection.enableConfirms()
        }
    }

    /// Closes the publishing connection and ends its thread.
    public func shutdown() async {
        await publisher.stop()
    }

    deinit {
        // Only tells the thread to end (it holds no reference back to the queue): no work is
        // started here. ``shutdown()`` is the way to wait for it.
        publisher.requestStop()
    }

    public func publish(_ message: Message) async throws {
        let body = try encode(message)
        try await publishRaw(body, to: name, headers: [:])
    }

    private func publishRaw(_ body: [UInt8], to queue: String, headers: [String: String]) async throws {
        let timeout = confirmTimeout
        do {
            try await publisher.perform { connection, _ in try connection.publish(body, to: queue, headers: headers, timeout: timeout) }
        } catch {
            throw QueueError(code: .unavailable, message: "could not publish to \(queue): \(error)")
        }
    }

    public func subscribe(prefetch: Int) async throws -> QueueSubscription<Message> {
        guard prefetch >= 1 else {
            throw QueueError(code: .invalidArgument, message: "prefetch must be at least 1, not \(prefetch)")
        }
        let (stream, continuation) = AsyncThrowingStream<QueueDelivery<Message>, any Error>.makeStream()
        let consumer = Consumer()
        let name = name
        let deliveryLimit = deliveryLimit
        let thread = AMQPConnectionThread(endpoint: endpoint, name: "amqp-consume-\(name)", setup: { connection in
            try connection.declareQueues(name, deliveryLimit: deliveryLimit)
            try connection.consume(name, prefetch: prefetch)
        }, onDelivery: { message, generation in
            // A strong reference, and no cycle: the queue does not hold its consumers' threads.
            // (A weak one would keep a side table that LeakSanitizer cannot see the owner of.)
            self.deliver(message, generation: generation, consumer: consumer, into: continuation)
        })
        consumer.thread.withLock { $0 = thread }
        // Establish the consumer before returning, so that what is published next is delivered.
        // Three tries a second apart: a broker that is busy (booting beside it, a loaded machine)
        // can miss one connect timeout, and a service whose first subscription fails exits.
        do {
            var attempt = 1
            while true {
                do {
                    _ = try await thread.perform { _, _ in () }
                    break
                } catch where attempt < 3 {
                    attempt += 1
                    try await Task.sleep(for: .seconds(1))
                }
            }
        } catch {
            await thread.stop()
            consumer.thread.withLock { $0 = nil }
            throw QueueError(code: .unavailable, message: "could not subscribe to \(name): \(error)")
        }
        return QueueSubscription(deliveries: stream) {
            await thread.stop()
            // The thread's delivery callback holds the consumer, and the consumer the thread:
            // closing breaks the cycle.
            consumer.thread.withLock { $0 = nil }
            continuation.finish()
        }
    }

    public func takeDeadLetters(limit: Int) async throws -> [DeadLetter<Message>] {
        let dead = name + ".dead"
        let messages: [AMQPMessage]
        do {
            messages = try await publisher.perform { connection, _ in
                var taken: [AMQPMessage] = []
                while taken.count < limit, let message = try connection.take(from: dead) { taken.append(message) }
                return taken
            }
        } catch {
            throw QueueError(code: .unavailable, message: "could not read \(dead): \(error)")
        }
        return try messages.map { message in
            DeadLetter(message: try decode(message.body), reason: message.headers["x-vmp3-reason"] ?? "rejected by the broker")
        }
    }

    /// Connects (or uses the publishing connection) and declares the queue: the broker answers.
    public func checkReachable() async throws {
        let name = name
        do {
            try await publisher.perform { [deliveryLimit] connection, _ in try connection.declareQueues(name, deliveryLimit: deliveryLimit) }
        } catch {
            throw QueueError(code: .unavailable, message: "RabbitMQ does not answer for \(name): \(error)")
        }
    }

    // MARK: - Deliveries

    /// What a subscription shares with its deliveries.
    private final class Consumer: Sendable {
        let thread = Mutex<AMQPConnectionThread?>(nil)
        /// Tags settled on the current connection: settling one twice would make the broker
        /// close the channel, so it is refused here.
        let settled = Mutex<(generation: Int, tags: Set<UInt64>)>((0, []))
    }

    private func deliver(
        _ message: AMQPMessage, generation: Int, consumer: Consumer,
        into continuation: AsyncThrowingStream<QueueDelivery<Message>, any Error>.Continuation
    ) {
        let count = (message.headers["x-delivery-count"].flatMap(Int.init) ?? 0) + 1
        let tag = message.deliveryTag
        let settle: @Sendable (QueueDelivery<Message>.Settlement) async throws -> Void = { [self] settlement in
            guard let thread = consumer.thread.withLock({ $0 }) else { throw QueueError(code: .unknownDelivery, message: "no subscription") }
            let fresh = consumer.settled.withLock { settled -> Bool in
                if settled.generation != generation { settled = (generation, []) }
                return settled.tags.insert(tag).inserted
            }
            guard fresh else {
                throw QueueError(code: .unknownDelivery, message: "delivery \(tag) was settled already")
            }
            if case .deadLetter(let reason) = settlement {
                try await publishRaw(message.body, to: name + ".dead", headers: ["x-vmp3-reason": reason])
            }
            do {
                try await thread.perform { connection, current in
                    guard current == generation else {
                        throw QueueError(code: .unknownDelivery, message: "delivery \(tag) came on a connection that was lost; the broker redelivers it")
                    }
                    switch settlement {
                    case .acknowledge, .deadLetter: try connection.acknowledge(tag)
                    case .requeue: try connection.reject(tag, requeue: true)
                    }
                }
            } catch let error as QueueError {
                throw error
            } catch {
                throw QueueError(code: .unavailable, message: "could not settle delivery \(tag): \(error)")
            }
        }
        do {
            continuation.yield(QueueDelivery(message: try decode(message.body), deliveryCount: count, settle: settle))
        } catch {
            // A message nobody can read: straight to the dead-letter queue, with why.
            Task { try? await settle(.deadLetter(reason: "cannot decode: \(error)")) }
        }
    }

    private func encode(_ message: Message) throws -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(message))
        } catch {
            throw QueueError(code: .malformedMessage, message: "cannot encode \(Message.self): \(error)")
        }
    }

    private func decode(_ body: [UInt8]) throws -> Message {
        do {
            return try JSONDecoder().decode(Message.self, from: Data(body))
        } catch {
            throw QueueError(code: .malformedMessage, message: "cannot decode \(Message.self): \(error)")
        }
    }
}
