import Foundation

/// A ``MessageQueue`` in memory: the embedded default (`memory:`). Durable enough for one
/// process: messages survive consumers that stop, not the process.
///
/// Messages are stored encoded (JSON), as a broker stores them, so that what a consumer
/// receives is what a networked queue would give it.
public actor InMemoryMessageQueue<Message: Codable & Sendable>: MessageQueue {
    private struct Entry {
        var body: Data
        var deliveryCount: Int
    }

    private final class Consumer {
        let prefetch: Int
        let continuation: AsyncThrowingStream<QueueDelivery<Message>, any Error>.Continuation
        var unsettled: Set<UInt64> = []
        /// Set when nobody iterates the stream any more: no new deliveries go to it.
        var stopped = false

        init(prefetch: Int, continuation: AsyncThrowingStream<QueueDelivery<Message>, any Error>.Continuation) {
            self.prefetch = prefetch
            self.continuation = continuation
        }
    }

    private var ready: [Entry] = []
    private var consumers: [UUID: Consumer] = [:]
    /// Consumers in the order deliveries rotate through them.
    private var rotation: [UUID] = []
    private var unsettled: [UInt64: (entry: Entry, consumer: UUID)] = [:]
    private var deadLetters: [(body: Data, reason: String)] = []
    private var nextTag: UInt64 = 1

    public init() {}

    /// Messages waiting for a consumer.
    public var readyCount: Int { ready.count }
    /// Messages delivered and not yet settled.
    public var unsettledCount: Int { unsettled.count }

    public func publish(_ message: Message) async throws {
        let body: Data
        do {
            body = try JSONEncoder().encode(message)
        } catch {
            throw QueueError(code: .malformedMessage, message: "cannot encode \(Message.self): \(error)")
        }
        ready.append(Entry(body: body, deliveryCount: 0))
        dispatch()
    }

    public func subscribe(prefetch: Int) async throws -> QueueSubscription<Message> {
        guard prefetch >= 1 else {
            throw QueueError(code: .invalidArgument, message: "prefetch must be at least 1, not \(prefetch)")
        }
        let id = UUID()
        let (stream, continuation) = AsyncThrowingStream<QueueDelivery<Message>, any Error>.makeStream()
        consumers[id] = Consumer(prefetch: prefetch, continuation: continuation)
        rotation.append(id)
        continuation.onTermination = { _ in
            Task { await self.stopDelivering(to: id) }
        }
        dispatch()
        return QueueSubscription(deliveries: stream) { await self.removeConsumer(id) }
    }

    public func takeDeadLetters(limit: Int) async throws -> [DeadLetter<Message>] {
        let taken = deadLetters.prefix(max(0, limit))
        deadLetters.removeFirst(taken.count)
        return try taken.map { DeadLetter(message: try decode($0.body), reason: $0.reason) }
    }

    // MARK: - Delivery

    private func dispatch() {
        while !ready.isEmpty, let id = nextConsumerWithRoom() {
            var entry = ready.removeFirst()
            entry.deliveryCount += 1
            let tag = nextTag
            nextTag += 1
            let consumer = consumers[id]!
            let message: Message
            do {
                message = try decode(entry.body)
            } catch {
                deadLetters.append((entry.body, "cannot decode: \(error)"))
                continue
            }
            unsettled[tag] = (entry, id)
            consumer.unsettled.insert(tag)
            consumer.continuation.yield(QueueDelivery(message: message, deliveryCount: entry.deliveryCount) { settlement in
                try await self.settle(tag, settlement)
            })
        }
    }

    /// The next consumer in rotation with room under its prefetch, moving it to the back.
    private func nextConsumerWithRoom() -> UUID? {
        guard let index = rotation.firstIndex(where: { consumers[$0].map { !$0.stopped && $0.unsettled.count < $0.prefetch } ?? false }) else {
            return nil
        }
        let id = rotation.remove(at: index)
        rotation.append(id)
        return id
    }

    private func settle(_ tag: UInt64, _ settlement: QueueDelivery<Message>.Settlement) throws {
        guard let (entry, consumer) = unsettled.removeValue(forKey: tag) else {
            throw QueueError(code: .unknownDelivery, message: "delivery \(tag) was settled already or returned to the queue")
        }
        consumers[consumer]?.unsettled.remove(tag)
        switch settlement {
        case .acknowledge:
            break
        case .requeue:
            ready.insert(entry, at: 0)
        case .deadLetter(let reason):
            deadLetters.append((entry.body, reason))
        }
        dispatch()
    }

    /// The consumer stopped iterating: deliver nothing more to it. What it holds stays with it
    /// until it settles or closes (it may still be working on it).
    private func stopDelivering(to id: UUID) {
        consumers[id]?.stopped = true
        dispatch()
    }

    private func removeConsumer(_ id: UUID) {
        guard let consumer = consumers.removeValue(forKey: id) else { return }
        rotation.removeAll { $0 == id }
        // Unsettled deliveries go back to the head of the queue, in the order they were delivered.
        let returned = consumer.unsettled.sorted().compactMap { unsettled.removeValue(forKey: $0)?.entry }
        ready.insert(contentsOf: returned, at: 0)
        consumer.continuation.finish()
        dispatch()
    }

    private func decode(_ body: Data) throws -> Message {
        do {
            return try JSONDecoder().decode(Message.self, from: body)
        } catch {
            throw QueueError(code: .malformedMessage, message: "cannot decode \(Message.self): \(error)")
        }
    }
}
