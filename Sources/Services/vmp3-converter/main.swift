// vmp3-converter: takes jobs from the queue, converts them, stores the MP3s and publishes the
// outcomes for the notifier. On SIGTERM it finishes its running jobs (or, after the grace
// period, returns them to the queue).
//
// Settings (`vmp3 settings`, Docs/operations.md): the backends, the worker (concurrency, lease,
// attempts, shutdown grace), a job's limits (audio length, MP3 size, wall time), the maintenance
// sweeps (retention, requeue, interval); VMP3_HTTP_ADDRESS for /healthz, /readyz and /metrics.
import ServiceLifecycle
import VMP3HTTP
import VMP3Core
import VMP3MediaConverter
import VMP3Transport

await ServiceMain.run("vmp3-converter") {
    let environment = try ServiceEnvironment(.converter)
    let settings = environment.settings
    VMP3Metrics.bootstrap()
    let logger = environment.logger()
    let limits = try ConversionLimits(settings: settings)
    let maintenance = try JobMaintenance.Configuration(settings: settings)
    let configuration = try ConversionWorker.Configuration(settings: settings)
    let backends = try await Backends.make(try BackendConfiguration(settings: settings), factories: [TransportBackendFactory(settings: settings), EmbeddedBackendFactory()])
    let worker = ConversionWorker(
        converter: try ConverterChoice.make(settings: settings, limits: limits),
        storage: backends.storage, queue: backends.jobs, store: backends.store, outcomes: backends.outcomes,
        caching: backends.caching, configuration: configuration, logger: logger
    )
    let sweeps = JobMaintenance(storage: backends.storage, store: backends.store, queue: backends.jobs, configuration: maintenance, logger: logger)
    let app = try environment.application(router: VMP3Router.make(health: HealthRoutes(backends: backends)), logger: logger)
    try await ServiceGroup(services: [BackendsService(backends), worker, sweeps, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
}
