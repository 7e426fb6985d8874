/// Verifies access tokens locally (the gateway), with public keys only.
public protocol TokenVerifier: Sendable {
    /// - Throws: ``TokenError`` for any token that must be refused.
    func verify(_ token: String) async throws(TokenError) -> AccessTokenClaims
}
