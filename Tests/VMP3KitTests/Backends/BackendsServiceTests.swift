import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import VMP3Kit

/// ``BackendsService`` releases the backends once, and only after the services listed after it,
/// which use them, have stopped.
@Suite struct BackendsServiceTests {
    /// What happened, in order.
    final class Timeline: Sendable {
        private let entries = Mutex<[String]>([])
        func record(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    /// A queue that records its shutdown.
    struct RecordingQueue<Message: Codable & Sendable>: MessageQueue {
        let name: String
        let timeline: Timeline
        let inner = InMemoryMessageQueue<Message>()
        func publish(_ message: Message) async throws { try await inner.publish(message) }
        func subscribe(prefetch: Int) async throws -> QueueSubscription<Message> { try await inner.subscribe(prefetch: prefetch) }
        func takeDeadLetters(limit: Int) async throws -> [DeadLetter<Message>] { try await inner.takeDeadLetters(limit: limit) }
        func shutdown() async { timeline.record("\(name) shut down") }
    }

    /// A service that takes a while to stop, as a worker finishing its jobs does.
    struct SlowToStop: Service {
        let timeline: Timeline
        func run() async throws {
            try? await gracefulShutdown()
            try? await Task.sleep(for: .milliseconds(200))
            timeline.record("worker stopped")
        }
    }

    @Test("on graceful shutdown the backends are shut down after the services that use them, each queue once")
    func order() async throws {
        let timeline = Timeline()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backends-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let backends = Backends(
            storage: try FileObjectStore(root: directory), store: InMemoryJobStore(),
            jobs: RecordingQueue<JobMessage>(name: "jobs", timeline: timeline),
            outcomes: RecordingQueue<JobEvent>(name: "outcomes", timeline: timeline)
        )
        let group = ServiceGroup(services: [BackendsService(backends), SlowToStop(timeline: timeline)], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(100))
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(timeline.all == ["worker stopped", "jobs shut down", "outcomes shut down"])
    }
}
