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
