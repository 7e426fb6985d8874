/// What an owner's jobs hold: how many are queued or running, and the bytes they keep in
/// storage. Job stores keep it as a running total, changed in the same atomic step as each job
/// (``JobStore/usage(of:)``): an upload's quota check reads one record, however many jobs the
/// owner ever made.
public struct JobUsage: Sendable, Hashable {
    /// Jobs queued or running.
    public var activeJobs: Int
    /// The uploads of jobs not yet ended (an ended job's source is deleted) and the MP3s kept.
    public var bytesHeld: Int64

    public init(activeJobs: Int = 0, bytesHeld: Int64 = 0) {
        self.activeJobs = activeJobs
        self.bytesHeld = bytesHeld
    }

    /// What one job adds to its owner's usage: one active job and its upload while it has not
    /// ended, and its MP3 once it has succeeded. Every store computes its totals from this, so
    /// that they cannot disagree.
    public init(of job: Job) {
        let active = !job.status.isFinal
        self.activeJobs = active ? 1 : 0
        var bytes: Int64 = 0
        if active { bytes &+= max(0, job.sourceSize ?? 0) }
        if job.status == .succeeded { bytes &+= max(0, job.output?.byteCount ?? 0) }
        self.bytesHeld = bytes
    }

    /// The usage of `jobs` together.
    public init(of jobs: some Sequence<Job>) {
        self.init()
        for job in jobs { self += JobUsage(of: job) }
    }

    public static func += (lhs: inout JobUsage, rhs: JobUsage) {
        lhs.activeJobs &+= rhs.activeJobs
        lhs.bytesHeld &+= rhs.bytesHeld
    }

    public static func -= (lhs: inout JobUsage, rhs: JobUsage) {
        lhs.activeJobs &-= rhs.activeJobs
        lhs.bytesHeld &-= rhs.bytesHeld
    }

    /// The change from `rhs` to `lhs`: what a store adds to an owner's total when a job goes
    /// from the one to the other.
    public static func - (lhs: JobUsage, rhs: JobUsage) -> JobUsage {
        var difference = lhs
        difference -= rhs
        return difference
    }
}
