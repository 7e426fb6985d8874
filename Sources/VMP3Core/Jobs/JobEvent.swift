#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A change to a job, as watchers (server-sent events), the notifier and tests see it.
public struct JobEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The job was created.
        case created
        /// The job's status changed (to ``Job/status``).
        case status
        /// The running job's progress advanced.
        case progress
    }

    public var kind: Kind
    /// The job as it is after the change.
    public var job: Job

    public init(kind: Kind, job: Job) {
        self.kind = kind
        self.job = job
    }

    /// The event a store emits for replacing `old` with `new`, if any.
    public static func change(from old: Job, to new: Job) -> JobEvent? {
        if old.status != new.status { return JobEvent(kind: .status, job: new) }
        if old.progress != new.progress { return JobEvent(kind: .progress, job: new) }
        return nil
    }
}
