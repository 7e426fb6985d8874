import VMP3Core

/// Registration and login as the auth service offers them: users plus token issue.
public struct Authenticator: Sendable {
    public let users: UserDirectory
    public let issuer: any TokenIssuer

    public init(users: UserDirectory, issuer: any TokenIssuer) {
        self.users = users
        self.issuer = issuer
    }

    public func register(email: String, password: String) async throws(AuthError) -> User {
        try await users.register(email: email, password: password)
    }

    /// An access token for the user with these credentials.
    /// - Throws: ``AuthError/Code/invalidCredentials``.
    public func login(email: String, password: String) async throws -> IssuedToken {
        let user = try await users.authenticate(email: email, password: password)
        return try await issuer.issueToken(for: user.id, email: user.email.value)
    }
}
