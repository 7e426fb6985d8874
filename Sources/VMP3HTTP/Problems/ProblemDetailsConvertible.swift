/// An error that knows its own problem document: how a module above VMP3HTTP (the auth routes'
/// ``ProblemMiddleware`` knows nothing of `AuthError`) gives its errors a status and a stable code.
public protocol ProblemDetailsConvertible: Error {
    /// The document a client gets for this error.
    var problemDetails: ProblemDetails { get }
}
