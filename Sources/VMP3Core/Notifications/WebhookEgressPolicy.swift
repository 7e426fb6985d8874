#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where webhooks may go. A webhook URL is chosen by whoever uploads, so a sender inside the
/// network must not POST to what only the network can reach: loopback, private and carrier-grade
/// NAT ranges, link-local (the cloud metadata endpoints among them), multicast, unique-local and
/// reserved addresses are refused unless ``allowedNetworks`` names them (on-premises receivers,
/// tests).
///
/// The check is made on the addresses the host name resolves to, immediately before connecting,
/// and the connection then goes to the address that was checked (VMP3Transport's `WebhookNotifier` pins it),
/// so a name that resolves to a public address for the check and a private one for the connect
/// (DNS rebinding) gets nowhere. A name with any forbidden address is refused whole.
public struct WebhookEgressPolicy: Sendable {
    /// The ranges webhooks never reach unless allowed.
    public static let forbiddenNetworks: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
        // Tunnels and translators that carry an IPv4 address inside an IPv6 one, so that an
        // address in them can reach any IPv4 host, internal ones included: 6to4, Teredo, and
        // local-use NAT64 (the well-known 64:ff9b::/96 is checked by its embedded address).
        "2002::/16", "2001::/32", "64:ff9b:1::/48",
    ].map { IPNetwork($0)! }

    /// Networks webhooks may reach although they are forbidden by default.
    public var allowedNetworks: [IPNetwork]

    public init(allowedNetworks: [IPNetwork] = []) {
        self.allowedNetworks = allowedNetworks
    }

    /// ``Setting/webhookAllowedNetworks``: a comma-separated list of addresses and CIDR blocks
    /// (`10.20.0.0/16,192.168.1.7`) that webhooks may reach although they are internal.
    ///
    /// - Throws: ``ConfigurationError`` naming an entry that is not an address or block.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init(allowedNetworks: try IPNetwork.list(settings.text(.webhookAllowedNetworks) ?? "", of: settings.source(of: .webhookAllowedNetworks)))
    }

    /// Whether a webhook may connect to `address`.
    public func permits(_ address: IPAddress) -> Bool {
        if allowedNetworks.contains(where: { $0.contains(address) }) { return true }
        if let embedded = address.embeddedIPv4, !(address.bytes.allSatisfy { $0 == 0 } || address.bytes == IPAddress("::1")?.bytes) {
            return permits(embedded)
        }
        return !Self.forbiddenNetworks.contains { $0.contains(address) }
    }

    /// The address to connect to for `host` (a name or an address literal): every address it
    /// resolves to must be permitted; the first is returned.
    ///
    /// - Throws: ``NotificationError`` `forbidden_destination` if one is not, `unavailable` if the
    ///   name does not resolve.
    public func address(for host: String) async throws(NotificationError) -> IPAddress {
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            addresses = await Self.resolve(host)
        }
        guard let first = addresses.first else {
            throw NotificationError(code: .unavailable, message: "the webhook's host \(host) does not resolve")
        }
        if let refused = addresses.first(where: { !permits($0) }) {
            throw NotificationError(
                code: .forbiddenDestination,
                message: "the webhook's host \(host) is \(refused), an internal address that webhooks may not reach"
            )
        }
        return first
    }

    /// `getaddrinfo` on a thread of its own (it blocks); TCP addresses only, in its order.
    static func resolve(_ host: String) async -> [IPAddress] {
        await withCheckedContinuation { continuation in
            BlockingThreadPool.shared.execute {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &list) == 0, let head = list else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(head) }
                var found: [IPAddress] = []
                var node: UnsafeMutablePointer<addrinfo>? = head
                while let current = node {
                    if let raw = current.pointee.ai_addr {
                        switch Int32(raw.pointee.sa_family) {
                        case AF_INET:
                            let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                            if let ip = withUnsafeBytes(of: address, { IPAddress(bytes: Array($0)) }) { found.append(ip) }
                        case AF_INET6:
                            let address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                            if let ip = withUnsafeBytes(of: address, { IPAddress(bytes: Array($0)) }) { found.append(ip) }
                        default:
                            break
                        }
                    }
                    node = current.pointee.ai_next
                }
                var unique: [IPAddress] = []
                for address in found where !unique.contains(address) { unique.append(address) }
                continuation.resume(returning: unique)
            }
        }
    }
}
