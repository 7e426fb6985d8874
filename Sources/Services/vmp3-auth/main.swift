// vmp3-auth: registration, login and the public keys tokens are verified with.
//
// Environment: VMP3_HTTP_ADDRESS (default 127.0.0.1:8081), VMP3_DATA_DIR (users.sqlite and
// signing-key.pem, made on first start), VMP3_USERS_DB and VMP3_SIGNING_KEY to place them
// elsewhere, VMP3_PASSWORD_HASH_COST (scrypt's ln=15,r=8,p=3 by default), VMP3_LOG_LEVEL.
import ServiceLifecycle
import VMP3Auth
import VMP3HTTP

await ServiceMain.run("vmp3-auth") {
    let environment = ServiceEnvironment()
    VMP3Metrics.bootstrap()
    let logger = environment.logger("vmp3-auth")
    let users = try UserDirectory(
        path: environment["VMP3_USERS_DB"] ?? environment.dataPath("users.sqlite"),
        hasher: try ScryptPasswordHasher(environment: environment.values)
    )
    let key = try SigningKey.loadOrCreate(at: environment["VMP3_SIGNING_KEY"] ?? environment.dataPath("signing-key.pem"))
    let routes = AuthRoutes(authenticator: Authenticator(users: users, issuer: await JWTTokenIssuer(signingKey: key)), publicKeys: [key.publicKey])
    let app = try environment.application(router: VMP3Router.make(auth: routes), defaultPort: 8081, logger: logger)
    try await ServiceGroup(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
