/// Why a ``JobStore`` operation failed.
public struct JobStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No job with that id.
        public static let notFound = Code(rawValue: "not_found")
        /// Compare-and-set lost: the record changed since it was read.
        public static let conflict = Code(rawValue: "conflict")
        /// The status change is not allowed (see ``JobStatus/canTransition(to:)``).
        public static let invalidTransition = Code(rawValue: "invalid_transition")
        /// A job with that id exists already.
        public static let duplicate = Code(rawValue: "duplicate")
        /// The worker no longer holds the job: its lease expired and another took it, or it ended.
        public static let leaseLost = Code(rawValue: "lease_lost")
        /// The owner has as many jobs queued or running as the create's `activeLimit` allows.
        public static let activeLimitReached = Code(rawValue: "active_limit_reached")
        /// The store could not be reached: worth retrying.
        public static let unavailable = Code(rawValue: "unavailable")
        /// A stored record could not be read.
        public static let corrupt = Code(rawValue: "corrupt")
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var isTransient: Bool { code == .unavailable }

    public var description: String { "\(code): \(message)" }

    /// The error of a create refused at its `activeLimit`.
    public static func activeLimitReached(_ owner: UserID, limit: Int) -> JobStoreError {
        JobStoreError(code: .activeLimitReached, message: "\(owner) has \(limit) jobs queued or running, the most allowed; wait for some to finish")
    }

    static func notFound(_ id: JobID) -> JobStoreError {
        JobStoreError(code: .notFound, message: "no job \(id)")
    }
}
