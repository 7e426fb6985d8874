import Logging
import ServiceLifecycle

extension Backends {
    /// Releases what the backends hold (connections, threads): the job store and both queues.
    public func shutdown() async {
        await jobs.shutdown()
        await outcomes.shutdown()
        await store.shutdown()
    }
}

/// Owns a process's ``Backends`` in its `ServiceGroup`: runs until graceful shutdown, then shuts
/// them down.
///
/// List it first: a `ServiceGroup` stops its services in reverse order, so the backends are
/// released only after the worker, the routes and the sweeps that use them have finished.
public struct BackendsService: Service {
    public let backends: Backends
    public let logger: Logger

    public init(_ backends: Backends, logger: Logger = Logger(label: "vmp3.backends")) {
        self.backends = backends
        self.logger = logger
    }

    public func run() async throws {
        // Cancellation ends the wait as graceful shutdown does: either way the backends are
        // released before run returns.
        try? await gracefulShutdown()
        await backends.shutdown()
        logger.debug("backends shut down")
    }
}
