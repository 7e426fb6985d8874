import Dispatch
import Foundation
import Synchronization

/// A Redis pub/sub subscription on a connection of its own, read by a thread of its own.
///
/// ``open(client:channel:)`` returns once Redis has confirmed the subscription, so no message
/// published after it returns is missed. ``close()`` unblocks the reading thread by shutting the
/// socket down; the thread then frees the connection.
final class RedisSubscription: Sendable {
    private let connection: PooledConnection
    private let state = Mutex<State>(.open)

    private enum State {
        case open, closing, freed
    }

    private init(connection: PooledConnection) {
        self.connection = connection
    }

    static func open(client: RedisClient, channel: String) async throws -> RedisSubscription {
        let connection = try await client.dedicatedConnection()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let reply = try connection.connection.command([Array("SUBSCRIBE".utf8), Array(channel.utf8)])
                    guard reply.elements.first?.text == "subscribe" else {
                        throw RedisError(description: "SUBSCRIBE \(channel) answered \(reply)")
                    }
                })
            }
        }
        connection.connection.waitForever()
        return RedisSubscription(connection: connection)
    }

    /// Reads messages on a thread of its own until closed or the connection fails.
    func start(onMessage: @escaping @Sendable ([UInt8]) -> Void, onEnd: @escaping @Sendable ((any Error)?) -> Void) {
        Thread.detachNewThread { [self] in
            var failure: (any Error)?
            while true {
                do {
                    let reply = try connection.connection.nextReply()
                    let parts = reply.elements
                    if parts.count == 3, parts[0].text == "message", case .string(let payload) = parts[2] {
                        onMessage(payload)
                    }
                } catch {
                    failure = error
                    break
                }
            }
            let closedByUs = state.withLock { state -> Bool in
                defer { state = .freed }
                return state == .closing
            }
            onEnd(closedByUs ? nil : failure)
        }
    }

    func close() {
        state.withLock { state in
            guard state == .open else { return }
            state = .closing
            connection.connection.interrupt()
        }
    }
}
