import Foundation
import GRDB
import VMP3Core

/// A `MessageQueue` in SQLite: the durable embedded queue (`sqlite:///PATH`). Published
/// messages and deliveries that were never settled survive a restart and `kill -9`; when the
/// database is opened again, messages whose consumer died are delivered again (their delivery
/// count one higher), first in line.
///
/// Messages are rows (JSON, as a broker stores them) in publish order; a consumer's in-flight
/// deliveries are marked so, and settling one deletes, readies or dead-letters its row. Who
/// holds what is this process's state: the database belongs to one process at a time
/// (``SQLiteDatabase``).
///
/// The queue's state changes run on the actor and write synchronously: keeping each change whole
/// on the actor is what keeps the delivery bookkeeping simple and in order. A transaction takes
/// microseconds, but it may wait for the database's one writer (another backend's write, a WAL
/// checkpoint's `fsync`), so the actor runs on the database's own thread
/// (``SQLiteDatabase``'s executor), not on Swift's cooperative pool.
public actor SQLiteMessageQueue<Message: Codable & Sendable>: MessageQueue {
    public let database: SQLiteDatabase
    /// The queue's name (for example `vmp3.jobs`): queues of one database are independent.
    public let name: String
    /// Dead letters kept for ``takeDeadLetters(limit:)``; beyond that, the oldest are dropped.
    public let deadLetterLimit: Int

    /// Who holds which in-flight delivery (by message row id).
    private var consumers = QueueConsumers<Message, Int64>()

    /// The database's thread: the synchronous writes below wait there.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        database.executor.asUnownedSerialExecutor()
    }

    public init(database: SQLiteDatabase, name: String, deadLetterLimit: Int = 10_000) {
        self.database = database
        self.name = name
        self.deadLetterLimit = max(1, deadLetterLimit)
    }

    public func publish(_ message: Message) async throws {
        let body = try QueueMessageCoding.encode(message)
        try write { db in
            try db.execute(
                sql: "INSERT INTO message (queue, body, deliveryCount, state) VALUES (?, ?, 0, ?)",
                arguments: [self.name, body, MessageState.ready.rawValue]
            )
        }
        dispatch()
    }

    public func subscribe(prefetch: Int) async throws -> QueueSubscription<Message> {
        let subscription = try consumers.subscribe(
            prefetch: prefetch, stopped: { await self.stopDelivering(to: $0) }, closed: { await self.removeConsumer($0) }
        )
        dispatch()
        return subscription
    }

    public func takeDeadLetters(limit: Int) async throws -> [DeadLetter<Message>] {
        let rows = try write { db -> [(body: Data, reason: String)] in
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, body, reason FROM message WHERE queue = ? AND state = ? ORDER BY id LIMIT ?",
                arguments: [self.name, MessageState.dead.rawValue, max(0, limit)]
            )
            for row in rows { try db.execute(sql: "DELETE FROM message WHERE id = ?", arguments: [row["id"] as Int64]) }
            return rows.map { ($0["body"], $0["reason"] ?? "") }
        }
        return try rows.map { DeadLetter(message: try decode($0.body), reason: $0.reason) }
    }

    public func checkReachable() async throws {
        _ = try write { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// Messages waiting for a consumer.
    public var readyCount: Int {
        get throws { try count(.ready) }
    }

    /// Messages handed to a consumer and not yet settled.
    public var unsettledCount: Int {
        get throws { try count(.delivered) }
    }

    // MARK: - Delivery

    private func dispatch() {
        while let id = consumers.nextWithRoom() {
            let next: Row?
            do {
                next = try write { db -> Row? in
                    guard let row = try Row.fetchOne(
                        db, sql: "SELECT id, body, deliveryCount FROM message WHERE queue = ? AND state = ? ORDER BY id LIMIT 1",
                        arguments: [self.name, MessageState.ready.rawValue]
                    ) else { return nil }
                    try db.execute(
                        sql: "UPDATE message SET state = ?, deliveryCount = deliveryCount + 1 WHERE id = ?",
                        arguments: [MessageState.delivered.rawValue, row["id"] as Int64]
                    )
                    return row
                }
            } catch {
                // The database failed: what stays ready is delivered at the next publish or settlement.
                return
            }
            guard let next else { return }
            let tag: Int64 = next["id"]
            let count: Int = next["deliveryCount"]
            let message: Message
            do {
                message = try decode(next["body"])
            } catch {
                try? setState(tag, .dead, reason: "cannot decode: \(error)")
                continue
            }
            consumers.deliver(QueueDelivery(message: message, deliveryCount: count + 1) { settlement in
                try await self.settle(tag, settlement)
            }, tag: tag, to: id)
        }
    }

    private func settle(_ tag: Int64, _ settlement: QueueDelivery<Message>.Settlement) throws {
        guard consumers.isHeld(tag) else {
            throw QueueError(code: .unknownDelivery, message: "delivery \(tag) was settled already or returned to the queue")
        }
        switch settlement {
        case .acknowledge:
            try write { db in try db.execute(sql: "DELETE FROM message WHERE id = ?", arguments: [tag]) }
        case .requeue:
            try setState(tag, .ready)
        case .deadLetter(let reason):
            try setState(tag, .dead, reason: reason)
        }
        consumers.settled(tag)
        dispatch()
    }

    private func stopDelivering(to id: UUID) {
        consumers.stop(id)
        dispatch()
    }

    private func removeConsumer(_ id: UUID) {
        for tag in consumers.remove(id) {
            // If this fails the row stays delivered, and is made ready when the database is next opened.
            try? setState(tag, .ready)
        }
        dispatch()
    }

    // MARK: - Rows

    private func setState(_ tag: Int64, _ state: MessageState, reason: String? = nil) throws {
        try write { db in
            try db.execute(sql: "UPDATE message SET state = ?, reason = ? WHERE id = ?", arguments: [state.rawValue, reason, tag])
            if state == .dead {
                try db.execute(sql: """
                    DELETE FROM message WHERE queue = ? AND state = ? AND id NOT IN
                        (SELECT id FROM message WHERE queue = ? AND state = ? ORDER BY id DESC LIMIT ?)
                    """, arguments: [self.name, MessageState.dead.rawValue, self.name, MessageState.dead.rawValue, self.deadLetterLimit])
            }
        }
    }

    private func count(_ state: MessageState) throws -> Int {
        try write { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message WHERE queue = ? AND state = ?", arguments: [self.name, state.rawValue]) ?? 0
        }
    }

    private func write<T>(_ work: (Database) throws -> T) throws -> T {
        do {
            return try database.writer.write(work)
        } catch {
            throw QueueError(code: .unavailable, message: "SQLite (\(database.path)): \(error)")
        }
    }

    private func decode(_ body: Data) throws -> Message {
        try QueueMessageCoding.decode(Message.self, from: body)
    }
}
