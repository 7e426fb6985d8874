#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The consumers of an in-process queue backend and the deliveries each holds: who is handed the
/// next message (round robin among those with room under their prefetch), and what returns to
/// the queue when one closes. The embedded queues (``InMemoryMessageQueue``, and the SQLite
/// queue of `VMP3SQLite`) keep one in their actor; it is not safe to share otherwise.
///
/// `Tag` names a delivery: a counter, a row id — anything ordered, so that deliveries return to
/// the queue in the order they were made.
public struct QueueConsumers<Message: Sendable, Tag: Hashable & Comparable & Sendable> {
    public typealias Continuation = AsyncThrowingStream<QueueDelivery<Message>, any Error>.Continuation

    private struct Consumer {
        let prefetch: Int
        let continuation: Continuation
        var held: Set<Tag> = []
        /// Set when nobody iterates the stream any more: no new deliveries go to it.
        var stopped = false
    }

    private var consumers: [UUID: Consumer] = [:]
    /// Consumers in the order deliveries rotate through them.
    private var rotation: [UUID] = []
    private var holders: [Tag: UUID] = [:]

    public init() {}

    /// Registers a consumer of `prefetch` deliveries at most, for a backend's
    /// `subscribe(prefetch:)`: `stopped` runs when nobody iterates its deliveries any more,
    /// `closed` when the subscription is closed (the backend then calls ``remove(_:)``).
    ///
    /// - Throws: ``QueueError/Code/invalidArgument`` for a prefetch below 1.
    public mutating func subscribe(
        prefetch: Int, stopped: @escaping @Sendable (UUID) async -> Void, closed: @escaping @Sendable (UUID) async -> Void
    ) throws -> QueueSubscription<Message> {
        guard prefetch >= 1 else {
            throw QueueError(code: .invalidArgument, message: "prefetch must be at least 1, not \(prefetch)")
        }
        let id = UUID()
        let (stream, continuation) = AsyncThrowingStream<QueueDelivery<Message>, any Error>.makeStream()
        consumers[id] = Consumer(prefetch: prefetch, continuation: continuation)
        rotation.append(id)
        continuation.onTermination = { _ in
            Task { await stopped(id) }
        }
        return QueueSubscription(deliveries: stream) { await closed(id) }
    }

    /// The next consumer in rotation with room under its prefetch (moved to the back), if any.
    public mutating func nextWithRoom() -> UUID? {
        guard let index = rotation.firstIndex(where: { consumers[$0].map { !$0.stopped && $0.held.count < $0.prefetch } ?? false }) else {
            return nil
        }
        let id = rotation.remove(at: index)
        rotation.append(id)
        return id
    }

    /// Hands `delivery` (named `tag`) to consumer `id`. - Returns: `false` if it is gone.
    @discardableResult
    public mutating func deliver(_ delivery: QueueDelivery<Message>, tag: Tag, to id: UUID) -> Bool {
        guard consumers[id] != nil else { return false }
        consumers[id]?.held.insert(tag)
        holders[tag] = id
        consumers[id]?.continuation.yield(delivery)
        return true
    }

    /// Whether a consumer holds delivery `tag` (it has been neither settled nor returned).
    public func isHeld(_ tag: Tag) -> Bool {
        holders[tag] != nil
    }

    /// Forgets delivery `tag`, settled by its consumer.
    public mutating func settled(_ tag: Tag) {
        guard let id = holders.removeValue(forKey: tag) else { return }
        consumers[id]?.held.remove(tag)
    }

    /// Consumer `id` stopped iterating: it is handed nothing more, but keeps what it holds (it may
    /// still be working on it) until it settles it or closes.
    public mutating func stop(_ id: UUID) {
        consumers[id]?.stopped = true
    }

    /// Removes consumer `id` and ends its stream. - Returns: the deliveries it held, in the order
    /// they were made, for the queue to take back.
    public mutating func remove(_ id: UUID) -> [Tag] {
        guard let consumer = consumers.removeValue(forKey: id) else { return [] }
        rotation.removeAll { $0 == id }
        let held = consumer.held.sorted()
        for tag in held { holders[tag] = nil }
        consumer.continuation.finish()
        return held
    }
}
