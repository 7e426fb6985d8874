import VMP3Core
import Foundation
import Synchronization

/// Runs Redis commands for async callers: a small pool of blocking hiredis connections, used on
/// threads of the ``BlockingThreadPool`` so that no call blocks Swift's cooperative pool.
///
/// A connection that fails is dropped, so the next command connects anew: after Redis restarts,
/// the client recovers by itself. A command that fails on a pooled connection (one that may have
/// gone stale while idle) is tried once more on a new connection.
///
/// Every connection is named `CLIENT SETNAME` ``connectionName`` (what `CLIENT LIST` shows an
/// operator as `name=`) and counted from its opening to its closing, idle or busy, so that
/// ``shutdown()`` closes them all, including one a command is using at that moment.
final class RedisClient: Sendable {
    let endpoint: RedisEndpoint
    /// The name each of this client's connections carries in Redis: `vmp3-` and a random part.
    let connectionName: String
    private let state = Mutex(State())
    private let maximumIdle: Int

    private struct State {
        var idle: [PooledConnection] = []
        /// Taken from the pool (or opened) by a command, a subscription or an opening, by identity.
        var busy: [ObjectIdentifier: PooledConnection] = [:]
        var isShutDown = false
    }

    init(endpoint: RedisEndpoint, maximumIdle: Int = 8) {
        _ = Self.ignoreBrokenPipes
        self.endpoint = endpoint
        self.maximumIdle = maximumIdle
        connectionName = "vmp3-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
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
    ///
    /// - Throws: ``RedisError`` when Redis cannot be reached or the client is shut down.
    func send(_ arguments: [RedisArgument]) async throws -> RedisReply {
        let encoded = arguments.map(\.bytes)
        return try await BlockingThreadPool.shared.run { try self.sendBlocking(encoded) }
    }

    private func sendBlocking(_ arguments: [[UInt8]]) throws -> RedisReply {
        for attempt in 0..<2 {
            let pooled = try state.withLock { state -> PooledConnection? in
                guard !state.isShutDown else { throw RedisError(description: "the Redis client is shut down") }
                guard let connection = state.idle.popLast() else { return nil }
                state.busy[ObjectIdentifier(connection)] = connection
                return connection
            }
            let connection = try pooled ?? open()
            do {
                let reply = try connection.connection.command(arguments)
                release(connection, reusable: true)
                return reply
            } catch {
                release(connection, reusable: false)
                if pooled != nil && attempt == 0 { continue }
                throw error
            }
        }
        throw RedisError(description: "unreachable")
    }

    /// hiredis writes with `write(2)`: a command written to a connection that ``shutdown()`` (or
    /// the server) has just closed would raise SIGPIPE, whose default action ends the process.
    /// Ignored once for the process, as SwiftNIO does when it opens its first socket; the write
    /// then fails with EPIPE, a ``RedisError``.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Opens a connection counted as busy (blocking), unless the client is shut down.
    private func open() throws -> PooledConnection {
        if state.withLock({ $0.isShutDown }) { throw RedisError(description: "the Redis client is shut down") }
        let connection = PooledConnection(try RedisConnection(endpoint, name: connectionName))
        try state.withLock { state in
            guard !state.isShutDown else { throw RedisError(description: "the Redis client is shut down") }
            state.busy[ObjectIdentifier(connection)] = connection
        }
        return connection
    }

    /// Gives a busy connection back: to the idle ones if it can serve again and the client is
    /// open, else closed (when its last reference goes, here or in the caller).
    private func release(_ connection: PooledConnection, reusable: Bool) {
        state.withLock { state in
            state.busy[ObjectIdentifier(connection)] = nil
            if reusable, !state.isShutDown, state.idle.count < maximumIdle { state.idle.append(connection) }
        }
    }

    /// Closes the idle connections, shuts down the sockets of the busy ones (their commands fail
    /// at once, and they are closed as they come back) and refuses every command after it.
    func shutdown() {
        let (idle, busy) = state.withLock { state in
            state.isShutDown = true
            defer { state.idle = [] }
            return (state.idle, Array(state.busy.values))
        }
        for connection in busy { connection.connection.interrupt() }
        _ = idle  // freed here, each closing its socket in its deinit
    }

    /// The connections open now, idle or busy (for tests).
    var openConnectionCount: Int { state.withLock { $0.idle.count + $0.busy.count } }

    /// The connections a command or a subscription is using now (for tests).
    var busyConnectionCount: Int { state.withLock { $0.busy.count } }

    /// A connection of its own for a subscription: counted as busy until ``closeDedicated(_:)``.
    func dedicatedConnection() async throws -> PooledConnection {
        try await BlockingThreadPool.shared.run { try self.open() }
    }

    /// Gives up a connection from ``dedicatedConnection()``; it closes once its holder lets go.
    func closeDedicated(_ connection: PooledConnection) {
        release(connection, reusable: false)
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
