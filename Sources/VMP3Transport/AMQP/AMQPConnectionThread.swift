import Dispatch
import Foundation
import Synchronization

/// Owns an ``AMQPConnection`` on a thread of its own: librabbitmq is not thread-safe, and a
/// connection must keep reading frames (heartbeats) even while the program is busy elsewhere,
/// for example during a long conversion.
///
/// Work is submitted with ``perform(_:)`` and runs on the thread. Between commands the thread
/// waits for frames: deliveries for a consumer, heartbeats for any. When the connection fails it
/// reconnects with backoff (0.1 s doubling to 5 s) and runs `setup` again; the ``generation``
/// then changes, so that deliveries of the lost connection can no longer be settled.
final class AMQPConnectionThread: Sendable {
    typealias Command = @Sendable (AMQPConnection?, Int) -> Void

    private struct State {
        var commands: [Command] = []
        var stopping = false
        var stopped: [CheckedContinuation<Void, Never>] = []
        var finished = false
    }

    let endpoint: AMQPEndpoint
    private let setup: @Sendable (AMQPConnection) throws -> Void
    private let onDelivery: (@Sendable (AMQPMessage, Int) -> Void)?
    private let state = Mutex(State())
    private let wakeup = ThreadWakeup()

    /// - Parameters:
    ///   - setup: run on each new connection (declare queues, start consuming).
    ///   - onDelivery: for a consumer, called on the thread with each delivery and the generation
    ///     of the connection it came on.
    init(endpoint: AMQPEndpoint, name: String, setup: @escaping @Sendable (AMQPConnection) throws -> Void,
         onDelivery: (@Sendable (AMQPMessage, Int) -> Void)? = nil) {
        self.endpoint = endpoint
        self.setup = setup
        self.onDelivery = onDelivery
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread with the connection and its generation. Connects first if there is
    /// no connection; if that fails, `body` is not run and the error is thrown.
    func perform<T: Sendable>(_ body: @escaping @Sendable (AMQPConnection, Int) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.stopping else { return false }
                state.commands.append { connection, generation in
                    guard let connection else {
                        continuation.resume(throwing: AMQPError("RabbitMQ at \(self.endpoint.host):\(self.endpoint.port) is unreachable"))
                        return
                    }
                    continuation.resume(with: Result { try body(connection, generation) })
                }
                return true
            }
            if accepted { wakeup.signal() } else { continuation.resume(throwing: AMQPError("the connection is closed")) }
        }
    }

    /// Asks the thread to close the connection and end, without waiting for it.
    func requestStop() {
        let signal = state.withLock { state -> Bool in
            if state.finished || state.stopping { return false }
            state.stopping = true
            return true
        }
        if signal { wakeup.signal() }
    }

    /// Closes the connection (the broker then requeues unsettled deliveries) and ends the thread.
    func stop() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.finished { return true }
                state.stopping = true
                state.stopped.append(continuation)
                return false
            }
            if done { continuation.resume() } else { wakeup.signal() }
        }
    }

    private func run() {
        var connection: AMQPConnection?
        var generation = 0
        var backoff = 0.1
        while !state.withLock({ $0.stopping }) {
            if connection == nil {
                do {
                    let fresh = try AMQPConnection(endpoint)
                    try setup(fresh)
                    connection = fresh
                    generation += 1
                    backoff = 0.1
                } catch {
                    for command in state.withLock({ state in defer { state.commands = [] }; return state.commands }) {
                        command(nil, generation)
                    }
                    _ = wakeup.wait(timeout: .milliseconds(Int64(backoff * 1000)))
                    backoff = min(backoff * 2, 5)
                    continue
                }
            }
            let commands = state.withLock { state in defer { state.commands = [] }; return state.commands }
            for command in commands { command(connection, generation) }
            do {
                if let onDelivery, let current = connection {
                    // Read what is buffered at once; otherwise sleep until the socket has input or
                    // a command arrives (an acknowledgement must not wait for a timeout).
                    // Woken by a command alone, run it first. Otherwise let librabbitmq read (a
                    // quiet half second included: that is when it sends and checks heartbeats).
                    var readable = current.hasBufferedInput
                    if !readable {
                        let readiness = wakeup.wait(socket: current.socketDescriptor, timeout: .milliseconds(500))
                        readable = readiness.socketReadable || !readiness.signalled
                    }
                    if readable, let message = try current.nextDelivery(timeout: .zero) { onDelivery(message, generation) }
                } else {
                    if !wakeup.wait(timeout: .milliseconds(500)).signalled { try connection?.idle(timeout: .zero) }
                }
            } catch {
                connection = nil  // deinit closes what is left; reconnect on the next turn
            }
        }
        connection = nil
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.stopped = [] }
            for command in state.commands { command(nil, generation) }
            state.commands = []
            return state.stopped
        }
        waiting.forEach { $0.resume() }
    }
}
