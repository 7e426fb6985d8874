/// Why registration, login or key handling failed: a stable ``code`` and a ``message``.
public struct AuthError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not a usable e-mail address (HTTP 422).
        public static let invalidEmail = Code(rawValue: "invalid_email")
        /// The password breaks the policy (HTTP 422).
        public static let weakPassword = Code(rawValue: "weak_password")
        /// A user with that address exists (HTTP 409).
        public static let emailTaken = Code(rawValue: "email_taken")
        /// Unknown address or wrong password; deliberately not saying which (HTTP 401).
        public static let invalidCredentials = Code(rawValue: "invalid_credentials")
        /// The signing key could not be loaded, created or used.
        public static let keyUnavailable = Code(rawValue: "key_unavailable")
        /// The user database failed.
        public static let storageFailed = Code(rawValue: "storage_failed")
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
