import Foundation
import GRDB
import VMP3Core

/// A `NotificationLedger` in SQLite, beside the jobs of `vmp3 serve`: what was sent survives a
/// restart, so an outcome delivered again after `kill -9` is not notified twice.
public struct SQLiteNotificationLedger: NotificationLedger {
    public let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func record(_ record: NotificationRecord) async throws {
        let body = try JSONEncoder().encode(record)
        try await database.writer.write { db in
            try db.execute(sql: "INSERT INTO notification (jobID, body) VALUES (?, ?)", arguments: [record.jobID.rawValue, body])
        }
    }

    public func records(for job: JobID) async throws -> [NotificationRecord] {
        let bodies = try await database.writer.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM notification WHERE jobID = ? ORDER BY id", arguments: [job.rawValue])
        }
        return try bodies.map { try JSONDecoder().decode(NotificationRecord.self, from: $0) }
    }
}
