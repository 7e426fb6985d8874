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

        /// Names the calling thread as `top` and `perf` show it (what `pthread_setname_np` does on
        /// Linux, which the Glibc module does not offer); best effort.
        static func nameThisThread(_ name: String) {
            let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            guard file >= 0 else { return }
            _ = name.withCString { write(file, $0, strlen($0)) }
            close(file)
        }

        /// A thread's whole life: take work until told to exit.
        func serve(name: String) {
            Self.nameThisThread(name)
            while let work = take() {
                work()
            }
        }
    }

    /// What a new thread is given: the queue and its name (a class, to pass through `pthread_create`).
    private final class Start {
        let queue: Queue
        let name: String

        init(queue: Queue, name: String) {
            self.queue = queue
            self.name = name
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
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        var started: [pthread_t] = []
        for index in 0..<count {
            let threadName = String(decoding: "\(name)-\(index)".utf8.prefix(15), as: UTF8.self)
            let start = Unmanaged.passRetained(Start(queue: queue, name: threadName))
            var thread = pthread_t()
            let status = pthread_create(&thread, &attributes, { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                start.queue.serve(name: start.name)
                return nil
            }, start.toOpaque())
            guard status == 0 else {
                start.release()
                queue.put(Array(repeating: nil, count: started.count))
                for thread in started { pthread_join(thread, nil) }
                throw ConversionError(code: .encodingFailed, message: "cannot start an encoding thread: \(String(cString: strerror(status)))")
            }
            started.append(thread)
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
