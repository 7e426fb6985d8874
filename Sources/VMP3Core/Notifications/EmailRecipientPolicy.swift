#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Which addresses job notifications may be e-mailed to.
///
/// An account's address is whatever its owner typed at registration, never confirmed, and the
/// message carries text the uploader chose (the title, the file's name): mailing any address
/// would let anyone send mail in the operator's name to anyone. So an operator names who may get
/// it: single addresses, whole domains (`@example.com`, its subdomains included), or `*` for
/// every address (a deployment whose users are known). With none named, e-mail notifications
/// are refused — `notify_email=true` is 422 `email_not_allowed` — and a notifier sends none.
public struct EmailRecipientPolicy: Sendable, Hashable {
    public var allowsEveryone: Bool
    public var addresses: Set<String>
    public var domains: Set<String>

    public init(allowsEveryone: Bool = false, addresses: Set<String> = [], domains: Set<String> = []) {
        self.allowsEveryone = allowsEveryone
        self.addresses = Set(addresses.map { $0.lowercased() })
        self.domains = Set(domains.map { $0.lowercased() })
    }

    /// ``Setting/emailAllowedRecipients``: comma-separated `ann@example.com`, `@example.com`,
    /// `*`; none when unset.
    /// - Throws: ``ConfigurationError`` for an entry that is none of these.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init()
        let entries = (settings.text(.emailAllowedRecipients) ?? "").split(separator: ",")
            .map { $0.trimmingWhitespace().lowercased() }.filter { !$0.isEmpty }
        for entry in entries {
            if entry == "*" {
                allowsEveryone = true
            } else if entry.hasPrefix("@"), entry.count > 3, entry.dropFirst().contains("."), !entry.dropFirst().contains("@") {
                domains.insert(String(entry.dropFirst()))
            } else if let at = entry.firstIndex(of: "@"), at != entry.startIndex, entry[entry.index(after: at)...].contains("."),
                      entry.filter({ $0 == "@" }).count == 1 {
                addresses.insert(entry)
            } else {
                throw ConfigurationError("\(settings.source(of: .emailAllowedRecipients)): \(entry) is not ADDRESS, @DOMAIN or *")
            }
        }
    }

    /// Whether e-mail may go to `address` (compared lower-cased).
    public func allows(_ address: String) -> Bool {
        if allowsEveryone { return true }
        let address = address.trimmingWhitespace().lowercased()
        if addresses.contains(address) { return true }
        guard let at = address.lastIndex(of: "@") else { return false }
        var domain = Substring(address[address.index(after: at)...])
        while !domain.isEmpty {
            if domains.contains(String(domain)) { return true }
            guard let dot = domain.firstIndex(of: ".") else { break }
            domain = domain[domain.index(after: dot)...]
        }
        return false
    }

    /// Whether any address at all may get e-mail.
    public var allowsAny: Bool { allowsEveryone || !addresses.isEmpty || !domains.isEmpty }
}
