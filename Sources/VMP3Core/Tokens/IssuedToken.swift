#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A freshly issued bearer token.
public struct IssuedToken: Sendable, Hashable, Codable {
    /// The compact token to send as `Authorization: Bearer …`.
    public var token: String
    public var expiresAt: Date
    /// Seconds from issue to expiry.
    public var expiresIn: Int

    public init(token: String, expiresAt: Date, expiresIn: Int) {
        self.token = token
        self.expiresAt = expiresAt
        self.expiresIn = expiresIn
    }
}
