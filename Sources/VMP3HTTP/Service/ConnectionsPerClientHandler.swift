import NIOCore
import NIOHTTPTypes
import Synchronization

/// The connections each client holds open on one server, counted across its event loops.
final class ClientConnectionCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Counts a connection of `client` unless it already holds `limit`; whether it was counted.
    func open(_ client: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let held = counts[client, default: 0]
            guard held < limit else { return false }
            counts[client] = held + 1
            return true
        }
    }

    /// Forgets a connection ``open(_:limit:)`` counted.
    func close(_ client: String) {
        counts.withLock { counts in
            let held = counts[client, default: 0] - 1
            counts[client] = held > 0 ? held : nil
        }
    }

    /// Clients with a connection open (for tests).
    var clients: Int { counts.withLock { $0.count } }
}

/// Closes a connection as it opens when its client (the peer's address cut to its prefix,
/// ``ClientPrefixes``) already holds `limit`: one address cannot take every connection, file
/// descriptor and request task of a server. The peers of trusted proxies (a load balancer, the
/// gateway in front of the auth service) carry everyone's requests and are not counted.
final class ConnectionsPerClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let limit: Int
    private let counts: ClientConnectionCounts
    private let trustedProxies: TrustedProxies
    private let prefixes: ClientPrefixes
    private var counted: String?

    init(limit: Int, counts: ClientConnectionCounts, trustedProxies: TrustedProxies, prefixes: ClientPrefixes) {
        self.limit = limit
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
        guard counts.open(client, limit: limit) else {
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
