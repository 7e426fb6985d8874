/// Why an ``ObjectStore`` operation failed: a stable ``code`` and a ``message``.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No object under the key.
        public static let notFound = Code(rawValue: "not_found")
        /// The key breaks the rules of ``ObjectKey``.
        public static let invalidKey = Code(rawValue: "invalid_key")
        /// The store refused the credentials or the operation.
        public static let accessDenied = Code(rawValue: "access_denied")
        /// The store could not be reached or answered with a server error: worth retrying.
        public static let unavailable = Code(rawValue: "unavailable")
        /// A ranged read asked for bytes the object does not have.
        public static let invalidRange = Code(rawValue: "invalid_range")
        /// A local file could not be read or written.
        public static let localFile = Code(rawValue: "local_file")
        /// Anything else the store answered.
        public static let failed = Code(rawValue: "failed")
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Whether trying again later may succeed.
    public var isTransient: Bool { code == .unavailable }

    public var description: String { "\(code): \(message)" }
}
