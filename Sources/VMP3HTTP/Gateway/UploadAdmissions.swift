import Synchronization
import VMP3Core

/// The uploads this process has admitted and whose jobs are not yet stored, per user, with the
/// bytes each reserved: what the active-job limit and the storage quota are checked against
/// besides the stored jobs. Without them, parallel uploads were each checked against the same
/// snapshot and all stored in full before the excess was refused (measured: twelve slow 60 MB
/// uploads against a 100 MB quota held 726 MB at once).
///
/// Admissions of one user are taken one at a time (``admit(_:usage:decide:)``), so that two
/// cannot both read the same room. The count is this process's: gateways side by side each
/// keep their own, and the job store's atomic active-job check at create still holds across
/// them.
final class UploadAdmissions: Sendable {
    /// One user's uploads in flight.
    struct InFlight: Sendable, Hashable {
        var uploads = 0
        var bytes: Int64 = 0
    }

    /// An admitted upload's place: given back by ``release()`` (once, whatever happens to the
    /// upload) when its job is stored or the upload fails.
    final class Ticket: Sendable {
        private let giveBack: Mutex<(@Sendable () -> Void)?>

        init(_ giveBack: @escaping @Sendable () -> Void) {
            self.giveBack = Mutex(giveBack)
        }

        func release() {
            let once = giveBack.withLock { action in
                defer { action = nil }
                return action
            }
            once?()
        }

        deinit { release() }
    }

    private let inFlight = Mutex<[UserID: InFlight]>([:])
    private let turns = KeyedTurns<UserID>()

    /// Admits one upload of `owner`: in the owner's turn, takes what is in flight (before the
    /// stored usage is read, so that an upload whose job is stored meanwhile is counted once
    /// or twice, never not at all), reads `usage`, and asks `decide` how many bytes to reserve —
    /// or it throws, admitting nothing.
    func admit<Usage>(
        _ owner: UserID, usage: () async throws -> Usage, decide: (Usage, InFlight) throws -> Int64
    ) async throws -> Ticket {
        await turns.acquire(owner)
        let bytes: Int64
        do {
            let flying = inFlight.withLock { $0[owner] ?? InFlight() }
            bytes = try decide(try await usage(), flying)
        } catch {
            await turns.release(owner)
            throw error
        }
        inFlight.withLock { all in
            var held = all[owner] ?? InFlight()
            held.uploads += 1
            held.bytes += bytes
            all[owner] = held
        }
        await turns.release(owner)
        return Ticket { [self] in giveBack(owner, bytes) }
    }

    private func giveBack(_ owner: UserID, _ bytes: Int64) {
        inFlight.withLock { all in
            guard var held = all[owner] else { return }
            held.uploads -= 1
            held.bytes -= bytes
            all[owner] = held.uploads > 0 ? held : nil
        }
    }

    /// What `owner` has in flight now (for tests).
    func inFlight(of owner: UserID) -> InFlight {
        inFlight.withLock { $0[owner] ?? InFlight() }
    }
}

/// One turn at a time per key, in arrival order.
actor KeyedTurns<Key: Hashable & Sendable> {
    private var waiting: [Key: [CheckedContinuation<Void, Never>]] = [:]

    /// Returns when it is the caller's turn for `key`.
    func acquire(_ key: Key) async {
        if waiting[key] == nil {
            waiting[key] = []
            return
        }
        await withCheckedContinuation { waiting[key]!.append($0) }
    }

    /// Ends the turn for `key`, handing it to the next caller waiting, if any.
    func release(_ key: Key) {
        guard var queue = waiting[key] else { return }
        if queue.isEmpty {
            waiting[key] = nil
        } else {
            let next = queue.removeFirst()
            waiting[key] = queue
            next.resume()
        }
    }
}
