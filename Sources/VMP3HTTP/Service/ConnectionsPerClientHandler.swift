import Logging
import Metrics
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The connections each client holds open on one server, counted across its event loops.
final class ClientConnectionCounts: Sendable {
    private struct State {
        var held: [String: Int] = [:]
        /// Clients refused since they last held fewer than the limit.
        var refused: Set<String> = []
    }

    /// Whether a connection was counted, and if not, whether it is the first its client had
    /// refused since it last held fewer than the limit.
    enum Admission: Equatable {
        case counted
        case refused(first: Bool)
    }

    private let state = Mutex(State())

    /// Counts a connection of `client` unless it already holds `limit`.
    func open(_ client: String, limit: Int) -> Admission {
        state.withLock { state in
            let held = state.held[client, default: 0]
            guard held < limit else { return .refused(first: state.refused.insert(client).inserted) }
            state.held[client] = held + 1
            return .counted
        }
    }

    /// Forgets a connection ``open(_:limit:)`` counted.
    func close(_ client: String) {
        state.withLock { state in
            let held = state.held[client, default: 0] - 1
            state.held[client] = held > 0 ? held : nil
            state.refused.remove(client)
        }
    }

    /// Clients with a connection open (for tests).
    var clients: Int { state.withLock { $0.held.count } }
}

/// Closes a connection as it opens when its client (the peer's address cut to its prefix,
/// ``ClientPrefixes``) already holds `limit`: one address cannot take every connection, file
/// descriptor and request task of a server. The peers of trusted proxies (a load balancer, the
/// gateway in front of the auth service) carry everyone's requests and are not counted.
///
/// Each refusal counts in `vmp3_http_connections_refused_total{reason="connections_per_client"}`;
/// a client's first refusal since it last held fewer is logged (a warning naming the client), its
/// next ones are not, so that a flood of connections is not also a flood of log lines.
final class ConnectionsPerClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let limit: Int
    private let counts: ClientConnectionCounts
    private let trustedProxies: TrustedProxies
    private let prefixes: ClientPrefixes
    private var counted: String?

    private let logger: Logger
    private static let refusals = Counter(label: "vmp3_http_connections_refused_total", dimensions: [("reason", "connections_per_client")])

    init(limit: Int, counts: ClientConnectionCounts, trustedProxies: TrustedProxies, prefixes: ClientPrefixes, logger: Logger) {
        self.limit = limit
        self.logger = logger
        self.counts = counts
        self.trustedProxies = trustedProxies
        self.prefixes = prefixes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { _ = admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        guard admit(context) else { return }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    /// Counts the connection; closes it, and returns `false`, if its client holds its limit.
    private func admit(_ context: ChannelHandlerContext) -> Bool {
        guard counted == nil, let peer = context.channel.remoteAddress?.ipAddress, !trustedProxies.trusts(peer) else { return true }
        let client = prefixes.key(for: peer)
        if case .refused(let first) = counts.open(client, limit: limit) {
            Self.refusals.increment()
            if first {
                logger.warning("a client holds its cap of connections: more are closed as they open", metadata: [
                    "client": "\(client)", "limit": "\(limit)",
                ])
            }
            context.close(promise: nil)
            return false
        }
        counted = client
        return true
    }

    private func release() {
        if let client = counted { counts.close(client) }
        counted = nil
    }
}
