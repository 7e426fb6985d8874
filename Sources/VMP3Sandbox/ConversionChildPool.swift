#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import VMP3Core

/// Conversion children started before there is work for them, so that a conversion does not wait
/// for one to start.
///
/// A child's start is mostly the dynamic loader mapping and relocating the shared libraries
/// FFmpeg's libraries pull in, and a process's first conversion costs more than the next: a
/// child started for a job costs it about 30 ms more than one that waited. A waiting child has
/// loaded them and converted a clip of its own (`ChildWarmUp`), and waits for its request on
/// its socket; it holds nothing of this process (no descriptor but `/dev/null` and its own socket
/// and pipe, an environment of its own) and is not confined yet: it confines itself when the
/// request comes, before it reads a byte of the input. Each child converts once and exits; none
/// is reused, since a child that has parsed an upload may be the attacker's.
///
/// One thread of the pool's own keeps the children waiting, starting one whenever fewer wait
/// than asked. It lives as long as the process: a child asks the kernel to kill it when the thread
/// that started it ends (`PR_SET_PDEATHSIG`), and a thread of the blocking pool may end when idle.
final class ConversionChildPool: Sendable {
    /// The program and environment of the children.
    let executable: String
    let environment: [String]

    /// What the pool's thread and the conversions share, under `lock` (a condition lock: the
    /// thread waits on it for a child to be taken).
    private final class State: @unchecked Sendable {
        // @unchecked: every stored property is read and written only with `lock` held.
        let lock = ConditionLock()
        var waiting: [ConversionChildProcess] = []
        /// How many children to keep waiting: the most any conversion asked for.
        var target = 0
        var threadStarted = false
        /// Children that converted their warm-up clip (for tests).
        var warmedUp = 0
    }

    private let state = State()
    private var lock: ConditionLock { state.lock }

    private static let pools = Mutex<[String: ConversionChildPool]>([:])

    /// The process's pool for `executable`.
    static func shared(executable: String, environment: [String]) -> ConversionChildPool {
        pools.withLock { pools in
            if let pool = pools[executable] { return pool }
            let pool = ConversionChildPool(executable: executable, environment: environment)
            pools[executable] = pool
            return pool
        }
    }

    private init(executable: String, environment: [String]) {
        self.executable = executable
        self.environment = environment
    }

    /// A child for one conversion: one that was waiting, else one started now on the calling
    /// thread (which must then outlive the conversion, as a thread of the blocking pool that
    /// supervises it does). Asks for `warm` children to be kept waiting from now on.
    ///
    /// - Returns: the child, and whether it had been waiting.
    func take(keepingWarm warm: Int) throws(ConversionError) -> (child: ConversionChildProcess, waited: Bool) {
        let waiting = lock.withLock { () -> ConversionChildProcess? in
            state.target = max(state.target, warm)
            if !state.threadStarted && state.target > 0 {
                state.threadStarted = true
                startThread()
            }
            // A child that died while it waited (killed from outside) is reaped and replaced.
            while let child = state.waiting.popLast() {
                if child.isAlive {
                    lock.signal()
                    return child
                }
            }
            lock.signal()
            return nil
        }
        if let waiting { return (waiting, true) }
        return (try ConversionChildProcess(executable: executable, environment: environment), false)
    }

    /// Children waiting now (for tests).
    var waitingCount: Int { lock.withLock { state.waiting.count } }

    /// How many of the children that waited had converted their warm-up clip (for tests).
    var warmedUpCount: Int { lock.withLock { state.warmedUp } }

    /// The pids of the children waiting now (for tests).
    var waitingPids: [pid_t] { lock.withLock { state.waiting.map(\.pid) } }

    private func startThread() {
        let started = NamedThread.start(name: "vmp3-children", detached: true) { [self] in keepChildrenWaiting() }
        if case .failure = started {
            // No thread to be had: conversions start their own children, as with no pool.
            state.threadStarted = false
            state.target = 0
        }
    }

    /// The pool's thread: starts a child whenever fewer wait than the target. A child that cannot
    /// start (the program gone, no process to be had) is tried again a second later; meanwhile
    /// conversions start their own and report why they cannot.
    private func keepChildrenWaiting() {
        // The loop's condition is a call the optimizer cannot see through: on a loop with no
        // exit, the release build's loop-invariant code motion never finished (Swift 6.3).
        while waitForRoom() {
            // A child waits only once it has warmed up: until then a conversion starts its own.
            // One that dies or takes over a minute on the clip (a hang: it takes well under a
            // second) is let go, and another tried a second later.
            if let child = try? ConversionChildProcess(executable: executable, environment: environment, warm: true),
               let warmedUp = child.awaitReady(timeout: .seconds(60)) {
                lock.withLock {
                    state.waiting.append(child)
                    if warmedUp { state.warmedUp += 1 }
                }
            } else {
                _ = lock.withLock { lock.wait(timeout: .seconds(1)) }
            }
        }
    }

    /// Waits until fewer children wait than the target; then `true` (the pool never stops: its
    /// children die with its thread, which lives as long as the process).
    @inline(never)
    private func waitForRoom() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        while state.waiting.count >= state.target { lock.wait() }
        return true
    }
}
