#if canImport(Glibc)
import Glibc
#endif
import VMP3Core

/// A task executor on a fixed set of threads, one a core: where the suites that compute for
/// seconds in a debug build run (``OffCooperativePoolTrait``), so that they never hold the
/// threads of Swift's cooperative pool, which every other test needs to meet its deadlines.
///
/// Fixed, not growing: a suite's task group of 300 conversions given a thread each made 300
/// runnable threads fight over two cores (and over the pool's lock) for seconds at a time.
final class ComputeThreads: TaskExecutor {
    static let shared = ComputeThreads(count: max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    /// The jobs not yet run, oldest first; only with `lock` held.
    private final class Jobs: @unchecked Sendable {
        // @unchecked: `pending` and `next` are read and written only with `lock` held.
        let lock = ConditionLock()
        var pending: [UnownedJob?] = []
        var next = 0

        func take() -> UnownedJob {
            lock.withLock {
                while next == pending.count { lock.wait() }
                let job = pending[next]!
                pending[next] = nil
                next += 1
                if next == pending.count {
                    pending.removeAll(keepingCapacity: true)
                    next = 0
                }
                return job
            }
        }
    }

    private let jobs = Jobs()

    /// Starts `count` threads, which live as long as the process (the executor is a shared one).
    init(count: Int) {
        let jobs = jobs
        let executor = UnownedTaskExecutor(ordinary: self)
        for _ in 0..<count {
            let started = NamedThread.start(name: "test-compute", detached: true) {
                while true { jobs.take().runSynchronously(on: executor) }
            }
            if case .failure(let error) = started { preconditionFailure("cannot start a compute thread for the tests: \(error.reason)") }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.lock.withLock {
            jobs.pending.append(job)
            jobs.lock.signal()
        }
    }

    func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}
