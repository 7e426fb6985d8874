/// Where a job is in its life.
///
/// ```
/// queued ──▶ running ──▶ succeeded
///   │  ▲        │  └────▶ failed ◀── queued (could not be enqueued)
///   │  └────────┤ (released: a worker stopped before finishing)
///   └───────────┴───────▶ cancelled
/// ```
public enum JobStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job is over: no transition leads out of it.
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .queued, .running: false
        }
    }

    /// Whether a job may go from this status to `next`. Staying in `queued` or `running` (to
    /// update progress or a lease) is allowed; a final status never changes.
    public func canTransition(to next: JobStatus) -> Bool {
        switch (self, next) {
        case (.queued, .queued), (.queued, .running), (.queued, .failed), (.queued, .cancelled): true
        case (.running, .running), (.running, .queued), (.running, .succeeded), (.running, .failed), (.running, .cancelled): true
        default: false
        }
    }
}
