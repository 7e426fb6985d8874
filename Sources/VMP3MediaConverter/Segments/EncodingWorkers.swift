#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import VMP3Core

/// A fixed set of threads, kept for one parallel conversion, that run the work handed to them in
/// the order it was handed over.
///
/// A thread of its own for each segment cost a thread's creation and stack each time, and Linux
/// placed each new thread on the core of the thread that created it (the pipeline's, busy) while
/// the other core idled until the next scheduler tick: 106 such starts waited 142 ms in all in a
/// 10-minute conversion (`perf sched timehist`). A waiting thread woken by a semaphore is placed on
/// an idle core at once.
///
/// Releasing the set lets its threads finish the work already handed over, then joins them, so
/// that no thread outlives its conversion.
final class EncodingWorkers: Sendable {
    /// What the threads share; they hold it, not the set, so that releasing the set ends them.
    private final class Queue: Sendable {
        /// The work not yet taken, oldest first; `nil` tells one thread to exit.
        let pending = Mutex<[(@Sendable () -> Void)?]>([])
        /// Signalled once for each entry of `pending`.
        let available = DispatchSemaphore(value: 0)

        func take() -> (@Sendable () -> Void)? {
            available.wait()
            return pending.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        }

        func put(_ entries: [(@Sendable () -> Void)?]) {
            pending.withLock { $0.append(contentsOf: entries) }
            for _ in entries { available.signal() }
        }

        /// A thread's whole life: take work until told to exit.
        func serve() {
            while let work = take() {
                work()
            }
        }
    }

    private let queue = Queue()
    /// Kept only for joining in `deinit`.
    private let threads: [pthread_t]

    /// Starts `count` threads named `name-0`, `name-1`, … (as `top` and `perf` show them; Linux
    /// keeps 15 bytes) with stacks of `stackSize` bytes.
    ///
    /// - Throws: `encoding_failed` if the system refuses a thread (the ones started are joined).
    init(count: Int, name: String, stackSize: Int) throws(ConversionError) {
        var started: [pthread_t] = []
        for index in 0..<count {
            let queue = queue
            switch NamedThread.start(name: "\(name)-\(index)", stackSize: stackSize, detached: false, { queue.serve() }) {
            case .success(let thread):
                started.append(thread)
            case .failure(let error):
                queue.put(Array(repeating: nil, count: started.count))
                for thread in started { pthread_join(thread, nil) }
                throw ConversionError(code: .encodingFailed, message: "cannot start an encoding thread: \(error.reason)")
            }
        }
        threads = started
    }

    deinit {
        queue.put(Array(repeating: nil, count: threads.count))
        for thread in threads { pthread_join(thread, nil) }
    }

    /// Hands `work` to the first thread free; it starts after all the work handed over before it.
    func run(_ work: @escaping @Sendable () -> Void) {
        queue.put([work])
    }
}
