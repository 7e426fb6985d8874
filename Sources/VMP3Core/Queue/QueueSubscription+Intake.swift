import Logging
import ServiceLifecycle

extension QueueSubscription {
    /// Hands every delivery to `continuation` until a graceful shutdown, cancellation or the end
    /// of the subscription (a failure is logged, not thrown): the intake of the worker's and the
    /// notifier's loops, which then run each delivery as a task of their own.
    func forwardUntilShutdown(to continuation: AsyncStream<QueueDelivery<Message>>.Continuation, logger: Logger) async {
        do {
            try await cancelWhenGracefulShutdown {
                for try await delivery in self { continuation.yield(delivery) }
            }
        } catch is CancellationError {
        } catch {
            logger.error("the queue subscription failed", metadata: ["error": "\(error)"])
        }
    }
}
