// vmp3-notifier: sends each job outcome where its job asked — a signed webhook, an e-mail —
// once, even when the outcome comes again. (Clients following a job over server-sent events get
// its events from the job store, through the gateway.)
//
// Environment: VMP3_QUEUE and VMP3_STORE (the outcomes queue; with a redis:// store the ledger of
// sent notifications is shared there), VMP3_WEBHOOK_SECRET (webhooks are signed with it; without
// it none are sent), VMP3_WEBHOOK_ALLOWED_NETWORKS (internal addresses webhooks may reach, e.g.
// 10.20.0.0/16,192.168.1.7; by default none: loopback, private, link-local, … are refused), VMP3_SMTP (smtp://…?from=…; without it no e-mail), VMP3_PUBLIC_URL (the
// gateway's address, for download links), VMP3_HTTP_ADDRESS (default 127.0.0.1:8084), VMP3_LOG_LEVEL.
import ServiceLifecycle
import VMP3HTTP
import VMP3Core
import VMP3Transport

await ServiceMain.run("vmp3-notifier") {
    let environment = ServiceEnvironment()
    VMP3Metrics.bootstrap()
    let logger = environment.logger("vmp3-notifier")
    let configuration = try BackendConfiguration(environment: environment.values)
    let factory = TransportBackendFactory(environment: environment.values)
    let backends = try await Backends.make(configuration, factories: [factory, EmbeddedBackendFactory()])
    let ledger = try factory.makeNotificationLedger(configuration.store)
    let channels = try NotificationChannels(environment: environment.values)
    logger.info("notifying by \(channels.summary)")

    let client = WebhookNotifier.makeHTTPClient()
    let dispatcher = NotificationDispatcher(
        outcomes: backends.outcomes, notifiers: channels.makeNotifiers(client: client, ledger: ledger, store: backends.store, logger: logger), ledger: ledger, logger: logger
    )
    let app = try environment.application(router: VMP3Router.make(health: HealthRoutes(backends: backends)), defaultPort: 8084, logger: logger)
    try await ServiceGroup(services: [BackendsService(backends), dispatcher, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    try await client.shutdown()
}
