import Foundation
import Synchronization

/// The hash a login verifies against when the address is unknown, so that a miss costs a full
/// scrypt run too: made once, by the first login that needs it, on the hashing pool.
///
/// Made lazily rather than when the directory opens: a hash is a fifth of a second of CPU (more in
/// a debug build), and `UserDirectory`'s initialiser runs on whatever thread opens it, often one
/// of Swift's cooperative pool, which it would hold up meanwhile.
final class DecoyHash: Sendable {
    private let making = Mutex<Task<String, any Error>?>(nil)

    /// The decoy, made on `pool` with `hasher` the first time; concurrent first callers share one making.
    func value(hasher: ScryptPasswordHasher, pool: PasswordHashingPool) async throws(AuthError) -> String {
        let task = making.withLock { making in
            if let making { return making }
            let task = Task<String, any Error> {
                try await pool.run(.login) { () throws(AuthError) in try hasher.hash(UUID().uuidString) }
            }
            making = task
            return task
        }
        do {
            return try await task.value
        } catch let error as AuthError {
            // Not kept: the next login tries again.
            making.withLock { if $0 == task { $0 = nil } }
            throw error
        } catch {
            making.withLock { if $0 == task { $0 = nil } }
            throw AuthError(code: .storageFailed, message: "cannot make the decoy hash: \(error)")
        }
    }
}
