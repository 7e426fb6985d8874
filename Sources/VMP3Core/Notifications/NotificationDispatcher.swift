#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import ServiceLifecycle

/// The notifier's loop, as a `Service`: takes final job outcomes from the outcomes queue and
/// hands each to the notifiers its job asked for (webhook, e-mail), then acknowledges it.
///
/// A notification goes out once per outcome even when the outcome is published or delivered
/// again (a converter that finished a job twice, a redelivery after a crash): before sending, the
/// ``NotificationLedger`` is asked whether that delivery id went out on that channel already.
/// With a shared ledger (Redis) this holds across notifier processes and restarts. What a
/// notifier gives up on is recorded by it in the ledger, and the outcome is acknowledged: a dead
/// receiver must not hold the queue.
///
/// One receiver cannot take every place: outcomes whose webhooks go to the same receiver (its
/// host and port) are handled at most ``perReceiver`` at once, and those waiting for their
/// receiver's turn wait without a place, so that the others are sent meanwhile. The queue lends
/// the dispatcher four times ``concurrency`` outcomes at once, to have others to send while some
/// wait for their receiver.
public struct NotificationDispatcher: Service {
    public let outcomes: any MessageQueue<JobEvent>
    public let notifiers: [any Notifier]
    public let ledger: any NotificationLedger
    /// Outcomes handled at once (a slow webhook must not hold up the others).
    public let concurrency: Int
    /// Outcomes handled at once whose webhooks go to one receiver: a receiver that stalls or
    /// fails holds at most this many places, each for at most its attempts' deadlines and
    /// backoff. Default: 4.
    public let perReceiver: Int
    /// On graceful shutdown, how long notifications being sent may take to finish. Those still
    /// under way then (a webhook waiting out its retries) are stopped and not acknowledged: the
    /// queue delivers their outcome again after the restart, and the ledger keeps a channel that
    /// was served from being sent twice. Default: 2 s.
    public let shutdownGracePeriod: Duration
    public let logger: Logger
    /// Outcomes with the same delivery id are handled one after the other, so that a duplicate
    /// arriving while the first is being sent finds it in the ledger.
    private let inFlight = KeyedTurns()
    /// The places (one key) and the receivers' turns.
    private let places = KeyedConcurrencyLimit()
    private let receivers = KeyedConcurrencyLimit()

    public init(
        outcomes: any MessageQueue<JobEvent>, notifiers: [any Notifier], ledger: any NotificationLedger,
        concurrency: Int = 16, perReceiver: Int = 4, shutdownGracePeriod: Duration = .seconds(2), logger: Logger = Logger(label: "vmp3.notifier")
    ) {
        self.outcomes = outcomes
        self.notifiers = notifiers
        self.ledger = ledger
        self.concurrency = max(1, concurrency)
        self.perReceiver = max(1, perReceiver)
        self.shutdownGracePeriod = shutdownGracePeriod
        self.logger = logger
    }

    public func run() async throws {
        let subscription = try await outcomes.subscribe(prefetch: concurrency * 4)
        logger.info("notifier started")
        let inFlight = InFlightJobs()
        await withDiscardingTaskGroup { group in
            let (deliveries, continuation) = AsyncStream<QueueDelivery<JobEvent>>.makeStream()
            // Intake: ends on graceful shutdown or cancellation; the prefetch bounds the
            // deliveries in flight, and so the tasks; the places bound those being sent.
            group.addTask {
                await subscription.forwardUntilShutdown(to: continuation, logger: self.logger)
                await inFlight.stopTaking()
                continuation.finish()
            }
            for await delivery in deliveries {
                guard await inFlight.enter() else { continue }
                group.addTask {
                    await self.handleInTurn(delivery)
                    await inFlight.leave()
                }
            }
            if await !inFlight.waitUntilIdle(timeout: shutdownGracePeriod) {
                logger.notice("shutdown grace period over: unsent notifications go back to the queue")
                group.cancelAll()
            }
        }
        await subscription.close()
        logger.info("notifier stopped")
    }

    /// ``handle(_:)`` once the outcome's receiver has a turn and a place is free; an outcome
    /// still waiting when the dispatcher stops goes back to the queue.
    private func handleInTurn(_ delivery: QueueDelivery<JobEvent>) async {
        let receiver = delivery.message.job.webhookURL.map(Self.receiverKey)
        do {
            if let receiver { try await receivers.enter(receiver, limit: perReceiver) }
            do {
                try await places.enter("", limit: concurrency)
            } catch {
                if let receiver { await receivers.leave(receiver) }
                throw error
            }
        } catch {
            try? await delivery.requeue()
            return
        }
        await handle(delivery)
        await places.leave("")
        if let receiver { await receivers.leave(receiver) }
    }

    /// A webhook's receiver: its host, lowercased, and port. What the per-receiver share and
    /// ``ReceiverBackoff`` count by.
    public static func receiverKey(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased()
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(url.host?.lowercased() ?? ""):\(port)"
    }

    /// Sends what `delivery`'s outcome calls for, then acknowledges it.
    ///
    /// Public for programs that run their own consumer loop; ``run()`` calls it for each delivery.
    public func handle(_ delivery: QueueDelivery<JobEvent>) async {
        let event = delivery.message
        await inFlight.begin(event.deliveryID)
        await send(event)
        await inFlight.end(event.deliveryID)
        guard !Task.isCancelled else {
            // Stopping before every channel was served: the queue delivers the outcome again
            // (after a restart, to this notifier or another); what was sent is in the ledger.
            logger.info("stopping: the outcome goes back to the queue", metadata: ["job_id": "\(event.job.id)"])
            try? await delivery.requeue()
            return
        }
        do {
            try await delivery.acknowledge()
        } catch {
            logger.error("could not acknowledge the outcome", metadata: ["job_id": "\(event.job.id)", "error": "\(error)"])
        }
    }

    private func send(_ event: JobEvent) async {
        var logger = logger
        logger[metadataKey: "job_id"] = "\(event.job.id)"
        logger[metadataKey: "delivery_id"] = "\(event.deliveryID)"
        let sent: Set<String>
        do {
            sent = Set(try await ledger.records(for: event.job.id).filter { $0.deliveryID == event.deliveryID && $0.outcome == .delivered }.map(\.channel))
        } catch {
            // Without the ledger a notification may go out twice: better than not at all.
            logger.warning("could not read the notification ledger", metadata: ["error": "\(error)"])
            sent = []
        }
        for destination in event.job.notificationDestinations where destination != .watchers {
            guard !sent.contains(destination.channel) else {
                logger.info("already notified: not sending again", metadata: ["channel": "\(destination.channel)"])
                continue
            }
            guard let notifier = notifiers.first(where: { $0.supports(destination) }) else {
                logger.warning("no notifier for the job's destination", metadata: ["channel": "\(destination.channel)"])
                continue
            }
            guard !Task.isCancelled else { return }
            do {
                try await notifier.deliver(event, to: destination)
            } catch is CancellationError {
                return
            } catch {
                // The notifier has logged and recorded it; the outcome stays acknowledged.
                logger.error("notification not delivered", metadata: ["channel": "\(destination.channel)", "error": "\(error)"])
            }
        }
    }
}

extension NotificationDestination {
    /// The ledger's name for the destination's kind: `webhook`, `email` or `watchers`.
    public var channel: String {
        switch self {
        case .webhook: "webhook"
        case .email: "email"
        case .watchers: "watchers"
        }
    }
}

/// One turn at a time per key: ``begin(_:)`` waits while another holds the key.
actor KeyedTurns {
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func begin(_ key: String) async {
        if waiting[key] == nil {
            waiting[key] = []
            return
        }
        await withCheckedContinuation { continuation in waiting[key, default: []].append(continuation) }
    }

    func end(_ key: String) {
        guard var queue = waiting[key], !queue.isEmpty else {
            waiting[key] = nil
            return
        }
        let next = queue.removeFirst()
        waiting[key] = queue
        next.resume()
    }
}
