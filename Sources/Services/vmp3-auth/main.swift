// vmp3-auth: registration, login and the public keys tokens are verified with.
//
// Environment: VMP3_HTTP_ADDRESS (default 127.0.0.1:8081), VMP3_DATA_DIR (users.sqlite and
// signing-key.pem, made on first start; signing-key.previous.pem, if there, is published but
// signs nothing: see SigningKeyRing for rotating), VMP3_USERS_DB, VMP3_SIGNING_KEY and
// VMP3_PREVIOUS_SIGNING_KEY to place them elsewhere, VMP3_PASSWORD_HASH_COST (scrypt's
// ln=15,r=8,p=3 by default), VMP3_TRUSTED_PROXIES (whose X-Forwarded-For names the client;
// loopback by default: the gateway on this host), VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR (20),
// VMP3_STORE (a redis:// store keeps the rate limits there, shared by several auth services),
// VMP3_LOG_LEVEL.
import ServiceLifecycle
import VMP3Auth
import VMP3AuthHTTP
import VMP3HTTP
import VMP3Core
import VMP3Transport

await ServiceMain.run("vmp3-auth") {
    let environment = ServiceEnvironment()
    VMP3Metrics.bootstrap()
    let logger = environment.logger("vmp3-auth")
    let users = try UserDirectory(
        path: environment["VMP3_USERS_DB"] ?? environment.dataPath("users.sqlite"),
        hasher: try ScryptPasswordHasher(environment: environment.values)
    )
    let keys = try SigningKeyRing.load(
        currentPath: environment["VMP3_SIGNING_KEY"] ?? environment.dataPath("signing-key.pem"),
        previousPath: environment["VMP3_PREVIOUS_SIGNING_KEY"] ?? environment.dataPath("signing-key.previous.pem")
    )
    let routes = AuthRoutes(
        authenticator: Authenticator(users: users, issuer: await JWTTokenIssuer(signingKey: keys.current)), publicKeys: keys.publishedKeys,
        configuration: try AuthRoutes.Configuration(environment: environment.values),
        rateLimits: try TransportBackendFactory().makeRateLimitCounter(try BackendConfiguration(environment: environment.values).store)
    )
    let router = VMP3Router.make(auth: routes, trustedProxies: try TrustedProxies(environment: environment.values))
    let app = try environment.application(router: router, defaultPort: 8081, logger: logger)
    try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
