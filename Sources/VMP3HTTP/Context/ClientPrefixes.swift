import VMP3Core

/// How much of a client's address names the client, for the per-client limits: an IPv4 address
/// whole, an IPv6 address by its /64. A subscriber is given at least a /64 and may take any of its
/// 2^64 addresses at will, so a limit keyed on the whole IPv6 address would be no limit at all.
/// An IPv4 address carried in IPv6 (`::ffff:192.0.2.1`, NAT64) counts as that IPv4 address.
public struct ClientPrefixes: Sendable, Hashable {
    /// Leading bits of an IPv4 address that name a client. Default 32.
    public var ipv4: Int
    /// Leading bits of an IPv6 address that name a client. Default 64.
    public var ipv6: Int

    public init(ipv4: Int = 32, ipv6: Int = 64) {
        self.ipv4 = min(max(ipv4, 0), 32)
        self.ipv6 = min(max(ipv6, 0), 128)
    }

    /// `Setting.clientPrefixIPv4` and `Setting.clientPrefixIPv6` over the defaults.
    /// - Throws: `ConfigurationError` naming a setting out of its range.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init(
            ipv4: try settings.wholeNumber(.clientPrefixIPv4) ?? 32,
            ipv6: try settings.wholeNumber(.clientPrefixIPv6) ?? 64
        )
    }

    /// The key of the client at `address`: the address itself when the prefix is all of it,
    /// else its block (`2001:db8:1:2::/64`); text that is not an address is kept as it is.
    public func key(for address: String) -> String {
        guard var parsed = IPAddress(address) else { return address }
        if let carried = parsed.embeddedIPv4 { parsed = carried }
        let bits = parsed.isIPv4 ? ipv4 : ipv6
        guard bits < parsed.bytes.count * 8 else { return parsed.description }
        return IPNetwork(containing: parsed, prefixLength: bits).description
    }
}
