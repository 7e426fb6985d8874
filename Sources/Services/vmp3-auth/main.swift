// vmp3-auth: registration, login and the public keys tokens are verified with.
//
// Settings (`vmp3 settings`, Docs/operations.md): the users' database and the signing keys
// (made on first start in VMP3_DATA_DIR; a previous key, if there, is published but signs
// nothing: see SigningKeyRing for rotating), the scrypt cost, the trusted proxies, the
// registration limit; with a redis:// VMP3_STORE the rate limits count there, shared by several
// auth services.
import ServiceLifecycle
import VMP3Auth
import VMP3AuthHTTP
import VMP3HTTP
import VMP3Core
import VMP3Transport

await ServiceMain.run("vmp3-auth") {
    let environment = try ServiceEnvironment(.auth)
    let settings = environment.settings
    VMP3Metrics.bootstrap()
    let logger = environment.logger()
    let users = try UserDirectory(
        path: environment.path(.usersDatabase, orInDataDirectory: "users.sqlite"),
        hasher: try ScryptPasswordHasher(settings: settings)
    )
    let keys = try SigningKeyRing.load(
        currentPath: environment.path(.signingKey, orInDataDirectory: "signing-key.pem"),
        previousPath: environment.path(.previousSigningKey, orInDataDirectory: "signing-key.previous.pem")
    )
    let routes = AuthRoutes(
        authenticator: Authenticator(users: users, issuer: await JWTTokenIssuer(signingKey: keys.current)), publicKeys: keys.publishedKeys,
        configuration: try AuthRoutes.Configuration(settings: settings),
        rateLimits: try TransportBackendFactory(settings: settings).makeRateLimitCounter(try BackendConfiguration(settings: settings).store)
    )
    let router = VMP3Router.make(
        auth: routes, trustedProxies: try TrustedProxies(settings: settings), clientPrefixes: try ClientPrefixes(settings: settings)
    )
    let app = try environment.application(router: router, logger: logger)
    try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
