import Foundation
import GRDB
import Synchronization
import VMP3Core

/// The SQLite database that holds the durable embedded backends of one data directory: the
/// job store, the queues and the notification ledger share it (and its one writer), so that
/// their writes are ordered with each other.
///
/// The database belongs to one process at a time. Opening it takes an exclusive lock on a file
/// beside it (`PATH.lock`) for the life of the process: the queues' in-flight state lives in the
/// process that took the messages, so at open every message that was handed out and never
/// settled — by a process that has since died (crash, `kill -9`, power cut) — is made ready
/// again. A second process opening the same database is refused instead of stealing them.
///
/// Opened in WAL mode with `synchronous=NORMAL`: a committed write survives the process being
/// killed at any point; after a power cut the last transactions before it may be lost (not a
/// corrupt file).
public final class SQLiteDatabase: Sendable {
    /// The file, as opened.
    public let path: String
    let writer: DatabaseQueue
    /// The thread the actors that write synchronously run on (``SQLiteMessageQueue``): their
    /// transactions wait there for the writer, never on Swift's cooperative pool.
    let executor: DedicatedThreadExecutor
    /// Holds the lock file's descriptor (and so the lock) until the database is released.
    private let lock: ProcessLock

    private struct WeakReference {
        weak var database: SQLiteDatabase?
    }

    /// The databases open in this process, by path. Weak, so that a database whose backends are
    /// all gone closes and gives up its lock (a program, or a test, can open it again).
    private static let open = Mutex<[String: WeakReference]>([:])

    /// The database at `path`, created and migrated if needed. Within one process, every call
    /// with the same path returns the same instance while any backend still uses it.
    ///
    /// - Throws: `ConfigurationError` if the file cannot be opened or another process holds it.
    public static func at(_ path: String) throws -> SQLiteDatabase {
        let path = URL(fileURLWithPath: path).standardizedFileURL.path
        return try open.withLock { databases in
            if let database = databases[path]?.database { return database }
            let database = try SQLiteDatabase(path: path)
            databases[path] = WeakReference(database: database)
            return database
        }
    }

    private init(path: String) throws {
        self.path = path
        do throws(SystemCallError) {
            // Made 0600 in a 0700 folder before SQLite opens it (its journal and WAL take the
            // database's mode): it holds the jobs, their owners and webhooks.
            try PrivateFile.createEmptyUnlessPresent(path)
        } catch {
            throw ConfigurationError("cannot create the database \(path): \(error.reason)")
        }
        lock = try ProcessLock(path: path + ".lock")
        do {
            executor = try DedicatedThreadExecutor(name: "vmp3-sqlite")
        } catch {
            throw ConfigurationError("cannot open the database \(path): \(error)")
        }
        var configuration = Configuration()
        // A write waits for a checkpoint or a reader instead of failing at once.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            writer = try DatabaseQueue(path: path, configuration: configuration)
            try writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try Self.migrator.migrate(writer)
            // Whoever held these deliveries is gone (the lock above says so): hand them out again.
            try writer.write { db in
                try db.execute(sql: "UPDATE message SET state = ? WHERE state = ?", arguments: [MessageState.ready.rawValue, MessageState.delivered.rawValue])
            }
        } catch {
            throw ConfigurationError("cannot open the database \(path): \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-jobs-queues-ledger") { db in
            try db.execute(sql: """
                CREATE TABLE job (
                    id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    createdMicros INTEGER NOT NULL,
                    updatedMicros INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE INDEX job_by_owner ON job(owner, createdMicros DESC, id);
                CREATE INDEX job_by_status ON job(status, updatedMicros);
                CREATE TABLE job_idempotency (
                    owner TEXT NOT NULL,
                    key TEXT NOT NULL,
                    jobID TEXT NOT NULL,
                    expiresMicros INTEGER NOT NULL,
                    PRIMARY KEY (owner, key)
                );
                CREATE INDEX job_idempotency_by_job ON job_idempotency(jobID);
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    queue TEXT NOT NULL,
                    body BLOB NOT NULL,
                    deliveryCount INTEGER NOT NULL DEFAULT 0,
                    state INTEGER NOT NULL,
                    reason TEXT
                );
                CREATE INDEX message_by_queue ON message(queue, state, id);
                CREATE TABLE notification (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    jobID TEXT NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE INDEX notification_by_job ON notification(jobID);
                """)
        }
        migrator.registerMigration("2-webhook-secret-generations") { db in
            try db.execute(sql: "CREATE TABLE webhook_secret (owner TEXT PRIMARY KEY NOT NULL, generation INTEGER NOT NULL)")
        }
        migrator.registerMigration("3-conversion-cache") { db in
            try db.execute(sql: """
                CREATE TABLE conversion_cache (digest TEXT PRIMARY KEY NOT NULL, entry BLOB NOT NULL, expiresAt REAL NOT NULL);
                CREATE INDEX conversion_cache_by_expiry ON conversion_cache(expiresAt);
                """)
        }
        migrator.registerMigration("4-job-usage") { db in
            // Each owner's running total (SQLiteJobStore.usage(of:)), counted once from the jobs
            // already stored and changed with every job from then on.
            try db.execute(sql: "CREATE TABLE job_usage (owner TEXT PRIMARY KEY NOT NULL, activeJobs INTEGER NOT NULL, bytesHeld INTEGER NOT NULL)")
            try SQLiteJobStore.recountUsage(in: db)
        }
        migrator.registerMigration("5-jobs-awaiting-message") { db in
            // Job.awaitsMessage as a column, with an index of just those jobs
            // (SQLiteJobStore.unpublishedJobs): older rows have no mark, so their queued jobs count.
            try db.execute(sql: """
                ALTER TABLE job ADD COLUMN awaitingMessage INTEGER NOT NULL DEFAULT 0;
                UPDATE job SET awaitingMessage = 1 WHERE status = 'queued';
                CREATE INDEX job_awaiting_message ON job(updatedMicros) WHERE awaitingMessage = 1;
                """)
        }
        return migrator
    }
}

/// Where a message is in its life, as the `message.state` column stores it.
enum MessageState: Int {
    /// Waiting for a consumer.
    case ready = 0
    /// Handed to a consumer of this process, not yet settled.
    case delivered = 1
    /// Dead-lettered, with a reason.
    case dead = 2
}

extension Date {
    /// Microseconds since 1970, as the tables store times.
    var microseconds: Int64 {
        Int64((timeIntervalSince1970 * 1_000_000).rounded())
    }
}
