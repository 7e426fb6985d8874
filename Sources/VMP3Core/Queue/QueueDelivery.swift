/// One message handed to a consumer, to be settled once.
public struct QueueDelivery<Message: Sendable>: Sendable {
    /// How a delivery was settled, for the backend.
    public enum Settlement: Sendable, Hashable {
        case acknowledge
        case requeue
        case deadLetter(reason: String)
    }

    public let message: Message
    /// 1 on the first delivery; higher when the message was requeued or its earlier consumer
    /// stopped without settling it.
    public let deliveryCount: Int
    private let settle: @Sendable (Settlement) async throws -> Void

    /// For backends: `settle` carries out the consumer's decision.
    public init(message: Message, deliveryCount: Int, settle: @escaping @Sendable (Settlement) async throws -> Void) {
        self.message = message
        self.deliveryCount = deliveryCount
        self.settle = settle
    }

    /// The message is done with: the queue forgets it.
    public func acknowledge() async throws {
        try await settle(.acknowledge)
    }

    /// Puts the message back to be delivered again.
    public func requeue() async throws {
        try await settle(.requeue)
    }

    /// Moves the message to the dead-letter queue, with the reason.
    public func deadLetter(reason: String) async throws {
        try await settle(.deadLetter(reason: reason))
    }
}

/// A running consumer: an asynchronous sequence of deliveries.
///
/// Ends when ``close()`` is called or the queue goes away; unsettled deliveries then return to
/// the queue. Always close a subscription when done with it. A task that stops iterating
/// receives nothing more, but keeps its unsettled deliveries until it settles them or closes,
/// so that work in progress can finish during a graceful shutdown.
public struct QueueSubscription<Message: Sendable>: AsyncSequence, Sendable {
    public typealias Element = QueueDelivery<Message>

    private let deliveries: AsyncThrowingStream<QueueDelivery<Message>, any Error>
    private let onClose: @Sendable () async -> Void

    /// For backends: `deliveries` yields what the broker delivers; `onClose` stops consuming
    /// and returns unsettled deliveries to the queue.
    public init(deliveries: AsyncThrowingStream<QueueDelivery<Message>, any Error>, onClose: @escaping @Sendable () async -> Void) {
        self.deliveries = deliveries
        self.onClose = onClose
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<QueueDelivery<Message>, any Error>.AsyncIterator {
        deliveries.makeAsyncIterator()
    }

    /// Stops consuming; unsettled deliveries go back to the queue.
    public func close() async {
        await onClose()
    }
}
