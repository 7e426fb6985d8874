/// At most a number of turns at once for each key; the rest wait, first come first served, and
/// can be cancelled while they wait.
///
/// A turn is taken with ``enter(_:limit:)`` and given back with ``leave(_:)``; a turn given back
/// passes straight to the key's longest waiter.
package actor KeyedConcurrencyLimit {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private var held: [String: Int] = [:]
    private var waiting: [String: [Waiter]] = [:]
    private var nextID: UInt64 = 0

    package init() {}

    /// Takes one of `key`'s `limit` turns, waiting for one if all are taken.
    ///
    /// - Throws: `CancellationError` if the task is cancelled before it has a turn (it then has
    ///   none to give back).
    package func enter(_ key: String, limit: Int) async throws {
        if held[key, default: 0] < max(1, limit) {
            held[key, default: 0] += 1
            return
        }
        nextID += 1
        let id = nextID
        let admitted = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiting[key, default: []].append(Waiter(id: id, continuation: continuation))
            }
        } onCancel: {
            Task { await self.withdraw(id, from: key) }
        }
        guard admitted else { throw CancellationError() }
    }

    /// Gives back a turn ``enter(_:limit:)`` took: to the key's longest waiter, if there is one.
    package func leave(_ key: String) {
        if var queue = waiting[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            next.continuation.resume(returning: true)
            return
        }
        let remaining = held[key, default: 0] - 1
        held[key] = remaining > 0 ? remaining : nil
    }

    /// Turns taken now for `key` (for tests).
    package func taken(_ key: String) -> Int { held[key, default: 0] }

    /// Tasks waiting now for `key` (for tests).
    package func waiters(_ key: String) -> Int { waiting[key]?.count ?? 0 }

    /// A cancelled waiter leaves the queue without a turn, unless it was handed one already.
    private func withdraw(_ id: UInt64, from key: String) {
        guard var queue = waiting[key], let index = queue.firstIndex(where: { $0.id == id }) else { return }
        let waiter = queue.remove(at: index)
        waiting[key] = queue.isEmpty ? nil : queue
        waiter.continuation.resume(returning: false)
    }
}
