import Foundation
import Hummingbird
import NIOCore
import VMP3Auth
import VMP3Kit

/// The auth service's routes: `POST /v1/auth/register`, `POST /v1/auth/login`,
/// `GET /v1/auth/jwks`.
///
/// Login attempts are limited per address and per client (429 with `Retry-After`), so that
/// guessing passwords is slow whichever of the two an attacker varies.
public struct AuthRoutes: Sendable {
    public struct Configuration: Sendable {
        public var attemptsPerAddress: Int
        public var attemptsPerClient: Int
        public var window: Duration

        public init(attemptsPerAddress: Int = 10, attemptsPerClient: Int = 50, window: Duration = .seconds(60)) {
            self.attemptsPerAddress = attemptsPerAddress
            self.attemptsPerClient = attemptsPerClient
            self.window = window
        }
    }

    struct Credentials: Decodable {
        var email: String
        var password: String
    }

    struct Registered: ResponseEncodable {
        var id: String
        var email: String
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case id, email, createdAt = "created_at"
        }
    }

    struct AccessToken: ResponseEncodable {
        var accessToken: String
        var tokenType = "Bearer"
        var expiresIn: Int

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token", tokenType = "token_type", expiresIn = "expires_in"
        }
    }

    let authenticator: Authenticator
    let publicKeys: [PublicSigningKey]
    let perAddress: FixedWindowRateLimiter
    let perClient: FixedWindowRateLimiter

    public init(authenticator: Authenticator, publicKeys: [PublicSigningKey], configuration: Configuration = Configuration()) {
        self.authenticator = authenticator
        self.publicKeys = publicKeys
        perAddress = FixedWindowRateLimiter(limit: configuration.attemptsPerAddress, per: configuration.window)
        perClient = FixedWindowRateLimiter(limit: configuration.attemptsPerClient, per: configuration.window)
    }

    public func add(to router: Router<VMP3RequestContext>) {
        let group = router.group("v1/auth")
        group.post("register") { request, context -> EditedResponse<Registered> in
            let credentials = try await Self.credentials(request, context)
            let user = try await authenticator.register(email: credentials.email, password: credentials.password)
            return EditedResponse(
                status: .created,
                response: Registered(id: user.id.rawValue, email: user.email.value, createdAt: user.createdAt)
            )
        }
        group.post("login") { request, context -> AccessToken in
            let credentials = try await Self.credentials(request, context)
            // The form the user is stored under: `Ann@X.com\n` and `ann@x.com` share one bucket.
            let address = (try? EmailAddress(credentials.email).value) ?? credentials.email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if let wait = await perClient.record(context.clientAddress(request)) {
                throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many login attempts from this client")
            }
            if let wait = await perAddress.record(address) {
                throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many login attempts for this address")
            }
            let token = try await authenticator.login(email: credentials.email, password: credentials.password)
            return AccessToken(accessToken: token.token, expiresIn: token.expiresIn)
        }
        group.get("jwks") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/jwk-set+json", .cacheControl: "max-age=300"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: PublicSigningKey.jwks(publicKeys)))
            )
        }
    }

    static func credentials(_ request: Request, _ context: VMP3RequestContext) async throws -> Credentials {
        do {
            return try await request.decode(as: Credentials.self, context: context)
        } catch {
            throw ProblemDetails(.unprocessableContent, code: "invalid_body", title: "Invalid body", detail: "expected JSON {\"email\": …, \"password\": …}")
        }
    }
}
