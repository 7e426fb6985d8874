// vmp3-gateway: the single entry point. Forwards the auth routes to vmp3-auth, verifies bearer
// tokens itself with vmp3-auth's public keys (its JWK set, fetched at start, every
// VMP3_JWKS_REFRESH_SECONDS (300) and on an unknown key id), and serves the job routes on the
// configured storage, queue and job store.
//
// Environment: VMP3_AUTH_URL (default http://127.0.0.1:8081), VMP3_STORAGE, VMP3_QUEUE,
// VMP3_STORE, VMP3_MAX_UPLOAD_MB (default 2048), VMP3_UPLOADS_PER_MINUTE (per user, default 60),
// VMP3_MAX_ACTIVE_JOBS (per user, default 20), VMP3_STORAGE_QUOTA_MB (bytes a user's jobs may
// hold, in MiB; default 10240, 0 for none), VMP3_WEBHOOK_ALLOWED_NETWORKS (internal addresses
// webhook URLs may name; default none), VMP3_MAX_EVENT_STREAMS_PER_USER (10),
// VMP3_MAX_EVENT_STREAMS (2000), VMP3_WEBHOOK_SECRET (the master users' webhook secrets are
// derived from, as the notifier's; without it /v1/webhook-secret is 404),
// VMP3_TRUSTED_PROXIES (loopback), VMP3_HTTP_ADDRESS (default 127.0.0.1:8080), VMP3_LOG_LEVEL.
// Upload limits count in Redis when the store is Redis.
import AsyncHTTPClient
import Foundation
import ServiceLifecycle
import VMP3Auth
import VMP3HTTP
import VMP3Core
import VMP3Transport

await ServiceMain.run("vmp3-gateway") {
    let environment = ServiceEnvironment()
    VMP3Metrics.bootstrap()
    let logger = environment.logger("vmp3-gateway")
    guard let authURL = URL(string: environment["VMP3_AUTH_URL"] ?? "http://127.0.0.1:8081") else { throw ConfigurationError("VMP3_AUTH_URL is not a URL") }
    let configuration = try BackendConfiguration(environment: environment.values)
    let backends = try await Backends.make(configuration, factories: [TransportBackendFactory(), EmbeddedBackendFactory()])

    // Settings first: a bad one is reported at once, not after waiting for the auth service.
    let limits = try JobRoutes.Configuration(
        maxUploadBytes: Int64(environment["VMP3_MAX_UPLOAD_MB"].flatMap(Int.init) ?? 2048) << 20,
        uploadsPerMinute: environment["VMP3_UPLOADS_PER_MINUTE"].flatMap(Int.init) ?? 60,
        maxActiveJobs: environment["VMP3_MAX_ACTIVE_JOBS"].flatMap(Int.init) ?? 20,
        storageQuotaBytes: try JobRoutes.Configuration.storageQuota(megabytes: environment["VMP3_STORAGE_QUOTA_MB"]),
        webhookEgress: try WebhookEgressPolicy(environment: environment.values)
    ).with(environment: environment.values)

    // The auth service may start after the gateway: its keys are asked for for up to a minute,
    // then again periodically and on a token signed with a key the gateway does not know.
    let keySet = try await RemoteKeySet.fetching(from: authURL, configuration: try RemoteKeySet.Configuration(environment: environment.values), logger: logger)

    let router = VMP3Router.make(
        jobs: JobRoutes(service: backends.jobService, configuration: limits, rateLimits: try TransportBackendFactory().makeRateLimitCounter(configuration.store)),
        webhookSecrets: WebhookSecretRoutes(store: backends.store, secrets: try WebhookConfiguration.signingSecrets(environment: environment.values)),
        verifier: keySet,
        health: HealthRoutes(backends: backends),
        trustedProxies: try TrustedProxies(environment: environment.values)
    )
    AuthProxyRoutes(upstream: authURL).add(to: router)
    let app = try environment.application(router: router, defaultPort: 8080, logger: logger)
    try await ServiceGroup(services: [BackendsService(backends), app, keySet], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
