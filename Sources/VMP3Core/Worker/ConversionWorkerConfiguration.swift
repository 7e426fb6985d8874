#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension ConversionWorker {
    /// How a worker runs jobs. Every field has a default for production.
    public struct Configuration: Sendable {
        /// Jobs converted at once (and the queue's prefetch). Default: the number of cores.
        public var concurrency: Int
        /// Runs of a job before a transient failure becomes final and the message is
        /// dead-lettered. Default: 5.
        public var maxAttempts: Int
        /// Wait before retrying after the first transient failure; doubled each time. Default: 1 s.
        public var initialBackoff: Duration
        /// Longest wait before a retry. Default: 60 s.
        public var maximumBackoff: Duration
        /// How long a claim on a job lasts without renewal; after it, another worker may take the
        /// job over. Default: 60 s.
        public var leaseDuration: Duration
        /// How often a running job's lease is renewed (and cancellation checked). Default: 10 s.
        public var leaseRenewalInterval: Duration
        /// Shortest time between two progress writes to the job store. Default: 1 s.
        public var progressInterval: Duration
        /// On graceful shutdown, how long running jobs may take to finish before they are
        /// stopped and returned to the queue. Default: 30 s.
        public var shutdownGracePeriod: Duration
        /// This worker's name in job leases and logs. Default: host, process id and a random suffix.
        public var workerID: String
        /// Where sources are downloaded and MP3s written before upload; unused when the store
        /// keeps its objects as local files (``LocalObjectFiles``), which are converted in place.
        public var temporaryDirectory: URL

        public init(
            concurrency: Int = ProcessInfo.processInfo.activeProcessorCount,
            maxAttempts: Int = 5,
            initialBackoff: Duration = .seconds(1),
            maximumBackoff: Duration = .seconds(60),
            leaseDuration: Duration = .seconds(60),
            leaseRenewalInterval: Duration = .seconds(10),
            progressInterval: Duration = .seconds(1),
            shutdownGracePeriod: Duration = .seconds(30),
            workerID: String = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(6).lowercased())",
            temporaryDirectory: URL = FileManager.default.temporaryDirectory
        ) {
            self.concurrency = max(1, concurrency)
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.leaseDuration = leaseDuration
            self.leaseRenewalInterval = leaseRenewalInterval
            self.progressInterval = progressInterval
            self.shutdownGracePeriod = shutdownGracePeriod
            self.workerID = workerID
            self.temporaryDirectory = temporaryDirectory
        }

        /// The wait before run `attempt + 1`: exponential from ``initialBackoff``, capped, with
        /// up to 20 % jitter so that many workers do not retry in step.
        func backoff(afterAttempt attempt: Int) -> Duration {
            let exponential = initialBackoff.seconds * pow(2, Double(max(0, attempt - 1)))
            let capped = min(exponential, maximumBackoff.seconds)
            return .milliseconds(Int64(capped * Double.random(in: 0.8...1.0) * 1000))
        }
    }
}

extension ConversionWorker.Configuration {
    /// The defaults with what the settings give in their place: ``Setting/concurrency``,
    /// ``Setting/leaseSeconds`` (renewed every quarter of it), ``Setting/maxAttempts`` and
    /// ``Setting/shutdownGraceSeconds`` (whose default differs for `vmp3 serve`).
    ///
    /// - Throws: ``ConfigurationError`` naming the setting whose value is malformed.
    public init(settings: Settings) throws(ConfigurationError) {
        self.init()
        if let count = try settings.wholeNumber(.concurrency) { concurrency = count }
        if settings.isGiven(.leaseSeconds), let seconds = try settings.wholeNumber(.leaseSeconds) {
            leaseDuration = .seconds(seconds)
            leaseRenewalInterval = .seconds(max(1, seconds / 4))
        }
        if settings.isGiven(.maxAttempts), let attempts = try settings.wholeNumber(.maxAttempts) { maxAttempts = attempts }
        if let seconds = try settings.wholeNumber(.shutdownGraceSeconds), settings.isGiven(.shutdownGraceSeconds) || settings.program == .serve {
            shutdownGracePeriod = .seconds(seconds)
        }
    }
}
