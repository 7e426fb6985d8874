import Foundation
import Hummingbird
import VMP3Core

/// Verifies the caller's access token locally with a `TokenVerifier` (public keys only) and
/// puts the claims in the context. The token comes from `Authorization: Bearer TOKEN`, or, for
/// the web page, from its session cookie (``SessionCookie``), in which case a request that
/// changes something must carry the session's CSRF token too (403 `csrf_failed` otherwise).
/// No token, a malformed, expired or tampered one, or a token signed with another algorithm
/// (`alg: none` included) is a 401. A request with both uses the header.
public struct BearerTokenMiddleware: RouterMiddleware {
    public typealias Context = VMP3RequestContext
    let verifier: any TokenVerifier

    public init(verifier: any TokenVerifier) {
        self.verifier = verifier
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token: String
        if let bearer = try Self.bearerToken(in: request) {
            token = bearer
        } else if let session = SessionCookie.token(in: request) {
            if request.method != .get && request.method != .head,
               !SessionCookie.isValid(csrf: request.headers[SessionCookie.csrfHeader], for: session) {
                throw ProblemDetails(
                    .forbidden, code: "csrf_failed", title: "CSRF check failed",
                    detail: "a request made with the session cookie must carry the session's \(SessionCookie.csrfHeader) header"
                )
            }
            token = session
        } else {
            throw ProblemDetails.unauthorized("a bearer token is required")
        }
        var context = context
        context.caller = try await verifier.verify(token)
        context.logger[metadataKey: "user_id"] = "\(context.caller!.userID)"
        return try await next(request, context)
    }

    /// The token of the request's `Authorization: Bearer TOKEN` header; `nil` without the header.
    /// - Throws: 401 for an `Authorization` header of another form.
    static func bearerToken(in request: Request) throws -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ProblemDetails.unauthorized("the Authorization header must be `Bearer TOKEN`")
        }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }
}
