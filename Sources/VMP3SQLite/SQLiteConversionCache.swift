import Foundation
import GRDB
import VMP3Core

/// A `ConversionCache` in SQLite, beside the jobs of `vmp3 serve`. Entries carry their expiry;
/// a lookup ignores expired ones, and each write deletes a few of them, so the table stays as
/// large as the conversions of one lifetime.
public struct SQLiteConversionCache: ConversionCache {
    public let database: SQLiteDatabase
    public let lifetime: Duration

    public init(database: SQLiteDatabase, lifetime: Duration = ConversionCaching.defaultLifetime) {
        self.database = database
        self.lifetime = lifetime
    }

    public func entry(for key: ConversionCacheKey) async throws -> ConversionCacheEntry? {
        let now = Date().timeIntervalSince1970
        let body = try await database.writer.read { db in
            try Data.fetchOne(db, sql: "SELECT entry FROM conversion_cache WHERE digest = ? AND expiresAt > ?", arguments: [key.digest, now])
        }
        // An entry that no longer decodes (written by another version) is a miss.
        return body.flatMap { try? JSONDecoder().decode(ConversionCacheEntry.self, from: $0) }
    }

    public func record(_ entry: ConversionCacheEntry, for key: ConversionCacheKey) async throws {
        let body = try JSONEncoder().encode(entry)
        let now = Date().timeIntervalSince1970
        let expiresAt = now + lifetime.seconds
        try await database.writer.write { db in
            try db.execute(
                sql: "INSERT INTO conversion_cache (digest, entry, expiresAt) VALUES (?, ?, ?) ON CONFLICT(digest) DO UPDATE SET entry = excluded.entry, expiresAt = excluded.expiresAt",
                arguments: [key.digest, body, expiresAt]
            )
            try db.execute(
                sql: "DELETE FROM conversion_cache WHERE digest IN (SELECT digest FROM conversion_cache WHERE expiresAt <= ? LIMIT 100)",
                arguments: [now]
            )
        }
    }

    public func remove(_ key: ConversionCacheKey) async throws {
        try await database.writer.write { db in
            try db.execute(sql: "DELETE FROM conversion_cache WHERE digest = ?", arguments: [key.digest])
        }
    }
}
