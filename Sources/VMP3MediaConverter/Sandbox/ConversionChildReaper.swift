#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VMP3Core

/// Reaps conversion children that were killed and let go: a thread of its own waits for each
/// one's end, so that the thread that supervised it does not.
///
/// A child's answer is its last word: the parent kills it then and takes the answer at once. The
/// kernel's teardown of the child's address space (its 150 libraries' mappings and its buffers)
/// took 4 to 7 ms a conversion, during which the job waited for a process that could no longer
/// do anything for it. Each pid given here has been sent SIGKILL, so each wait is short; until it
/// ends the child is a zombie that holds no descriptor and no memory.
enum ConversionChildReaper {
    private final class State: @unchecked Sendable {
        // @unchecked: `pending` and `started` are read and written only with `lock` held.
        let lock = ConditionLock()
        var pending: [pid_t] = []
        var started = false
    }

    private static let state = State()

    /// Waits for `pid`'s end in the background (here, if no thread can be had for it).
    static func reap(_ pid: pid_t) {
        let startThread = state.lock.withLock { () -> Bool in
            state.pending.append(pid)
            state.lock.signal()
            defer { state.started = true }
            return !state.started
        }
        guard startThread else { return }
        if case .failure = NamedThread.start(name: "vmp3-reaper", detached: true, reapForever) {
            let waiting = state.lock.withLock { () -> [pid_t] in
                state.started = false
                defer { state.pending.removeAll() }
                return state.pending
            }
            waiting.forEach(waitForEnd)
        }
    }

    /// The reaper's thread: waits for each pid handed over, in turn, for as long as the process lives.
    private static func reapForever() {
        while let pid = next() { waitForEnd(pid) }
    }

    /// The next pid to wait for, once there is one; never `nil` (the optional lets the loop above
    /// end in the optimizer's eyes: see `ConversionChildPool.waitForRoom`).
    @inline(never)
    private static func next() -> pid_t? {
        state.lock.lock()
        defer { state.lock.unlock() }
        while state.pending.isEmpty { state.lock.wait() }
        return state.pending.removeFirst()
    }

    private static func waitForEnd(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}
