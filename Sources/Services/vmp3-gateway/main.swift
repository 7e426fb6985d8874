// vmp3-gateway: the single entry point. Forwards the auth routes to vmp3-auth, verifies bearer
// tokens itself with vmp3-auth's public keys (its JWK set, fetched at start, every
// VMP3_JWKS_REFRESH_SECONDS and on an unknown key id), and serves the job routes on the
// configured storage, queue and job store.
//
// Settings (`vmp3 settings`, Docs/operations.md): the auth service's URL, the backends, the upload
// limits and quota, the event-stream caps, which webhook networks and e-mail recipients are
// accepted, the webhook secret (to show users theirs; without it /v1/webhook-secret is 404), the
// trusted proxies. Upload limits count in Redis when the store is Redis.
import Foundation
import ServiceLifecycle
import VMP3Auth
import VMP3HTTP
import VMP3Core
import VMP3Transport

await ServiceMain.run("vmp3-gateway") {
    let environment = try ServiceEnvironment(.gateway)
    let settings = environment.settings
    VMP3Metrics.bootstrap()
    let logger = environment.logger()
    let authURL = try settings.url(.authURL)!
    let configuration = try BackendConfiguration(settings: settings)
    let factory = TransportBackendFactory(settings: settings)
    let backends = try await Backends.make(configuration, factories: [factory, EmbeddedBackendFactory()])

    // Settings first: a bad one is reported at once, not after waiting for the auth service.
    let limits = try JobRoutes.Configuration(settings: settings)
    let keySetConfiguration = try RemoteKeySet.Configuration(settings: settings)
    let webhookSecrets = try WebhookConfiguration.signingSecrets(settings: settings)
    let trustedProxies = try TrustedProxies(settings: settings)

    // The auth service may start after the gateway: its keys are asked for for up to a minute,
    // then again periodically and on a token signed with a key the gateway does not know.
    let keySet = try await RemoteKeySet.fetching(from: authURL, configuration: keySetConfiguration, logger: logger)

    let router = VMP3Router.make(
        jobs: JobRoutes(service: backends.jobService, configuration: limits, rateLimits: try factory.makeRateLimitCounter(configuration.store)),
        webhookSecrets: WebhookSecretRoutes(store: backends.store, secrets: webhookSecrets),
        verifier: keySet,
        health: HealthRoutes(backends: backends),
        trustedProxies: trustedProxies,
        clientPrefixes: try ClientPrefixes(settings: settings)
    )
    AuthProxyRoutes(upstream: authURL).add(to: router)
    let app = try environment.application(router: router, logger: logger)
    try await ServiceGroup(services: [BackendsService(backends), app, keySet], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
