// vmp3-notifier: sends each job outcome where its job asked — a signed webhook, an e-mail —
// once, even when the outcome comes again. (Clients following a job over server-sent events get
// its events from the job store, through the gateway.)
//
// Environment: VMP3_QUEUE and VMP3_STORE (the outcomes queue; with a redis:// store the ledger of
// sent notifications is shared there), VMP3_WEBHOOK_SECRET (webhooks are signed with it; without
// it none are sent), VMP3_SMTP (smtp://…?from=…; without it no e-mail), VMP3_PUBLIC_URL (the
// gateway's address, for download links), VMP3_HTTP_ADDRESS (default 127.0.0.1:8084), VMP3_LOG_LEVEL.
import AsyncHTTPClient
import Foundation
import ServiceLifecycle
import VMP3HTTP
import VMP3Kit
import VMP3Transport

let environment = ServiceEnvironment()
VMP3Metrics.bootstrap()
let logger = environment.logger("vmp3-notifier")
let backends = try await Backends.make(try BackendConfiguration(environment: environment.values), factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
let store = try BackendConfiguration(environment: environment.values).store
let ledger: any NotificationLedger = store.scheme == "redis" ? RedisNotificationLedger(endpoint: try RedisEndpoint(url: store), prefix: TransportBackendFactory.prefix(of: store) ?? "vmp3:") : InMemoryNotificationLedger()

let client = WebhookNotifier.makeHTTPClient()
var notifiers: [any Notifier] = []
if environment["VMP3_WEBHOOK_SECRET"] != nil {
    notifiers.append(WebhookNotifier(configuration: try WebhookConfiguration(environment: environment.values), client: client, ledger: ledger, logger: logger))
}
if let smtp = environment["VMP3_SMTP"].flatMap(URL.init(string:)) {
    let configuration = EmailNotifier.Configuration(smtp: try SMTPConfiguration(url: smtp), publicBaseURL: environment["VMP3_PUBLIC_URL"].flatMap(URL.init(string:)))
    notifiers.append(EmailNotifier(configuration: configuration, ledger: ledger, logger: logger))
}
logger.info("notifying by \(notifiers.isEmpty ? "nothing (set VMP3_WEBHOOK_SECRET and/or VMP3_SMTP)" : notifiers.map { "\(type(of: $0))" }.joined(separator: ", "))")
let dispatcher = NotificationDispatcher(outcomes: backends.outcomes, notifiers: notifiers, ledger: ledger, logger: logger)
let app = try environment.application(router: VMP3Router.make(), defaultPort: 8084, logger: logger)
try await ServiceGroup(services: [dispatcher, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
try await client.shutdown()
