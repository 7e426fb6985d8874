import VMP3Core
import Foundation

/// Runs password hashes off Swift's cooperative pool, at most one a core at a time.
///
/// A hash takes a fifth of a second of CPU and 32 MiB (``ScryptPasswordHasher``): run on the
/// cooperative pool it would hold up a server's few threads, and run without a bound, a flood of
/// logins or registrations would take as much memory as it had requests. Beyond the bound,
/// requests wait their turn: logins first, then the rest (registrations, rehashes) in order of
/// arrival, so that a flood of registrations from many addresses delays a user's login by at
/// most the hashes already running, not by the whole queue (measured: Docs/performance.md).
public actor PasswordHashingPool {
    /// Which queue a hash waits in.
    public enum Priority: Sendable {
        /// Checking a password at login: someone is waiting for their token.
        case login
        /// Making a new hash (a registration, a rehash): can wait behind logins.
        case background
    }

    /// The process's pool, as wide as it has cores.
    public static let shared = PasswordHashingPool(width: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private let width: Int
    private var running = 0
    private var waitingLogins: [CheckedContinuation<Void, Never>] = []
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// A pool running at most `width` hashes at once (a program can give a directory its own).
    public init(width: Int) {
        self.width = width
    }

    /// Runs `work` on a thread of VMP3Core's `BlockingThreadPool` once one of this pool's places
    /// is free (not on a Dispatch queue: on Linux its few threads were shared with conversions,
    /// and a login waited for them to end).
    public func run<T: Sendable>(_ priority: Priority = .background, _ work: @escaping @Sendable () throws(AuthError) -> T) async throws(AuthError) -> T {
        if running >= width {
            switch priority {
            case .login: await withCheckedContinuation { waitingLogins.append($0) }
            case .background: await withCheckedContinuation { waiting.append($0) }
            }
        } else {
            running += 1
        }
        defer {
            // The place passes straight to the next waiter, so that `running` stays counted.
            if !waitingLogins.isEmpty {
                waitingLogins.removeFirst().resume()
            } else if !waiting.isEmpty {
                waiting.removeFirst().resume()
            } else {
                running -= 1
            }
        }
        return try await BlockingThreadPool.shared.run(work)
    }
}
