/// Why a ``MessageQueue`` operation failed.
public struct QueueError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The broker could not be reached or did not confirm: worth retrying.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The delivery was settled already, or its subscription ended (it went back to the queue).
        public static let unknownDelivery = Code(rawValue: "unknown_delivery")
        /// A message could not be encoded or decoded.
        public static let malformedMessage = Code(rawValue: "malformed_message")
        /// An argument is out of range (for example, a prefetch below 1).
        public static let invalidArgument = Code(rawValue: "invalid_argument")
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var isTransient: Bool { code == .unavailable }

    public var description: String { "\(code): \(message)" }
}
