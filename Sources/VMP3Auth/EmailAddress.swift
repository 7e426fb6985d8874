import Foundation

/// An e-mail address in the one form users are stored under: trimmed and lower-cased, so that
/// `Ann@Example.COM ` and `ann@example.com` are the same user.
public struct EmailAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public let value: String

    /// - Throws: ``AuthError/Code/invalidEmail`` unless the text is `local@domain.tld` with no
    ///   spaces, a local part of at most 64 and an address of at most 254 characters.
    public init(_ text: String) throws(AuthError) {
        let normalized = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let parts = normalized.split(separator: "@", omittingEmptySubsequences: false)
        func invalid(_ why: String) -> AuthError {
            AuthError(code: .invalidEmail, message: "\"\(text.prefix(100))\" is not a valid e-mail address: \(why)")
        }
        guard normalized.count <= 254 else { throw invalid("it is longer than 254 characters") }
        guard parts.count == 2, let local = parts.first, let domain = parts.last else { throw invalid("it needs exactly one @") }
        guard !local.isEmpty, local.count <= 64 else { throw invalid("the part before @ must have 1 to 64 characters") }
        guard !normalized.contains(where: { $0.isWhitespace || $0.isNewline || "<>(),;:\\\"[]".contains($0) }) else {
            throw invalid("it contains spaces or special characters")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }) else {
            throw invalid("the domain must look like example.com")
        }
        value = normalized
    }

    public var description: String { value }
}
