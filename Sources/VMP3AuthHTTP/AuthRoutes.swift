import Foundation
import Hummingbird
import NIOCore
import VMP3HTTP
import VMP3Auth
import VMP3Core

/// The auth service's routes: `POST /v1/auth/register`, `POST /v1/auth/login`,
/// `GET /v1/auth/jwks`.
///
/// Login attempts are limited per address and per client (429 with `Retry-After`), so that
/// guessing passwords is slow whichever of the two an attacker varies; registrations too, so
/// that accounts (each a scrypt hash, and a fresh set of per-user limits) are not free. The
/// client is `VMP3RequestContext.clientAddress` (trusted proxies resolved), the address the
/// normalised e-mail address, so `Ann@X.com\n` and `ann@x.com` share one count.
public struct AuthRoutes: PublicRoutes {
    public struct Configuration: Sendable {
        public var attemptsPerAddress: Int
        public var attemptsPerClient: Int
        public var window: Duration
        public var registrationsPerAddress: Int
        public var registrationsPerClient: Int
        public var registrationWindow: Duration

        public init(
            attemptsPerAddress: Int = 10, attemptsPerClient: Int = 50, window: Duration = .seconds(60),
            registrationsPerAddress: Int = 5, registrationsPerClient: Int = 20, registrationWindow: Duration = .seconds(3600)
        ) {
            self.attemptsPerAddress = attemptsPerAddress
            self.attemptsPerClient = attemptsPerClient
            self.window = window
            self.registrationsPerAddress = registrationsPerAddress
            self.registrationsPerClient = registrationsPerClient
            self.registrationWindow = registrationWindow
        }

        /// `Setting.registrationsPerClientPerHour` over the defaults.
        public init(settings: Settings) throws(ConfigurationError) {
            self.init()
            if settings.isGiven(.registrationsPerClientPerHour), let number = try settings.wholeNumber(.registrationsPerClientPerHour) {
                registrationsPerClient = number
            }
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
    let loginsPerAddress: FixedWindowRateLimiter
    let loginsPerClient: FixedWindowRateLimiter
    let registrationsPerAddress: FixedWindowRateLimiter
    let registrationsPerClient: FixedWindowRateLimiter

    /// - Parameters:
    ///   - authenticator: registers and logs users in.
    ///   - publicKeys: the keys `GET /v1/auth/jwks` publishes.
    ///   - configuration: the registration and login limits.
    ///   - rateLimits: where the limits count (shared by several auth services when it is Redis).
    public init(
        authenticator: Authenticator, publicKeys: [PublicSigningKey], configuration: Configuration = Configuration(),
        rateLimits: any RateLimitCounter = InMemoryRateLimitCounter()
    ) {
        self.authenticator = authenticator
        self.publicKeys = publicKeys
        loginsPerAddress = FixedWindowRateLimiter("login-address", limit: configuration.attemptsPerAddress, per: configuration.window, counter: rateLimits)
        loginsPerClient = FixedWindowRateLimiter("login-client", limit: configuration.attemptsPerClient, per: configuration.window, counter: rateLimits)
        registrationsPerAddress = FixedWindowRateLimiter(
            "register-address", limit: configuration.registrationsPerAddress, per: configuration.registrationWindow, counter: rateLimits
        )
        registrationsPerClient = FixedWindowRateLimiter(
            "register-client", limit: configuration.registrationsPerClient, per: configuration.registrationWindow, counter: rateLimits
        )
    }

    /// Counts one event against the client's and the address's limits; 429 if either is over.
    /// An address that is not a valid e-mail address counts against the client only: it can
    /// name no user, and its text (up to the body's size) is not a key worth keeping.
    private func limit(
        _ what: String, perClient: FixedWindowRateLimiter, perAddress: FixedWindowRateLimiter,
        _ email: String, _ context: VMP3RequestContext
    ) async throws {
        if let wait = await perClient.record(context.clientAddress) {
            throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many \(what) from this client")
        }
        if let address = try? EmailAddress(email).value, let wait = await perAddress.record(address) {
            throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many \(what) for this address")
        }
    }

    public func add(to router: Router<VMP3RequestContext>) {
        let group = router.group("v1/auth")
        group.post("register") { request, context -> EditedResponse<Registered> in
            let credentials = try await Self.credentials(request, context)
            try await limit("registrations", perClient: registrationsPerClient, perAddress: registrationsPerAddress, credentials.email, context)
            let user = try await authenticator.register(email: credentials.email, password: credentials.password)
            return EditedResponse(
                status: .created,
                response: Registered(id: user.id.rawValue, email: user.email.value, createdAt: user.createdAt)
            )
        }
        group.post("login") { request, context -> AccessToken in
            let credentials = try await Self.credentials(request, context)
            try await limit("login attempts", perClient: loginsPerClient, perAddress: loginsPerAddress, credentials.email, context)
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
