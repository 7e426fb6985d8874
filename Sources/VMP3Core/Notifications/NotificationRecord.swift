#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// What became of one notification: delivered, or given up on after the sender's retries.
public struct NotificationRecord: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        case delivered
        case gaveUp = "gave_up"
    }

    /// The notification's delivery id (``JobEvent/deliveryID``): the same for every attempt.
    public var deliveryID: String
    public var jobID: JobID
    /// `webhook` or `email`.
    public var channel: String
    public var outcome: Outcome
    public var attempts: Int
    /// The ``NotificationError/Code`` when given up.
    public var errorCode: String?
    public var message: String?
    public var recordedAt: Date

    public init(
        deliveryID: String, jobID: JobID, channel: String, outcome: Outcome, attempts: Int,
        errorCode: String? = nil, message: String? = nil, recordedAt: Date = Date()
    ) {
        self.deliveryID = deliveryID
        self.jobID = jobID
        self.channel = channel
        self.outcome = outcome
        self.attempts = attempts
        self.errorCode = errorCode
        self.message = message
        self.recordedAt = recordedAt
    }
}

/// Where senders record what became of each notification, so that an operator (or a retry
/// later) can see which ones were given up on.
public protocol NotificationLedger: Sendable {
    func record(_ record: NotificationRecord) async throws
    /// The records of `job`, oldest first.
    func records(for job: JobID) async throws -> [NotificationRecord]
}

/// A ``NotificationLedger`` in memory: the embedded default, and for tests.
public actor InMemoryNotificationLedger: NotificationLedger {
    private var recordsByJob: [JobID: [NotificationRecord]] = [:]

    public init() {}

    public func record(_ record: NotificationRecord) {
        recordsByJob[record.jobID, default: []].append(record)
    }

    public func records(for job: JobID) -> [NotificationRecord] {
        recordsByJob[job] ?? []
    }
}

extension NotificationLedger {
    /// Records what became of `event`'s notification on `channel`: delivered if `error` is
    /// `nil`, given up otherwise. A ledger that fails is logged, not thrown: the notification's
    /// own outcome stands either way.
    public func recordOutcome(of event: JobEvent, channel: String, attempts: Int, error: NotificationError?, logger: Logger) async {
        do {
            try await record(NotificationRecord(
                deliveryID: event.deliveryID, jobID: event.job.id, channel: channel, outcome: error == nil ? .delivered : .gaveUp,
                attempts: attempts, errorCode: error?.code.rawValue, message: error?.message
            ))
        } catch {
            logger.error("could not record the notification's outcome", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
    }
}

extension JobEvent {
    /// The event's name for receivers: `job.created`, `job.progress`, or `job.STATUS` for a
    /// status change (`job.succeeded`, `job.failed`, …).
    public var name: String {
        switch kind {
        case .created: "job.created"
        case .progress: "job.progress"
        case .status: "job.\(job.status.rawValue)"
        }
    }

    /// An id that is the same each time this event is delivered (after a retry, a redelivery
    /// or a restart of the notifier), so that receivers can drop duplicates: a final status
    /// never changes, so the job id and the status name it.
    public var deliveryID: String {
        switch kind {
        case .status where job.status.isFinal: "\(job.id.rawValue).\(job.status.rawValue)"
        default: "\(job.id.rawValue).\(name).v\(job.version)"
        }
    }
}
