import Foundation
import Hummingbird
import VMP3Core

/// `POST /v1/session`, `GET /v1/session`, `DELETE /v1/session`: the web page's session
/// (``SessionCookie``).
///
/// The page logs in as any client does (`POST /v1/auth/login`), then hands the token to
/// `POST /v1/session` in its `Authorization` header: the answer sets the cookie and gives the
/// CSRF token, and the page forgets the bearer token. `GET` tells a page that was reloaded
/// whether its cookie still holds a session (and its CSRF token); `DELETE` logs out.
public struct SessionRoutes: Sendable {
    struct Session: ResponseEncodable {
        var userID: String
        var email: String?
        var expiresAt: Date
        var csrfToken: String

        enum CodingKeys: String, CodingKey {
            case userID = "user_id", email, expiresAt = "expires_at", csrfToken = "csrf_token"
        }
    }

    let verifier: any TokenVerifier

    /// - Parameter verifier: checks the tokens a session is made from and kept in.
    public init(verifier: any TokenVerifier) {
        self.verifier = verifier
    }

    public func add(to router: Router<VMP3RequestContext>) {
        router.post("v1/session") { request, _ -> Response in
            guard let token = try BearerTokenMiddleware.bearerToken(in: request) else {
                throw ProblemDetails.unauthorized("a session is made from a bearer token: log in, then send it as `Authorization: Bearer TOKEN`")
            }
            let claims = try await verifier.verify(token)
            var response = try Self.json(Self.session(token: token, claims), status: .created)
            response.setCookie(SessionCookie.holding(token, expiresAt: claims.expiresAt))
            return response
        }
        router.get("v1/session") { request, _ -> Response in
            guard let token = SessionCookie.token(in: request) else { throw ProblemDetails.unauthorized("no session: log in") }
            return try Self.json(Self.session(token: token, try await verifier.verify(token)), status: .ok)
        }
        // Logging out needs no CSRF token: all another site could do with it is end a session.
        router.delete("v1/session") { _, _ -> Response in
            var response = Response(status: .noContent)
            response.setCookie(SessionCookie.cleared)
            return response
        }
    }

    static func session(token: String, _ claims: AccessTokenClaims) -> Session {
        Session(userID: claims.userID.rawValue, email: claims.email, expiresAt: claims.expiresAt, csrfToken: SessionCookie.csrfToken(for: token))
    }

    static func json(_ session: Session, status: HTTPResponse.Status) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JobDocument.makeEncoder().encode(session)))
        )
    }
}
