/// Why a ``Notifier`` could not deliver: a stable ``code`` and a ``message``.
public struct NotificationError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The destination cannot be used (not an http(s) URL, not an e-mail address).
        public static let invalidDestination = Code(rawValue: "invalid_destination")
        /// The destination is an internal address (loopback, private, link-local, …) that
        /// notifications may not reach: see `WebhookEgressPolicy`.
        public static let forbiddenDestination = Code(rawValue: "forbidden_destination")
        /// This notifier does not handle the destination.
        public static let unsupported = Code(rawValue: "unsupported")
        /// The receiver answered that it will not take the notification (an HTTP 4xx, a
        /// refused recipient): trying again would not help.
        public static let rejected = Code(rawValue: "rejected")
        /// The receiver did not answer in time, every attempt.
        public static let timedOut = Code(rawValue: "timed_out")
        /// The receiver could not be reached or kept failing (5xx, connection errors) until the
        /// attempts ran out.
        public static let unavailable = Code(rawValue: "unavailable")
    }

    public var code: Code
    public var message: String
    /// How many attempts were made before giving up.
    public var attempts: Int

    public init(code: Code, message: String, attempts: Int = 0) {
        self.code = code
        self.message = message
        self.attempts = attempts
    }

    public var description: String { "\(code): \(message)" }
}
