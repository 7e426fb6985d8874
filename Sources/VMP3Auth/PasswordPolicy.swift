/// What a password must be.
public struct PasswordPolicy: Sendable, Hashable {
    public var minimumLength: Int
    public var maximumBytes: Int
    /// Distinct characters required, so that `aaaaaaaaaaaa` does not pass on length alone.
    public var minimumDistinctCharacters: Int

    public init(minimumLength: Int = 10, maximumBytes: Int = 1024, minimumDistinctCharacters: Int = 5) {
        self.minimumLength = minimumLength
        self.maximumBytes = maximumBytes
        self.minimumDistinctCharacters = minimumDistinctCharacters
    }

    /// A few of the passwords attackers try first.
    static let common: Set<String> = [
        "password", "password1", "password123", "1234567890", "qwertyuiop", "letmein123", "iloveyou12",
        "administrator", "welcome123", "passw0rd12", "0123456789", "abcdefghij",
    ]

    /// - Throws: ``AuthError/Code/weakPassword`` saying what is missing.
    public func check(_ password: String) throws(AuthError) {
        func weak(_ why: String) -> AuthError { AuthError(code: .weakPassword, message: "the password \(why)") }
        if password.count < minimumLength { throw weak("must have at least \(minimumLength) characters") }
        if password.utf8.count > maximumBytes { throw weak("must have at most \(maximumBytes) bytes") }
        if Set(password).count < minimumDistinctCharacters { throw weak("must have at least \(minimumDistinctCharacters) different characters") }
        if Self.common.contains(password.lowercased()) { throw weak("is one of the most common passwords") }
    }
}
