#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Which backend serves each concern, as URLs (one string per concern, embedded when unset).
///
/// | concern | variable | embedded default | networked (VMP3Transport) |
/// |---|---|---|---|
/// | storage | `VMP3_STORAGE` | `file://$VMP3_DATA_DIR/objects` | `s3://BUCKET?endpoint=…&region=…` |
/// | queue | `VMP3_QUEUE` | `memory:` | `amqp://user:pass@host:5672/vhost` |
/// | job store | `VMP3_STORE` | `memory:` | `redis://host:6379/0` |
///
/// The conversion cache lives in the job store's backend.
public struct BackendConfiguration: Sendable, Hashable {
    public var storage: URL
    public var queue: URL
    public var store: URL
    /// Whose conversions a job may reuse; `nil`: no conversion cache.
    public var cacheScope: ConversionCaching.Scope?
    /// How long a conversion stays in the cache.
    public var cacheLifetime: Duration

    public init(
        storage: URL, queue: URL = URL(string: "memory:")!, store: URL = URL(string: "memory:")!,
        cacheScope: ConversionCaching.Scope? = nil, cacheLifetime: Duration = ConversionCaching.defaultLifetime
    ) {
        self.storage = storage
        self.queue = queue
        self.store = store
        self.cacheScope = cacheScope
        self.cacheLifetime = cacheLifetime
    }

    /// ``Setting/storage``, ``Setting/queue`` and ``Setting/store``; ``Setting/dataDirectory``
    /// (default `./vmp3-data`) places the embedded file storage.
    /// - Throws: ``ConfigurationError`` naming a setting that is not a URL.
    public init(settings: Settings = Settings()) throws(ConfigurationError) {
        let objects = settings.dataDirectory.appendingPathComponent("objects", isDirectory: true)
        self.init(
            storage: try settings.url(.storage) ?? objects,
            queue: try settings.url(.queue) ?? URL(string: "memory:")!,
            store: try settings.url(.store) ?? URL(string: "memory:")!,
            cacheScope: try settings.word(.conversionCache).flatMap(ConversionCaching.Scope.init(rawValue:)),
            cacheLifetime: .seconds(try settings.wholeNumber(.conversionCacheHours) ?? 168) * 3600
        )
    }
}

/// The backends a process uses, made once so that everything in it shares them (in one process,
/// the embedded queue must be the same object for the gateway and the worker).
public struct Backends: Sendable {
    public var storage: any ObjectStore
    public var store: any JobStore
    /// Jobs for converters (`vmp3.jobs`).
    public var jobs: any MessageQueue<JobMessage>
    /// Final outcomes for the notifier (`vmp3.outcomes`).
    public var outcomes: any MessageQueue<JobEvent>
    /// The conversion cache and whose conversions it shares, if there is one.
    public var caching: ConversionCaching?

    public init(
        storage: any ObjectStore, store: any JobStore, jobs: any MessageQueue<JobMessage>, outcomes: any MessageQueue<JobEvent>,
        caching: ConversionCaching? = nil
    ) {
        self.storage = storage
        self.store = store
        self.jobs = jobs
        self.outcomes = outcomes
        self.caching = caching
    }

    /// Everything in memory, files under `directory`: for tests and embedding. With a
    /// `cacheScope`, an in-memory conversion cache too.
    public static func embedded(storageDirectory directory: URL, cacheScope: ConversionCaching.Scope? = nil) throws -> Backends {
        Backends(
            storage: try FileObjectStore(root: directory),
            store: InMemoryJobStore(),
            jobs: InMemoryMessageQueue<JobMessage>(),
            outcomes: InMemoryMessageQueue<JobEvent>(),
            caching: cacheScope.map { ConversionCaching(cache: InMemoryConversionCache(), scope: $0) }
        )
    }

    /// Makes each backend with the first factory that knows its URL's scheme.
    ///
    /// - Throws: ``ConfigurationError`` for a URL no factory knows.
    public static func make(_ configuration: BackendConfiguration, factories: [any BackendFactory] = [EmbeddedBackendFactory()]) async throws -> Backends {
        func firstMade<T>(_ make: (any BackendFactory) async throws -> T?) async throws -> T? {
            for factory in factories {
                if let backend = try await make(factory) { return backend }
            }
            return nil
        }
        func first<T>(_ what: String, _ url: URL, _ make: (any BackendFactory) async throws -> T?) async throws -> T {
            guard let backend = try await firstMade(make) else {
                throw ConfigurationError("no backend for \(what) \(url.redactingPassword) (scheme \(url.scheme ?? "none"))")
            }
            return backend
        }
        var caching: ConversionCaching?
        if let scope = configuration.cacheScope,
           let cache = try await firstMade({ try await $0.makeConversionCache(configuration.store, lifetime: configuration.cacheLifetime) }) {
            caching = ConversionCaching(cache: cache, scope: scope)
        }
        return Backends(
            storage: try await first("storage", configuration.storage) { try await $0.makeObjectStore(configuration.storage) },
            store: try await first("job store", configuration.store) { try await $0.makeJobStore(configuration.store) },
            jobs: try await first("queue", configuration.queue) {
                try await $0.makeMessageQueue(configuration.queue, name: "vmp3.jobs", of: JobMessage.self)
            },
            outcomes: try await first("queue", configuration.queue) {
                try await $0.makeMessageQueue(configuration.queue, name: "vmp3.outcomes", of: JobEvent.self)
            },
            // With no factory for the store's scheme that keeps a cache, there is none.
            caching: caching
        )
    }

    /// A ``JobService`` on these backends.
    public var jobService: JobService {
        JobService(storage: storage, queue: jobs, store: store, outcomes: outcomes, caching: caching)
    }
}

extension URL {
    /// The URL with any password replaced by `***`, for logs and error messages.
    public var redactingPassword: String {
        guard password != nil, var components = URLComponents(url: self, resolvingAgainstBaseURL: false) else { return absoluteString }
        components.password = "***"
        return components.string ?? "(unprintable URL)"
    }
}
