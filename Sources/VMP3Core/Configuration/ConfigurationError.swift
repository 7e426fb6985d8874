/// A setting or a backend URL that cannot be used (malformed, out of its range, or a backend no
/// factory makes): a process that meets one while it starts says so in one line and exits.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
