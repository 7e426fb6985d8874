import Dispatch
import Foundation

/// Runs password hashes off Swift's cooperative pool, at most one a core at a time.
///
/// A hash takes a fifth of a second of CPU and 32 MiB (``ScryptPasswordHasher``): run on the
/// cooperative pool it would hold up a server's few threads, and run without a bound, a flood of
/// logins or registrations would take as much memory as it had requests. Beyond the bound,
/// requests wait their turn in order of arrival.
actor PasswordHashingPool {
    static let shared = PasswordHashingPool(width: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private let width: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(width: Int) {
        self.width = width
    }

    /// Runs `work` on a Dispatch thread once one of the pool's places is free.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws(AuthError) -> T) async throws(AuthError) -> T {
        if running >= width {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            running += 1
        }
        defer {
            // The place passes straight to the next waiter, so that `running` stays counted.
            if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
        }
        let result: Result<T, AuthError> = await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: Result { () throws(AuthError) in try work() })
            }
        }
        return try result.get()
    }
}
