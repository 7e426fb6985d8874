// vmp3-notifier: sends each job outcome where its job asked — a signed webhook, an e-mail —
// once, even when the outcome comes again. (Clients following a job over server-sent events get
// its events from the job store, through the gateway.)
//
// Settings (`vmp3 settings`, Docs/operations.md): the queue and the store (with a redis:// store
// the ledger of sent notifications is shared there), the webhook secret (without it no webhooks)
// and the internal networks webhooks may reach, the SMTP server (without it no e-mail), the
// allowed recipients and the public URL for download links.
import ServiceLifecycle
import VMP3HTTP
import VMP3Core
import VMP3Transport

await ServiceMain.run("vmp3-notifier") {
    let environment = try ServiceEnvironment(.notifier)
    let settings = environment.settings
    VMP3Metrics.bootstrap()
    let logger = environment.logger()
    let configuration = try BackendConfiguration(settings: settings)
    let factory = TransportBackendFactory(settings: settings)
    let backends = try await Backends.make(configuration, factories: [factory, EmbeddedBackendFactory()])
    let ledger = try factory.makeNotificationLedger(configuration.store)
    let channels = try NotificationChannels(settings: settings)
    logger.info("notifying by \(channels.summary)")

    let app = try environment.application(router: VMP3Router.make(health: HealthRoutes(backends: backends)), logger: logger)
    // Made last, and shut down by its service: async-http-client traps on a client released
    // without a shutdown.
    let client = WebhookNotifier.makeHTTPClient()
    let dispatcher = NotificationDispatcher(
        outcomes: backends.outcomes, notifiers: channels.makeNotifiers(client: client, ledger: ledger, store: backends.store, logger: logger), ledger: ledger, logger: logger
    )
    try await ServiceGroup(
        services: [BackendsService(backends), HTTPClientService(client), dispatcher, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
    ).run()
}
