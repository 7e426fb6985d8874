import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import VMP3Core

/// How long a connection may take to say what it wants, and how long it may say nothing: the
/// limits every VMP3 HTTP server (the services, `vmp3 serve`) runs with, so that slow or silent
/// clients (slowloris) cannot hold its connections.
public struct HTTPServerLimits: Sendable {
    /// From a connection's start, or the end of its last response, until its next request's
    /// head (request line and headers) is complete. Default: 10 s.
    public var requestHeadTimeout: Duration
    /// A connection that neither reads nor writes this long is closed (event streams write a
    /// heartbeat more often). Default: 60 s.
    public var idleTimeout: Duration
    /// From an upload's head until its body has ended: the deadline of an upload (the
    /// connection is closed when it passes). Default: 1 hour, 2 GiB at 5 Mbit/s.
    public var requestBodyTimeout: Duration
    /// The same for every other request's body (small JSON). Default: 10 s.
    public var smallBodyTimeout: Duration
    /// Largest request head. Default: 32 KiB.
    public var maxHeaderBytes: Int
    /// Connections one client may hold open at once (``ClientPrefixes`` name the client; the
    /// `trustedProxies` are not counted); `nil` for no cap. Default: 64.
    public var connectionsPerClient: Int?
    public var trustedProxies: TrustedProxies
    public var clientPrefixes: ClientPrefixes

    public init(
        requestHeadTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60), requestBodyTimeout: Duration = .seconds(3600),
        smallBodyTimeout: Duration = .seconds(10), maxHeaderBytes: Int = 32 * 1024, connectionsPerClient: Int? = 64,
        trustedProxies: TrustedProxies = .loopback, clientPrefixes: ClientPrefixes = ClientPrefixes()
    ) {
        self.requestHeadTimeout = requestHeadTimeout
        self.idleTimeout = idleTimeout
        self.requestBodyTimeout = requestBodyTimeout
        self.smallBodyTimeout = smallBodyTimeout
        self.maxHeaderBytes = maxHeaderBytes
        self.connectionsPerClient = connectionsPerClient
        self.trustedProxies = trustedProxies
        self.clientPrefixes = clientPrefixes
    }

    /// `Setting.httpHeaderTimeout`, `Setting.httpIdleTimeout`, `Setting.httpBodyTimeout`,
    /// `Setting.httpSmallBodyTimeout`, `Setting.httpConnectionsPerClient` (`0`: no cap), the
    /// trusted proxies and the client prefixes in place of the defaults.
    /// - Throws: `ConfigurationError` naming the setting, for a value out of its form.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init(trustedProxies: try TrustedProxies(settings: settings), clientPrefixes: try ClientPrefixes(settings: settings))
        func seconds(_ setting: Setting) throws(ConfigurationError) -> Duration? {
            settings.isGiven(setting) ? try settings.seconds(setting) : nil
        }
        if let head = try seconds(.httpHeaderTimeout) { requestHeadTimeout = head }
        if let idle = try seconds(.httpIdleTimeout) { idleTimeout = idle }
        if let body = try seconds(.httpBodyTimeout) { requestBodyTimeout = body }
        if let body = try seconds(.httpSmallBodyTimeout) { smallBodyTimeout = body }
        if settings.isGiven(.httpConnectionsPerClient), let cap = try settings.wholeNumber(.httpConnectionsPerClient) {
            connectionsPerClient = cap == 0 ? nil : cap
        }
    }

    /// The HTTP/1 server with these limits, for `Application(router:server:…)`; `logger` says
    /// when a client is refused connections.
    public func server(logger: Logger) -> HTTPServerBuilder {
        let headTimeout = TimeAmount(requestHeadTimeout)
        let uploadTimeout = TimeAmount(requestBodyTimeout), otherTimeout = TimeAmount(smallBodyTimeout)
        let cap = connectionsPerClient, trustedProxies = trustedProxies, prefixes = clientPrefixes
        // One count for the whole server: its connections come in on several event loops.
        let counts = ClientConnectionCounts()
        return .http1(configuration: .init(
            additionalChannelHandlers: {
                var handlers: [any RemovableChannelHandler] = []
                if let cap {
                    handlers.append(ConnectionsPerClientHandler(
                        limit: cap, counts: counts, trustedProxies: trustedProxies, prefixes: prefixes, logger: logger
                    ))
                }
                handlers.append(RequestHeadDeadlineHandler(timeout: headTimeout))
                handlers.append(RequestBodyDeadlineHandler(uploadTimeout: uploadTimeout, otherTimeout: otherTimeout))
                return handlers
            }(),
            idleTimeout: TimeAmount(idleTimeout),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: maxHeaderBytes, maxHeaderListSize: maxHeaderBytes, maxHeaderFieldCount: 200)
        ))
    }
}

/// Closes a connection whose request head has not arrived within `timeout` of the connection's
/// start or of the end of its previous response. The HTTP decoder passes a head on only once it
/// is whole, so a client that dribbles its headers a byte at a time is cut off too.
final class RequestHeadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests whose head has arrived and whose response has not ended: the next head is only
    /// waited for when none is outstanding (a pipelined head may come before the last response ends).
    private var outstanding = 0

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            outstanding += 1
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            outstanding = max(0, outstanding - 1)
            if outstanding == 0 { arm(context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}
