import Dispatch
import Foundation
import Synchronization

/// Runs Redis commands for async callers: a small pool of blocking hiredis connections, used on
/// Dispatch threads so that no call blocks Swift's cooperative pool.
///
/// A connection that fails is dropped, so the next command connects anew: after Redis restarts,
/// the client recovers by itself. A command that fails on a pooled connection (one that may have
/// gone stale while idle) is tried once more on a new connection.
final class RedisClient: Sendable {
    let endpoint: RedisEndpoint
    private let idle = Mutex<[PooledConnection]>([])
    private let maximumIdle: Int

    init(endpoint: RedisEndpoint, maximumIdle: Int = 8) {
        self.endpoint = endpoint
        self.maximumIdle = maximumIdle
    }

    /// Sends one command; an unreachable Redis or an error reply becomes the error `unavailable`
    /// makes of its description, so that each store reports Redis trouble in its own error type.
    func send(_ arguments: [RedisArgument], unavailable: (String) -> any Error) async throws -> RedisReply {
        let reply: RedisReply
        do {
            reply = try await send(arguments)
        } catch {
            throw unavailable("Redis at \(endpoint.host):\(endpoint.port) is unavailable: \(error)")
        }
        if case .error(let message) = reply { throw unavailable("Redis refused a command: \(message)") }
        return reply
    }

    /// Sends one command. Arguments are binary-safe.
    func send(_ arguments: [RedisArgument]) async throws -> RedisReply {
        let encoded = arguments.map(\.bytes)
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.sendBlocking(encoded) })
            }
        }
    }

    private func sendBlocking(_ arguments: [[UInt8]]) throws -> RedisReply {
        for attempt in 0..<2 {
            let pooled = idle.withLock { $0.popLast() }
            let connection = try pooled ?? PooledConnection(RedisConnection(endpoint))
            do {
                let reply = try connection.connection.command(arguments)
                idle.withLock { if $0.count < maximumIdle { $0.append(connection) } }
                return reply
            } catch {
                if pooled != nil && attempt == 0 { continue }
                throw error
            }
        }
        throw RedisError(description: "unreachable")
    }

    /// Closes the idle connections. A command sent afterwards connects anew.
    func closeIdleConnections() {
        let closing = idle.withLock { idle in defer { idle = [] }; return idle }
        _ = closing  // freed here, each closing its socket in its deinit
    }

    /// A connection of its own for a subscription.
    func dedicatedConnection() async throws -> PooledConnection {
        let endpoint = endpoint
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try PooledConnection(RedisConnection(endpoint)) })
            }
        }
    }
}

/// A connection passed between threads.
// @unchecked: hiredis connections are not thread-safe, and this wrapper does not make them so;
// it is safe because a connection is only ever used by the one operation that took it from the
// pool (or by its one subscription thread), never by two threads at once. `interrupt()` is the
// exception, and only shuts the socket down.
final class PooledConnection: @unchecked Sendable {
    let connection: RedisConnection

    init(_ connection: RedisConnection) {
        self.connection = connection
    }
}

/// An argument of a Redis command.
enum RedisArgument: ExpressibleByStringLiteral, Sendable {
    case text(String)
    case bytes([UInt8])

    init(stringLiteral value: String) {
        self = .text(value)
    }

    var bytes: [UInt8] {
        switch self {
        case .text(let text): Array(text.utf8)
        case .bytes(let bytes): bytes
        }
    }
}
