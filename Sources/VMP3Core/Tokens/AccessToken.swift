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

/// Why a token was refused. Every code means "401" to an HTTP service; the code says which
/// check failed, for logs.
public struct TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not a well-formed token.
        public static let malformed = Code(rawValue: "malformed")
        /// The signature does not verify with any trusted key, or the algorithm is not accepted.
        public static let invalidSignature = Code(rawValue: "invalid_signature")
        /// The token's expiry has passed.
        public static let expired = Code(rawValue: "expired")
        /// Issuer, audience or subject are not what this service accepts.
        public static let invalidClaims = Code(rawValue: "invalid_claims")
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// Issues access tokens (the auth service).
public protocol TokenIssuer: Sendable {
    func issueToken(for user: UserID, email: String?) async throws -> IssuedToken
}

/// Verifies access tokens locally (the gateway), with public keys only.
public protocol TokenVerifier: Sendable {
    /// - Throws: ``TokenError`` for any token that must be refused.
    func verify(_ token: String) async throws(TokenError) -> AccessTokenClaims
}
