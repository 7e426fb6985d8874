// vmp3-converter: takes jobs from the queue, converts them, stores the MP3s and publishes the
// outcomes for the notifier. On SIGTERM it finishes its running jobs (or, after the grace
// period, returns them to the queue).
//
// Environment: VMP3_STORAGE, VMP3_QUEUE, VMP3_STORE (backend URLs, see Docs/operations.md),
// VMP3_CONCURRENCY (default: the number of cores), VMP3_HTTP_ADDRESS for /healthz and /readyz
// (default 127.0.0.1:8083), VMP3_LOG_LEVEL.
import Foundation
import ServiceLifecycle
import VMP3HTTP
import VMP3Kit
import VMP3Transport

let environment = ServiceEnvironment()
let logger = environment.logger("vmp3-converter")
let backends = try await Backends.make(try BackendConfiguration(environment: environment.values), factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
var configuration = ConversionWorker.Configuration()
configuration.concurrency = environment["VMP3_CONCURRENCY"].flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
let worker = ConversionWorker(
    storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes,
    configuration: configuration, logger: logger
)
let health = HealthRoutes(checks: ["store": { _ = try await backends.store.get(JobID()) }])
let app = try environment.application(router: VMP3Router.make(health: health), defaultPort: 8083, logger: logger)
try await ServiceGroup(services: [worker, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
