import Foundation

/// Where RabbitMQ is: `amqp://USER:PASSWORD@HOST[:PORT]/[VHOST]` (vhost `/` is `%2F` or empty).
public struct AMQPEndpoint: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    /// Seconds between heartbeats the broker and client agree on; 0 disables them.
    public var heartbeat: Int
    public var connectTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
                virtualHost: String = "/", heartbeat: Int = 30, connectTimeout: Duration = .seconds(3)) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
    }

    public init(url: URL) throws {
        guard url.scheme == "amqp", let host = url.host, !host.isEmpty else {
            throw AMQPError("not an amqp:// URL: \(url.redactingPassword)")
        }
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let vhost = path.isEmpty ? "/" : (path.removingPercentEncoding ?? path)
        self.init(host: host, port: url.port ?? 5672, user: url.user?.removingPercentEncoding ?? "guest",
                  password: url.password?.removingPercentEncoding ?? "guest", virtualHost: vhost)
    }
}

/// Why talking to RabbitMQ failed.
struct AMQPError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
