import VMP3Core
import Foundation
import Synchronization

/// A Redis pub/sub subscription on a connection of its own, read by a thread of its own: to one
/// channel (`SUBSCRIBE`) or to every channel matching a pattern (`PSUBSCRIBE`).
///
/// ``open(client:channel:)`` and ``open(client:pattern:)`` return once Redis has confirmed the
/// subscription, so no message published after they return is missed. ``close()`` unblocks the reading thread by shutting the
/// socket down; the thread then frees the connection.
final class RedisSubscription: Sendable {
    private let connection: PooledConnection
    /// Counts the connection among its own until the reading thread ends.
    private let client: RedisClient
    private let state = Mutex<State>(.open)

    private enum State {
        case open, closing, freed
    }

    private init(connection: PooledConnection, client: RedisClient) {
        self.connection = connection
        self.client = client
    }

    static func open(client: RedisClient, channel: String) async throws -> RedisSubscription {
        try await open(client: client, command: "SUBSCRIBE", argument: channel)
    }

    static func open(client: RedisClient, pattern: String) async throws -> RedisSubscription {
        try await open(client: client, command: "PSUBSCRIBE", argument: pattern)
    }

    private static func open(client: RedisClient, command: String, argument: String) async throws -> RedisSubscription {
        let connection = try await client.dedicatedConnection()
        do {
            try await BlockingThreadPool.shared.run {
                let reply = try connection.connection.command([Array(command.utf8), Array(argument.utf8)])
                guard reply.elements.first?.text == command.lowercased() else {
                    throw RedisError(description: "\(command) \(argument) answered \(reply)")
                }
            }
        } catch {
            client.closeDedicated(connection)
            throw error
        }
        connection.connection.waitForever()
        return RedisSubscription(connection: connection, client: client)
    }

    /// Reads messages on a thread of its own until closed or the connection fails; each with
    /// the channel it came on.
    func start(onMessage: @escaping @Sendable (_ channel: String, _ payload: [UInt8]) -> Void, onEnd: @escaping @Sendable ((any Error)?) -> Void) {
        Thread.detachNewThread { [self] in
            var failure: (any Error)?
            while true {
                do {
                    let reply = try connection.connection.nextReply()
                    let parts = reply.elements
                    if parts.count == 3, parts[0].text == "message", let channel = parts[1].text, case .string(let payload) = parts[2] {
                        onMessage(channel, payload)
                    } else if parts.count == 4, parts[0].text == "pmessage", let channel = parts[2].text, case .string(let payload) = parts[3] {
                        onMessage(channel, payload)
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
            client.closeDedicated(connection)
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
