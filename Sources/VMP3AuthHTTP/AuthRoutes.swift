import Foundation
import Hummingbird
import NIOCore
import VMP3HTTP
import VMP3Auth
import VMP3Core

/// The auth service's routes: `POST /v1/auth/register`, `POST /v1/auth/login`,
/// `GET /v1/auth/jwks`.
///
/// Logins are limited per client (attempts) and per address and client (wrong passwords), 429
/// with `Retry-After`: guessing is slow, and no one can lock another person out, since the
/// failures that refuse a login are the ones its own client made (a limit per address alone
/// let anyone who knows an address make its owner's correct password a 429). Registrations are
/// limited per client and per address, so that accounts (each a scrypt hash, and a fresh set of
/// per-user limits) are not free. The client is `VMP3RequestContext.clientKey` (trusted
/// proxies resolved, IPv6 by its /64), the address the normalised e-mail address, so
/// `Ann@X.com\n` and `ann@x.com` share one count.
public struct AuthRoutes: PublicRoutes {
    public struct Configuration: Sendable {
        /// Wrong passwords for one address from one client in a `window`; the next login of that
        /// address from that client is 429 until the window ends. Default 10.
        public var failuresPerAddressAndClient: Int
        /// Login attempts from one client in a `window`, right or wrong. Default 50.
        public var attemptsPerClient: Int
        public var window: Duration
        public var registrationsPerAddress: Int
        public var registrationsPerClient: Int
        public var registrationWindow: Duration

        public init(
            failuresPerAddressAndClient: Int = 10, attemptsPerClient: Int = 50, window: Duration = .seconds(60),
            registrationsPerAddress: Int = 5, registrationsPerClient: Int = 20, registrationWindow: Duration = .seconds(3600)
        ) {
            self.failuresPerAddressAndClient = failuresPerAddressAndClient
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
    let loginFailures: FixedWindowRateLimiter
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
        loginFailures = FixedWindowRateLimiter(
            "login-failures", limit: configuration.failuresPerAddressAndClient, per: configuration.window, counter: rateLimits
        )
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
        if let wait = await perClient.record(context.clientKey) {
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
            if let wait = await loginsPerClient.record(context.clientKey) {
                throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many login attempts from this client")
            }
            // Counted for the address and this client before the password is hashed (so that
            // guesses sent at once are counted at once, and one past the limit costs no hash),
            // and given back when the password was right: what stays counted are wrong ones.
            let failureKey = (try? EmailAddress(credentials.email).value).map { "\($0) \(context.clientKey)" }
            if let failureKey, let wait = await loginFailures.record(failureKey) {
                throw ProblemDetails.tooManyRequests(retryAfter: wait, "too many wrong passwords for this address from this client")
            }
            let token = try await authenticator.login(email: credentials.email, password: credentials.password)
            if let failureKey { await loginFailures.reset(failureKey) }
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
