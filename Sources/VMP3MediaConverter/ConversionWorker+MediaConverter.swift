import Logging
import VMP3Core

extension ConversionWorker {
    /// A worker that converts in process with a ``MediaConverter`` of default configuration.
    public init(
        storage: any ObjectStore,
        queue: any MessageQueue<JobMessage>,
        store: any JobStore,
        outcomes: (any MessageQueue<JobEvent>)? = nil,
        caching: ConversionCaching? = nil,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "vmp3.worker")
    ) {
        self.init(
            converter: MediaConverter(), storage: storage, queue: queue, store: store,
            outcomes: outcomes, caching: caching, configuration: configuration, logger: logger
        )
    }
}
