#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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

    private var ready: [Entry] = []
    private var consumers = QueueConsumers<Message, UInt64>()
    private var unsettled: [UInt64: Entry] = [:]
    private var deadLetters: [(body: Data, reason: String)] = []
    private var nextTag: UInt64 = 1

    public init() {}

    /// Messages waiting for a consumer.
    public var readyCount: Int { ready.count }
    /// Messages delivered and not yet settled.
    public var unsettledCount: Int { unsettled.count }

    public func publish(_ message: Message) async throws {
        let body = try QueueMessageCoding.encode(message)
        ready.append(Entry(body: body, deliveryCount: 0))
        dispatch()
    }

    public func subscribe(prefetch: Int) async throws -> QueueSubscription<Message> {
        let subscription = try consumers.subscribe(
            prefetch: prefetch, stopped: { await self.stopDelivering(to: $0) }, closed: { await self.removeConsumer($0) }
        )
        dispatch()
        return subscription
    }

    public func takeDeadLetters(limit: Int) async throws -> [DeadLetter<Message>] {
        let taken = deadLetters.prefix(max(0, limit))
        deadLetters.removeFirst(taken.count)
        return try taken.map { DeadLetter(message: try decode($0.body), reason: $0.reason) }
    }

    // MARK: - Delivery

    private func dispatch() {
        while !ready.isEmpty, let id = consumers.nextWithRoom() {
            var entry = ready.removeFirst()
            entry.deliveryCount += 1
            let tag = nextTag
            nextTag += 1
            let message: Message
            do {
                message = try decode(entry.body)
            } catch {
                deadLetters.append((entry.body, "cannot decode: \(error)"))
                continue
            }
            unsettled[tag] = entry
            consumers.deliver(QueueDelivery(message: message, deliveryCount: entry.deliveryCount) { settlement in
                try await self.settle(tag, settlement)
            }, tag: tag, to: id)
        }
    }

    private func settle(_ tag: UInt64, _ settlement: QueueDelivery<Message>.Settlement) throws {
        guard let entry = unsettled.removeValue(forKey: tag) else {
            throw QueueError(code: .unknownDelivery, message: "delivery \(tag) was settled already or returned to the queue")
        }
        consumers.settled(tag)
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

    private func stopDelivering(to id: UUID) {
        consumers.stop(id)
        dispatch()
    }

    private func removeConsumer(_ id: UUID) {
        // Unsettled deliveries go back to the head of the queue, in the order they were delivered.
        let returned = consumers.remove(id).compactMap { unsettled.removeValue(forKey: $0) }
        ready.insert(contentsOf: returned, at: 0)
        dispatch()
    }

    private func decode(_ body: Data) throws -> Message {
        try QueueMessageCoding.decode(Message.self, from: body)
    }
}
