import Synchronization

/// Counts the event streams a server has open, in total and per user, and admits a new one only
/// under both limits: one user cannot hold every stream (each holds a connection and a job
/// subscription), and the server as a whole holds a bounded number.
///
/// A stream's place is held by its ``Ticket`` and given back when the ticket goes: however the
/// stream ends (its job ended, its lifetime passed, the client left), and also if the response
/// is dropped before it was ever written.
final class EventStreamAdmission: Sendable {
    /// A place held by one open stream.
    final class Ticket: Sendable {
        private let admission: EventStreamAdmission
        private let user: String

        fileprivate init(admission: EventStreamAdmission, user: String) {
            self.admission = admission
            self.user = user
        }

        deinit { admission.release(user) }
    }

    /// Which limit refused a stream.
    enum Refusal: Error, Equatable {
        case perUser(Int)
        case total(Int)
    }

    let maxPerUser: Int
    let maxTotal: Int
    private let open = Mutex((total: 0, byUser: [String: Int]()))

    init(maxPerUser: Int, maxTotal: Int) {
        self.maxPerUser = maxPerUser
        self.maxTotal = maxTotal
    }

    /// A place for one more stream of `user`'s. - Throws: ``Refusal`` at either limit.
    func admit(_ user: String) throws(Refusal) -> Ticket {
        let refusal: Refusal? = open.withLock { state in
            if state.total >= maxTotal { return .total(maxTotal) }
            if state.byUser[user, default: 0] >= maxPerUser { return .perUser(maxPerUser) }
            state.total += 1
            state.byUser[user, default: 0] += 1
            return nil
        }
        if let refusal { throw refusal }
        return Ticket(admission: self, user: user)
    }

    fileprivate func release(_ user: String) {
        open.withLock { state in
            state.total -= 1
            let left = state.byUser[user, default: 1] - 1
            state.byUser[user] = left > 0 ? left : nil
        }
    }
}
