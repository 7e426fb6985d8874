#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as its bytes (4 or 16), parsed and printed by `inet_pton`/`inet_ntop`.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Parses `text` (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`); `nil` if it is not an address.
    public init?(_ text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(text), &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, String(text), &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// The IPv4 address of an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`: how a dual-stack
    /// socket shows an IPv4 peer).
    public var mappedIPv4: IPAddress? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return nil }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }

    /// The IPv4 address an IPv6 one carries in its last four bytes, for the mapped (`::ffff:0:0/96`),
    /// NAT64 (`64:ff9b::/96`) and deprecated compatible (`::/96`) forms.
    public var embeddedIPv4: IPAddress? {
        guard bytes.count == 16 else { return nil }
        let head = Array(bytes[0..<12])
        let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff]
        let nat64: [UInt8] = [0x00, 0x64, 0xff, 0x9b] + Array(repeating: 0, count: 8)
        let compatible: [UInt8] = Array(repeating: 0, count: 12)
        guard head == mapped || head == nat64 || head == compatible else { return nil }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let text = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        guard text != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A block of addresses: `10.0.0.0/8`, `fc00::/7`, or one address (`/32`, `/128`).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS/BITS` or a lone address; `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let first = parts.first, let address = IPAddress(first) else { return nil }
        let limit = address.bytes.count * 8
        if parts.count == 2 {
            guard let bits = Int(parts[1]), (0...limit).contains(bits) else { return nil }
            prefixLength = bits
        } else {
            prefixLength = limit
        }
        self.address = address
    }

    /// The block of `prefixLength` bits (clamped to the family's) that holds `address`: its bits
    /// past the prefix cleared.
    public init(containing address: IPAddress, prefixLength: Int) {
        let length = min(max(prefixLength, 0), address.bytes.count * 8)
        var bytes = address.bytes
        for index in bytes.indices {
            let kept = min(max(length - index * 8, 0), 8)
            bytes[index] &= kept == 8 ? 0xff : ~(0xff >> UInt8(kept))
        }
        self.address = IPAddress(bytes: bytes)!
        self.prefixLength = length
    }

    /// Whether `candidate` is in the block (always `false` across address families).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        var bits = prefixLength
        for index in address.bytes.indices where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xff : ~(0xff >> UInt8(bits))
            if candidate.bytes[index] & mask != address.bytes[index] & mask { return false }
            bits -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension IPNetwork {
    /// The addresses and blocks of a comma-separated setting (`10.20.0.0/16, 192.168.1.7`);
    /// empty entries are skipped.
    /// - Throws: ``ConfigurationError`` naming `variable` and the first entry that is neither.
    public static func list(_ text: String, of variable: String) throws(ConfigurationError) -> [IPNetwork] {
        var networks: [IPNetwork] = []
        for entry in text.split(separator: ",").map({ $0.trimmingWhitespace() }) where !entry.isEmpty {
            guard let network = IPNetwork(entry) else {
                throw ConfigurationError("\(variable): \(entry) is not an IP address or CIDR block")
            }
            networks.append(network)
        }
        return networks
    }
}
