import Synchronization

/// Set from a task's cancellation handler, read by the conversion loop on its own thread.
package final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)

    package init() {}

    package func cancel() {
        value.store(true, ordering: .relaxed)
    }

    package var isCancelled: Bool {
        value.load(ordering: .relaxed)
    }
}
