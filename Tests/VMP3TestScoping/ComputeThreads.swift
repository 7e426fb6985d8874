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

    private final class Start {
        let jobs: Jobs
        let executor: UnownedTaskExecutor

        init(jobs: Jobs, executor: UnownedTaskExecutor) {
            self.jobs = jobs
            self.executor = executor
        }
    }

    private let jobs = Jobs()

    /// Starts `count` threads, which live as long as the process (the executor is a shared one).
    init(count: Int) {
        for _ in 0..<count {
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            let start = Unmanaged.passRetained(Start(jobs: jobs, executor: UnownedTaskExecutor(ordinary: self)))
            var thread = pthread_t()
            let status = pthread_create(&thread, &attributes, { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                BlockingThreadPool.nameThisThread("test-compute")
                while true { start.jobs.take().runSynchronously(on: start.executor) }
            }, start.toOpaque())
            pthread_attr_destroy(&attributes)
            precondition(status == 0, "cannot start a compute thread for the tests")
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
