import Synchronization

/// Collects what an asynchronous sequence yields, in a task of its own, so that a check can take
/// elements with a timeout or make sure that nothing more arrives.
public final class Inbox<Element: Sendable>: Sendable {
    private struct State {
        var received: [Element] = []
        var ended = false
        var failure: (any Error)?
    }

    /// Shared with the pumping task (a `Mutex` cannot be captured, a class holding one can).
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let pump = Mutex<Task<Void, Never>?>(nil)

    public init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element {
        let task = Task { [shared] in
            do {
                for try await element in sequence {
                    shared.state.withLock { $0.received.append(element) }
                }
                shared.state.withLock { $0.ended = true }
            } catch {
                shared.state.withLock {
                    $0.ended = true
                    $0.failure = error
                }
            }
        }
        pump.withLock { $0 = task }
    }

    deinit {
        pump.withLock { $0?.cancel() }
    }

    /// Elements received and not yet taken.
    public var count: Int { shared.state.withLock { $0.received.count } }

    /// Takes the first `count` elements, waiting up to `timeout` for them to arrive.
    public func take(_ count: Int, within timeout: Duration = .seconds(120), file: StaticString = #fileID, line: UInt = #line) async throws -> [Element] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (taken, have, ended, failure): ([Element]?, Int, Bool, (any Error)?) = shared.state.withLock { state in
                if state.received.count >= count {
                    let taken = Array(state.received.prefix(count))
                    state.received.removeFirst(count)
                    return (taken, count, state.ended, state.failure)
                }
                return (nil, state.received.count, state.ended, state.failure)
            }
            if let taken { return taken }
            if ended {
                throw ConformanceFailure(description: "\(file):\(line): the sequence ended after \(have) of \(count) elements" + (failure.map { ": \($0)" } ?? ""))
            }
            guard ContinuousClock.now < deadline else {
                throw ConformanceFailure(description: "\(file):\(line): \(have) of \(count) elements arrived within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Takes one element.
    public func takeOne(within timeout: Duration = .seconds(120), file: StaticString = #fileID, line: UInt = #line) async throws -> Element {
        try await take(1, within: timeout, file: file, line: line)[0]
    }

    /// Fails if anything arrives during `period`.
    public func expectNothing(for period: Duration, _ what: String, file: StaticString = #fileID, line: UInt = #line) async throws {
        try await Task.sleep(for: period)
        let count = self.count
        try require(count == 0, "\(what): \(count) unexpected elements arrived", file: file, line: line)
    }

    /// Stops collecting.
    public func stop() {
        pump.withLock { $0?.cancel() }
    }
}
