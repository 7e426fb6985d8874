import Foundation
import VMP3Core

/// A `NotificationLedger` in Redis, shared by every notifier process: a list per job
/// (`PREFIX notifications:JOB_ID`, JSON records, oldest first) that expires with the job's
/// notifications (30 days by default), so that an outcome redelivered to any notifier, or after
/// a restart, is not sent twice.
public struct RedisNotificationLedger: NotificationLedger {
    let client: RedisClient
    public let prefix: String
    public let retention: Duration

    public init(endpoint: RedisEndpoint, prefix: String = "vmp3:", retention: Duration = .seconds(30 * 24 * 3600)) {
        client = RedisClient(endpoint: endpoint)
        self.prefix = prefix
        self.retention = retention
    }

    private func key(_ job: JobID) -> String { "\(prefix)notifications:\(job.rawValue)" }

    public func record(_ record: NotificationRecord) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let value = Array(try encoder.encode(record))
        // One round trip, atomic: append, then (re)set the expiry.
        _ = try await send([
            "EVAL", .text("redis.call('RPUSH', KEYS[1], ARGV[1]); return redis.call('EXPIRE', KEYS[1], ARGV[2])"),
            "1", .text(key(record.jobID)), .bytes(value), .text(String(retention.components.seconds)),
        ])
    }

    public func records(for job: JobID) async throws -> [NotificationRecord] {
        guard case .array(let items) = try await send(["LRANGE", .text(key(job)), "0", "-1"]) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return items.compactMap { item in
            guard case .string(let bytes) = item else { return nil }
            return try? decoder.decode(NotificationRecord.self, from: Data(bytes))
        }
    }

    private func send(_ arguments: [RedisArgument]) async throws -> RedisReply {
        try await client.send(arguments) { NotificationError(code: .unavailable, message: $0) }
    }
}
