#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A serial executor on one thread of its own, for an actor whose methods call blocking C code
/// synchronously (SQLite's transactions, which keep an actor's bookkeeping whole when they run
/// within one of its methods).
///
/// On Swift's cooperative pool (one thread per core) each of those calls would hold up every
/// other task of the process; on this thread it holds up only the actor itself. An actor adopts
/// it with
///
/// ```swift
/// nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
/// ```
///
/// and keeps the executor alive as long as itself (the actor stores it). The thread ends when the
/// executor is released, after the jobs enqueued before.
public final class DedicatedThreadExecutor: SerialExecutor {
    /// The jobs not yet run, oldest first; `nil` tells the thread to exit. Shared with the thread,
    /// which holds it rather than the executor, so that releasing the executor ends the thread.
    private final class Jobs: @unchecked Sendable {
        // @unchecked: `pending` is read and written only with `lock` held.
        let lock = ConditionLock()
        var pending: [UnownedJob?] = []
    }

    private let jobs = Jobs()

    /// Starts the thread, named `name` (Linux keeps 15 bytes).
    ///
    /// - Throws: ``ThreadStartError`` if the system refuses the thread: without it no job could
    ///   ever run, so the actor that wanted it cannot be made.
    public init(name: String) throws(ThreadStartError) {
        let jobs = jobs
        let executor = UnownedSerialExecutor(ordinary: self)
        if case .failure(let error) = NamedThread.start(name: name, detached: true, { Self.serve(jobs, on: executor) }) {
            throw ThreadStartError(name: name, message: error.reason)
        }
    }

    deinit {
        jobs.lock.withLock {
            jobs.pending.append(nil)
            jobs.lock.signal()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.lock.withLock {
            jobs.pending.append(job)
            jobs.lock.signal()
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// The thread's life: run the jobs in order until told to exit.
    private static func serve(_ jobs: Jobs, on executor: UnownedSerialExecutor) {
        while true {
            let batch = jobs.lock.withLock { () -> [UnownedJob?] in
                while jobs.pending.isEmpty { jobs.lock.wait() }
                defer { jobs.pending.removeAll(keepingCapacity: true) }
                return jobs.pending
            }
            for job in batch {
                guard let job else { return }
                job.runSynchronously(on: executor)
            }
        }
    }
}
