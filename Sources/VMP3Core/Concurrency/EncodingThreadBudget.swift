#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The encoding threads of the whole process, shared by the conversions running at once.
///
/// A conversion that lets VMP3 choose takes the threads that are free (at least one, its own), so
/// a worker running several jobs divides the cores among them instead of running more threads than
/// there are cores. One that names a count gets it; its threads count against the others.
package final class EncodingThreadBudget: Sendable {
    /// One per core this process may run on.
    package static let shared = EncodingThreadBudget(total: max(1, ProcessInfo.processInfo.activeProcessorCount))

    package let total: Int
    private let inUse = Mutex(0)

    package init(total: Int) {
        self.total = total
    }

    /// Threads taken by one conversion; give them back with ``release(_:)``.
    package struct Grant: Sendable, Equatable {
        package let count: Int
    }

    /// `requested` threads if given, else every free one; never fewer than one.
    package func take(_ requested: Int?) -> Grant {
        inUse.withLock { used in
            let count = requested ?? max(1, total - used)
            used += count
            return Grant(count: count)
        }
    }

    package func release(_ grant: Grant) {
        inUse.withLock { $0 -= grant.count }
    }

    /// Threads taken now (for tests).
    package var taken: Int { inUse.withLock { $0 } }
}
