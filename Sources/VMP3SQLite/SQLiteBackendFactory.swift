import Foundation
import VMP3Core

/// Makes the durable embedded backends from `sqlite:` URLs: `sqlite:///var/lib/vmp3/vmp3.sqlite`
/// (or a relative `sqlite:vmp3-data/vmp3.sqlite`) for the job store and the queues. Every backend
/// of one file shares one ``SQLiteDatabase``.
///
/// Chain it with the others:
///
/// ```swift
/// let backends = try await Backends.make(configuration, factories: [SQLiteBackendFactory(), EmbeddedBackendFactory()])
/// ```
public struct SQLiteBackendFactory: BackendFactory {
    public init() {}

    public func makeObjectStore(_ url: URL) async throws -> (any ObjectStore)? {
        nil
    }

    public func makeJobStore(_ url: URL) async throws -> (any JobStore)? {
        try Self.database(url).map { SQLiteJobStore(database: $0) }
    }

    public func makeMessageQueue<Message: Codable & Sendable>(_ url: URL, name: String, of: Message.Type) async throws -> (any MessageQueue<Message>)? {
        try Self.database(url).map { SQLiteMessageQueue<Message>(database: $0, name: name) }
    }

    public func makeConversionCache(_ url: URL, lifetime: Duration) async throws -> (any ConversionCache)? {
        try Self.database(url).map { SQLiteConversionCache(database: $0, lifetime: lifetime) }
    }

    /// The database a `sqlite:` URL names; `nil` for another scheme.
    public static func database(_ url: URL) throws -> SQLiteDatabase? {
        guard url.scheme == "sqlite" else { return nil }
        let path = url.path.isEmpty ? (URLComponents(url: url, resolvingAgainstBaseURL: false)?.path ?? "") : url.path
        guard !path.isEmpty, !path.hasSuffix("/") else {
            throw ConfigurationError("an SQLite backend needs a file: sqlite:///var/lib/vmp3/vmp3.sqlite, not \(url)")
        }
        return try SQLiteDatabase.at(path)
    }
}

extension Backends {
    /// The database's name in a data directory.
    public static let databaseFileName = "vmp3.sqlite"

    /// The durable embedded backends of `vmp3 serve`: files under `directory/objects`, the job
    /// store, both queues and, with a `cacheScope`, the conversion cache in `directory/vmp3.sqlite`.
    public static func durable(
        dataDirectory directory: URL, cacheScope: ConversionCaching.Scope? = nil, cacheLifetime: Duration = ConversionCaching.defaultLifetime
    ) throws -> Backends {
        let database = try SQLiteDatabase.at(directory.appendingPathComponent(databaseFileName).path)
        return Backends(
            storage: try FileObjectStore(root: directory.appendingPathComponent("objects", isDirectory: true)),
            store: SQLiteJobStore(database: database),
            jobs: SQLiteMessageQueue<JobMessage>(database: database, name: "vmp3.jobs"),
            outcomes: SQLiteMessageQueue<JobEvent>(database: database, name: "vmp3.outcomes"),
            caching: cacheScope.map { ConversionCaching(cache: SQLiteConversionCache(database: database, lifetime: cacheLifetime), scope: $0) }
        )
    }
}
