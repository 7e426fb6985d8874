import Hummingbird
import VMP3Core

/// Verifies `Authorization: Bearer TOKEN` locally with a `TokenVerifier` (public keys only) and
/// puts the claims in the context. No token, a malformed, expired or tampered one, or a token
/// signed with another algorithm (`alg: none` included) is a 401.
public struct BearerTokenMiddleware: RouterMiddleware {
    public typealias Context = VMP3RequestContext
    let verifier: any TokenVerifier

    public init(verifier: any TokenVerifier) {
        self.verifier = verifier
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw ProblemDetails.unauthorized("a bearer token is required")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ProblemDetails.unauthorized("the Authorization header must be `Bearer TOKEN`")
        }
        var context = context
        context.caller = try await verifier.verify(String(parts[1]).trimmingCharacters(in: .whitespaces))
        context.logger[metadataKey: "user_id"] = "\(context.caller!.userID)"
        return try await next(request, context)
    }
}
