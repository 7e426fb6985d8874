#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A ``Notifier`` for ``NotificationDestination/watchers``: hands each event to every stream
/// currently open with ``watch()``. The embedded default.
public actor InProcessNotifier: Notifier {
    private var streams: [UUID: AsyncStream<JobEvent>.Continuation] = [:]

    public init() {}

    public nonisolated func supports(_ destination: NotificationDestination) -> Bool {
        destination == .watchers
    }

    public func deliver(_ event: JobEvent, to destination: NotificationDestination) async throws {
        streams.values.forEach { $0.yield(event) }
    }

    /// Events delivered from now on, until the consumer stops.
    public func watch() -> AsyncStream<JobEvent> {
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = UUID()
        streams[id] = continuation
        continuation.onTermination = { _ in Task { await self.remove(id) } }
        return stream
    }

    private func remove(_ id: UUID) {
        streams[id] = nil
    }
}
