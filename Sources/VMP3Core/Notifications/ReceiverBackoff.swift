/// Which notification receivers keep failing, and for how long each is backed off.
///
/// A receiver (a webhook's host and port) whose deliveries were given up
/// ``Policy/failuresBeforeBackoff`` times in a row, each after all its attempts (timeouts, 5xx,
/// refused connections), is backed off: for ``Policy/initialBackoff``, doubling with every
/// further delivery given up, up to ``Policy/maximumBackoff``. While it is, a delivery to it makes
/// one attempt instead of all of them: a receiver that is down costs one deadline per outcome,
/// not its attempts' deadlines and waits, and one that has come back gets its notifications at
/// once. A delivery that succeeds ends the backoff. Only the receiver's own failures count: an
/// answer that refuses the notification (4xx), or a failure on VMP3's side, does not.
///
/// It remembers at most ``Policy/receivers`` failing receivers (a flood of distinct hosts forgets
/// the least recently failed first), and none that did not fail.
public actor ReceiverBackoff {
    public struct Policy: Sendable, Hashable {
        /// Deliveries given up in a row before the receiver is backed off. Default: 3.
        public var failuresBeforeBackoff: Int
        /// The first backoff. Default: 30 s.
        public var initialBackoff: Duration
        /// The longest. Default: 10 minutes.
        public var maximumBackoff: Duration
        /// Failing receivers remembered at most. Default: 10,000.
        public var receivers: Int

        public init(failuresBeforeBackoff: Int = 3, initialBackoff: Duration = .seconds(30), maximumBackoff: Duration = .seconds(600), receivers: Int = 10_000) {
            self.failuresBeforeBackoff = max(1, failuresBeforeBackoff)
            self.initialBackoff = initialBackoff
            self.maximumBackoff = max(initialBackoff, maximumBackoff)
            self.receivers = max(1, receivers)
        }
    }

    private struct Failing {
        var failures: Int
        var until: ContinuousClock.Instant?
        var lastFailure: ContinuousClock.Instant
    }

    public let policy: Policy
    private var failing: [String: Failing] = [:]

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Until when `receiver` is backed off, if it is now.
    public func backedOff(_ receiver: String) -> ContinuousClock.Instant? {
        guard let until = failing[receiver]?.until, until > .now else { return nil }
        return until
    }

    /// A delivery to `receiver` was given up for the receiver's own failures.
    public func recordFailure(_ receiver: String) {
        let now = ContinuousClock.now
        var entry = failing[receiver] ?? Failing(failures: 0, until: nil, lastFailure: now)
        entry.failures += 1
        entry.lastFailure = now
        let beyond = entry.failures - policy.failuresBeforeBackoff
        if beyond >= 0 {
            // Doubling, from the first backoff, capped (and the shift kept small).
            let backoff = min(policy.initialBackoff * (1 << min(beyond, 20)), policy.maximumBackoff)
            entry.until = now + backoff
        }
        if failing[receiver] == nil, failing.count >= policy.receivers,
           let stalest = failing.min(by: { $0.value.lastFailure < $1.value.lastFailure })?.key {
            failing[stalest] = nil
        }
        failing[receiver] = entry
    }

    /// A delivery to `receiver` went through: it is not failing any more.
    public func recordSuccess(_ receiver: String) {
        failing[receiver] = nil
    }
}
