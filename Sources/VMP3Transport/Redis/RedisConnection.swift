import CHiredis
import Foundation

/// Where Redis is: `redis://[:PASSWORD@]HOST[:PORT][/DB]`.
public struct RedisEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var database: Int
    public var password: String?
    public var connectTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, password: String? = nil, connectTimeout: Duration = .seconds(2)) {
        self.host = host
        self.port = port
        self.database = database
        self.password = password
        self.connectTimeout = connectTimeout
    }

    public init(url: URL) throws {
        guard url.scheme == "redis", let host = url.host, !host.isEmpty else {
            throw RedisError(description: "not a redis:// URL: \(url.redactingPassword)")
        }
        let database = url.path.split(separator: "/").first.map { Int($0) } ?? 0
        guard let database else { throw RedisError(description: "the database in \(url.redactingPassword) is not a number") }
        self.init(host: host, port: url.port ?? 6379, database: database, password: url.password?.removingPercentEncoding)
    }
}

/// Owns one hiredis `redisContext` (a blocking connection); frees it in `deinit`.
///
/// Not thread-safe, like hiredis: ``RedisClient`` hands a connection to one operation at a time.
final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?

    /// Connects, authenticates, selects the database and names the connection (`CLIENT
    /// SETNAME`, what `CLIENT LIST` shows), blocking.
    init(_ endpoint: RedisEndpoint, name: String? = nil) throws {
        var timeout = timeval(tv_sec: Int(endpoint.connectTimeout.components.seconds), tv_usec: 0)
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), timeout) else {
            throw RedisError(description: "cannot allocate a Redis connection")
        }
        self.context = context
        if context.pointee.err != 0 {
            throw RedisError(description: "cannot connect to Redis at \(endpoint.host):\(endpoint.port): \(Self.errorText(context))")
        }
        vmp3_redis_close_on_exec(context)
        // Replies must come within this time, or the connection is given up.
        timeout.tv_sec = 30
        redisSetTimeout(context, timeout)
        if let password = endpoint.password {
            try expectOK(command(["AUTH", password].map { Array($0.utf8) }), "AUTH")
        }
        if endpoint.database != 0 {
            try expectOK(command(["SELECT", String(endpoint.database)].map { Array($0.utf8) }), "SELECT")
        }
        if let name {
            // Only a label for operators: a server or proxy that refuses it (an ACL without the
            // `client` command, twemproxy) serves the connection all the same.
            _ = try command(["CLIENT", "SETNAME", name].map { Array($0.utf8) })
        }
    }

    deinit {
        if let context { redisFree(context) }
    }

    private func expectOK(_ reply: RedisReply, _ what: String) throws {
        if case .error(let message) = reply { throw RedisError(description: "\(what) failed: \(message)") }
    }

    /// Sends one command (binary-safe arguments) and reads its reply.
    ///
    /// - Throws: ``RedisError`` when the connection fails; it is then unusable. Error replies from
    ///   the server are returned as ``RedisReply/error(_:)``.
    func command(_ arguments: [[UInt8]]) throws -> RedisReply {
        guard let context else { throw RedisError(description: "the connection is closed") }
        let lengths = arguments.map(\.count)
        // hiredis takes `const char **` plus lengths: copy each argument into a buffer of its own.
        let buffers = arguments.map { bytes -> UnsafeMutableRawPointer in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) }
            }
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        var argv: [UnsafePointer<CChar>?] = buffers.map { UnsafePointer<CChar>($0.assumingMemoryBound(to: CChar.self)) }
        let raw = redisCommandArgv(context, Int32(arguments.count), &argv, lengths)
        return try takeReply(raw)
    }

    /// Reads the next reply (for a subscription). Blocks until one arrives or the connection fails.
    func nextReply() throws -> RedisReply {
        guard let context else { throw RedisError(description: "the connection is closed") }
        var raw: UnsafeMutableRawPointer? = nil
        guard redisGetReply(context, &raw) == REDIS_OK else {
            throw RedisError(description: "the connection to Redis failed: \(Self.errorText(context))")
        }
        return try takeReply(raw)
    }

    /// Disables the reply timeout (a subscription waits for messages as long as it lives).
    func waitForever() {
        guard let context else { return }
        redisSetTimeout(context, timeval(tv_sec: 0, tv_usec: 0))
    }

    /// Unblocks a thread waiting in ``nextReply()``; safe to call from another thread while the
    /// connection is alive.
    func interrupt() {
        vmp3_redis_shutdown(context)
    }

    private func takeReply(_ raw: UnsafeMutableRawPointer?) throws -> RedisReply {
        guard let raw else {
            throw RedisError(description: "the connection to Redis failed: \(context.map(Self.errorText) ?? "closed")")
        }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        func bytes() -> [UInt8] {
            guard let pointer = value.str else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: Int(value.len)))
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(value.integer)
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(value.elements)).compactMap { value.element[$0].map(convert) })
        default: return .null
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { buffer in
            String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
