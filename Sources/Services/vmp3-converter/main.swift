// vmp3-converter: takes jobs from the queue, converts them, stores the MP3s and publishes the
// outcomes for the notifier. On SIGTERM it finishes its running jobs (or, after the grace
// period, returns them to the queue).
//
// Environment: VMP3_STORAGE, VMP3_QUEUE, VMP3_STORE (backend URLs, see Docs/operations.md),
// VMP3_CONCURRENCY (default: the number of cores), VMP3_LEASE_SECONDS (how long a job stays
// with a converter that stopped answering before another takes it over; default 60),
// VMP3_SHUTDOWN_GRACE_SECONDS (how long running jobs may finish after SIGTERM before they go back
// to the queue; default 30), VMP3_MAX_ATTEMPTS (runs of a job, counted when a converter takes it,
// before it fails as `gave_up`, whatever stopped the earlier runs; default 5), VMP3_MAX_AUDIO_SECONDS, VMP3_MAX_OUTPUT_MB and
// VMP3_MAX_CONVERSION_SECONDS (a job's limits; defaults 21600, 1024 and 3600; 0 for none),
// VMP3_RETENTION_DAYS (ended jobs and their MP3s are deleted this long after they ended; default
// 7, 0 for never), VMP3_REQUEUE_AFTER_SECONDS (a job queued this long has its message published
// again; default 600), VMP3_MAINTENANCE_INTERVAL_SECONDS (default 60),
// VMP3_HTTP_ADDRESS for /healthz, /readyz and /metrics
// (default 127.0.0.1:8083), VMP3_LOG_LEVEL.
import Foundation
import ServiceLifecycle
import VMP3HTTP
import VMP3Core
import VMP3MediaConverter
import VMP3Transport

await ServiceMain.run("vmp3-converter") {
    let environment = ServiceEnvironment()
    VMP3Metrics.bootstrap()
    let logger = environment.logger("vmp3-converter")
    let limits = try ConversionLimits(environment: environment.values)
    let maintenance = try JobMaintenance.Configuration(environment: environment.values)
    let backends = try await Backends.make(try BackendConfiguration(environment: environment.values), factories: [TransportBackendFactory(), EmbeddedBackendFactory()])
    var configuration = ConversionWorker.Configuration()
    configuration.concurrency = environment["VMP3_CONCURRENCY"].flatMap(Int.init) ?? ProcessInfo.processInfo.activeProcessorCount
    if let lease = environment["VMP3_LEASE_SECONDS"].flatMap(Int.init), lease >= 2 {
        configuration.leaseDuration = .seconds(lease)
        configuration.leaseRenewalInterval = .seconds(max(1, lease / 4))
    }
    if let attempts = environment["VMP3_MAX_ATTEMPTS"] {
        guard let number = Int(attempts), number >= 1 else { throw ConfigurationError("VMP3_MAX_ATTEMPTS must be a whole number from 1, not \(attempts)") }
        configuration.maxAttempts = number
    }
    if let grace = environment["VMP3_SHUTDOWN_GRACE_SECONDS"].flatMap(Int.init), grace >= 0 {
        configuration.shutdownGracePeriod = .seconds(grace)
    }
    let worker = ConversionWorker(
        converter: MediaConverter(configuration: .init(limits: limits)),
        storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes,
        configuration: configuration, logger: logger
    )
    let sweeps = JobMaintenance(storage: backends.storage, store: backends.store, queue: backends.jobs, configuration: maintenance, logger: logger)
    let health = HealthRoutes(backends: backends)
    let app = try environment.application(router: VMP3Router.make(health: health), defaultPort: 8083, logger: logger)
    try await ServiceGroup(services: [BackendsService(backends), worker, sweeps, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
