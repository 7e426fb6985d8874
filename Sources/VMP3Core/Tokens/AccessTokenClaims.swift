#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a verified access token says.
public struct AccessTokenClaims: Sendable, Hashable, Codable {
    /// The user the token was issued to.
    public var userID: UserID
    public var email: String?
    public var issuedAt: Date
    public var expiresAt: Date

    public init(userID: UserID, email: String? = nil, issuedAt: Date, expiresAt: Date) {
        self.userID = userID
        self.email = email
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}
