import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on 127.0.0.1 for tests of HTTP senders (webhooks): it records every request
/// and answers from a script (`500`, `500`, `200`, or never answering at all).
public final class HTTPTestReceiver: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        public var receivedAt: Date

        /// The first value of header `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    public enum Reply: Sendable {
        case status(Int)
        /// Reads the request and never answers (the connection stays open until the client goes).
        case noAnswer
        /// Answers `200` with `Content-Length: 10` and then sends nothing more: a receiver that
        /// holds a sender which waits for the body.
        case stalledBody
    }

    private let log: RequestLog
    private let channel: any Channel

    /// The URL to send to: `http://127.0.0.1:PORT/hook`.
    public var url: URL { URL(string: "http://127.0.0.1:\(channel.localAddress?.port ?? 0)/hook")! }

    /// Starts a receiver that answers with `script`, one reply per request, then `fallback`.
    public static func start(script: [Reply] = [], fallback: Reply = .status(200)) async throws -> HTTPTestReceiver {
        let log = RequestLog(script: script, fallback: fallback)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return HTTPTestReceiver(log: log, channel: channel)
    }

    private init(log: RequestLog, channel: any Channel) {
        self.log = log
        self.channel = channel
    }

    /// The requests received so far, in order.
    public var requests: [Request] { log.requests }

    /// Waits until `count` requests have arrived (or returns at once if they have).
    ///
    /// Gives up after `timeout` (a hang detector, not a measure: ten minutes is many times what
    /// any sender here takes; a sender that died would otherwise hold the whole run forever) and
    /// returns whether the requests came; the caller's expectations on ``requests`` then fail.
    @discardableResult
    public func waitForRequests(_ count: Int, timeout: Duration = .seconds(600)) async -> Bool {
        await log.wait(for: count, timeout: timeout)
    }

    /// Stops listening. Connections held open by ``Reply/noAnswer`` end when their clients go.
    public func stop() async throws {
        try await channel.close()
    }
}

/// The requests a receiver has seen and the replies it has left, shared with its handlers.
private final class RequestLog: Sendable {
    private struct State {
        var script: [HTTPTestReceiver.Reply]
        var fallback: HTTPTestReceiver.Reply
        var requests: [HTTPTestReceiver.Request] = []
        var waiters: [UUID: (count: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    }

    private let state: Mutex<State>

    init(script: [HTTPTestReceiver.Reply], fallback: HTTPTestReceiver.Reply) {
        state = Mutex(State(script: script, fallback: fallback))
    }

    var requests: [HTTPTestReceiver.Request] { state.withLock { $0.requests } }

    /// Records `request` and returns the reply for it.
    func received(_ request: HTTPTestReceiver.Request) -> HTTPTestReceiver.Reply {
        let (reply, ready) = state.withLock { state in
            state.requests.append(request)
            let reply = state.script.isEmpty ? state.fallback : state.script.removeFirst()
            let count = state.requests.count
            let ready = state.waiters.filter { $0.value.count <= count }
            for id in ready.keys { state.waiters[id] = nil }
            return (reply, ready.values.map(\.continuation))
        }
        ready.forEach { $0.resume(returning: true) }
        return reply
    }

    /// Whether `count` requests came within `timeout`.
    func wait(for count: Int, timeout: Duration) async -> Bool {
        let id = UUID()
        let expiry = Task {
            try await Task.sleep(for: timeout)
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: false)
        }
        defer { expiry.cancel() }
        return await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.requests.count >= count { return true }
                state.waiters[id] = (count, continuation)
                return false
            }
            if ready { continuation.resume(returning: true) }
        }
    }
}

/// Collects one request at a time and answers it as the log says.
private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let log: RequestLog
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(log: RequestLog) {
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            let request = HTTPTestReceiver.Request(
                method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                body: body, receivedAt: Date()
            )
            self.head = nil
            switch log.received(request) {
            case .noAnswer:
                break
            case .stalledBody:
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "10")
                let response = HTTPResponseHead(version: head.version, status: .ok, headers: headers)
                context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
            case .status(let code):
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "0")
                let response = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: code), headers: headers)
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
