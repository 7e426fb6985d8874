/// Issues access tokens (the auth service).
public protocol TokenIssuer: Sendable {
    func issueToken(for user: UserID, email: String?) async throws -> IssuedToken
}
