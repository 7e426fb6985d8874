#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads of its own for work that blocks: C calls that wait on a socket or a disk (hiredis,
/// SQLite, libcurl, `getaddrinfo`) or compute for long (a conversion, a password hash).
///
/// Swift's cooperative pool has one thread per core, so one blocking call on it stalls every
/// task of the process behind it. Dispatch's global queues are no refuge on Linux either: each
/// quality of service has a pool as wide as the machine has cores, so two conversions there kept
/// every password hash (and anything else of that class) waiting until they finished.
///
/// This pool never makes work wait for other work: a call is handed to an idle thread or, when
/// every thread is busy, to a new one. A caller bounds how many of its calls run at once (a
/// converter's slots, a password pool's width, a client's connections); the pool adds none.
/// A thread left idle for ``idleTimeout`` exits, unless that would leave fewer than
/// ``idleThreadsKept`` idle.
public final class BlockingThreadPool: Sendable {
    /// The process's pool.
    public static let shared = BlockingThreadPool(name: "vmp3-io")

    /// What the threads and the callers share, under `lock`.
    private final class State: @unchecked Sendable {
        // @unchecked: every stored property is read and written only with `lock` held.
        let lock = ConditionLock()
        /// Taken entries are set to `nil` at once, so that nothing a finished call captured is
        /// kept alive by the pool.
        var pending: [(@Sendable () -> Void)?] = []
        var next = 0
        var idle = 0
        var threads = 0
        var started = 0
    }

    /// The threads' names begin with it (as `top`, `perf` and stacks show them).
    public let name: String
    /// Idle threads kept waiting for work however long they idle.
    public let idleThreadsKept: Int
    /// How long a thread beyond ``idleThreadsKept`` waits for work, from the end of its last
    /// call, before it exits.
    public let idleTimeout: Duration
    private let state = State()

    /// A pool whose threads are named `name-1`, `name-2`, … (Linux keeps 15 bytes of a name).
    public init(name: String, idleThreadsKept: Int = 4, idleTimeout: Duration = .seconds(10)) {
        self.name = name
        self.idleThreadsKept = max(0, idleThreadsKept)
        self.idleTimeout = max(.zero, idleTimeout)
    }

    /// Runs `work` on one of the pool's threads and returns its result; the calling task waits
    /// without holding a thread.
    ///
    /// `work` is not cancelled with the task: a blocking call cannot be taken back. Callers
    /// that must stop one early interrupt it by its own means (shutting its socket down,
    /// FFmpeg's interrupt callback).
    public func run<Value: Sendable, Failure: Error>(_ work: @escaping @Sendable () throws(Failure) -> Value) async throws(Failure) -> Value {
        let result: Result<Value, Failure> = await withCheckedContinuation { continuation in
            execute { continuation.resume(returning: Result { () throws(Failure) -> Value in try work() }) }
        }
        return try result.get()
    }

    /// Hands `work` to an idle thread, or to a new one when none is idle; returns at once.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        let newThread = state.lock.withLock { () -> Int? in
            state.pending.append(work)
            // Each idle thread takes one entry: a new thread only when more wait than are idle.
            if state.idle >= state.pending.count - state.next {
                state.lock.signal()
                return nil
            }
            state.threads += 1
            state.started += 1
            return state.started
        }
        if let newThread { startThread(number: newThread) }
    }

    /// Threads alive now, busy or idle (for tests and metrics).
    public var threadCount: Int { state.lock.withLock { state.threads } }

    private func startThread(number: Int) {
        let started = NamedThread.start(name: "\(name)-\(number)", detached: true) { [self] in serve() }
        if case .failure = started {
            // No thread to be had (the process's or the system's limit): the work cannot be
            // dropped, and waiting for a thread that may never come would hang its caller, so it
            // runs on the caller's thread, which is what the pool exists to avoid, but not lost.
            let work = state.lock.withLock { () -> (@Sendable () -> Void)? in
                state.threads -= 1
                return takeLocked()
            }
            work?()
        }
    }

    /// With the lock held: the oldest work waiting, if any.
    private func takeLocked() -> (@Sendable () -> Void)? {
        guard state.next < state.pending.count else { return nil }
        let work = state.pending[state.next]
        state.pending[state.next] = nil
        state.next += 1
        if state.next == state.pending.count {
            state.pending.removeAll(keepingCapacity: true)
            state.next = 0
        } else if state.next > 64, state.next * 2 > state.pending.count {
            // Compacted once half of it has been taken, so that taking stays O(1) on average.
            state.pending.removeFirst(state.next)
            state.next = 0
        }
        return work
    }

    /// A thread's life: take work until it has idled for ``idleTimeout`` since its last call
    /// (a wake-up that finds the work taken by another thread does not start the time again).
    private func serve() {
        let clock = ContinuousClock()
        while true {
            let work = state.lock.withLock { () -> (@Sendable () -> Void)? in
                let deadline = clock.now + idleTimeout
                while true {
                    if let work = takeLocked() { return work }
                    let left = deadline - clock.now
                    if left <= .zero, state.idle >= idleThreadsKept {
                        state.threads -= 1
                        return nil
                    }
                    state.idle += 1
                    // Past its time but one of those kept: it waits for work as long as it takes.
                    if left > .zero { _ = state.lock.wait(timeout: left) } else { state.lock.wait() }
                    state.idle -= 1
                }
            }
            guard let work else { return }
            work()
        }
    }
}
