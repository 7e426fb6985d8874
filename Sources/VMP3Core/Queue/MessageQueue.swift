/// A durable work queue with explicit acknowledgement: jobs from the gateway to converters, job
/// events from converters to the notifier.
///
/// The contract (checked for every implementation by `MessageQueueConformance`):
/// - ``publish(_:)`` returns only once the queue holds the message; if it cannot, it throws
///   (never a silent drop).
/// - Messages are delivered in publish order to one consumer at a time; each subscription holds
///   at most `prefetch` unacknowledged deliveries.
/// - A delivery is settled once: acknowledged (gone), requeued (delivered again, count + 1) or
///   dead-lettered (moved to the dead-letter queue).
/// - When a subscription is closed (or its connection is lost), its unsettled deliveries return
///   to the queue and are delivered again. A consumer that merely stops iterating receives
///   nothing more but keeps what it holds until it settles it or closes.
public protocol MessageQueue<Message>: Sendable {
    associatedtype Message: Codable & Sendable

    /// Adds `message` at the end of the queue.
    func publish(_ message: Message) async throws

    /// Starts consuming. Iterate the subscription to receive deliveries.
    func subscribe(prefetch: Int) async throws -> QueueSubscription<Message>

    /// Removes and returns up to `limit` dead-lettered messages, oldest first.
    func takeDeadLetters(limit: Int) async throws -> [DeadLetter<Message>]

    /// Returns if the queue can be reached now, throws ``QueueError`` if not: for readiness
    /// checks. The default (for in-process queues) always returns.
    func checkReachable() async throws

    /// Releases the connections and threads the queue holds (subscriptions end with their own
    /// ``QueueSubscription``): called once, when the process is done with the queue. The default,
    /// for in-process queues, does nothing.
    func shutdown() async
}

extension MessageQueue {
    public func checkReachable() async throws {}
    public func shutdown() async {}
}

/// The message a converter takes from the job queue.
public struct JobMessage: Sendable, Hashable, Codable {
    public var jobID: JobID
    /// 1 for the first run; the worker republishes with `attempt + 1` after a transient failure.
    public var attempt: Int

    public init(jobID: JobID, attempt: Int = 1) {
        self.jobID = jobID
        self.attempt = attempt
    }
}

/// A message that could not be processed, with why.
public struct DeadLetter<Message: Sendable>: Sendable {
    public var message: Message
    public var reason: String

    public init(message: Message, reason: String) {
        self.message = message
        self.reason = reason
    }
}

extension DeadLetter: Equatable where Message: Equatable {}
