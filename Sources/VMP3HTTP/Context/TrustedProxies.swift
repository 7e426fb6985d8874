import Foundation
import VMP3Core

/// The proxies whose `X-Forwarded-For` a server believes, and the client address that follows
/// from them: the rightmost hop that is not a trusted proxy.
///
/// Walking from the connection's peer leftwards through `X-Forwarded-For`, each trusted proxy
/// vouches for the hop before it; the first hop no trusted proxy vouches for is the client. So a
/// client cannot pick its own rate-limit bucket by sending `X-Forwarded-For` itself: a header it
/// sends directly is never read (its connection is not a trusted proxy), and one it sends through
/// the proxies only adds hops to the left of the one the last proxy wrote.
public struct TrustedProxies: Sendable, Hashable {
    public var networks: [IPNetwork]

    public init(_ networks: [IPNetwork]) {
        self.networks = networks
    }

    /// Loopback only: the gateway (or a reverse proxy) on the same host.
    public static let loopback = TrustedProxies(["127.0.0.0/8", "::1/128"].map { IPNetwork($0)! })

    /// `Setting.trustedProxies`: addresses and blocks, comma-separated (`10.0.0.0/8,192.0.2.7`);
    /// `none` for no proxy at all; loopback when unset.
    /// - Throws: `ConfigurationError` naming an entry that is neither.
    public init(settings: Settings) throws(ConfigurationError) {
        guard let text = settings.text(.trustedProxies)?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            self = .loopback
            return
        }
        self.init(text == "none" ? [] : try IPNetwork.list(text, of: Setting.trustedProxies.name))
    }

    /// Whether `address` is a trusted proxy; an IPv4 address in IPv6 dress (`::ffff:10.0.0.7`,
    /// as a dual-stack listener sees IPv4 peers) is judged as the IPv4 address.
    public func trusts(_ address: String) -> Bool {
        guard let address = IPAddress(address) else { return false }
        let mapped = address.mappedIPv4
        return networks.contains { $0.contains(address) || mapped.map($0.contains) == true }
    }

    /// The client behind `peer` (the connection's address), given the `X-Forwarded-For` values
    /// of the request (every header line, in order).
    public func clientAddress(peer: String, forwardedFor: [String]) -> String {
        var client = peer
        guard trusts(client) else { return client }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            // A hop that is not an address (`unknown`, junk) ends the walk: the proxy that
            // wrote it is the last one believed.
            guard let address = IPAddress(hop) else { return client }
            client = address.description
            if !trusts(client) { return client }
        }
        return client
    }
}
