/// A thread VMP3 needed could not be started (`pthread_create` refused: the process's or the
/// system's limit on threads, or no memory for its stack).
public struct ThreadStartError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The thread's name.
    public let name: String
    /// The system's words.
    public let message: String

    public init(name: String, message: String) {
        self.name = name
        self.message = message
    }

    public var description: String { "cannot start the thread \(name): \(message)" }
}
