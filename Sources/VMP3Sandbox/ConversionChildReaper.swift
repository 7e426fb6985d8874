#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VMP3Core

/// Reaps conversion children that were killed and let go: a thread of its own waits for their
/// ends, so that the thread that supervised one does not.
///
/// A child's answer is its last word: the parent kills it then and takes the answer once none of
/// its threads can run again. The kernel's teardown of the child's address space (its 150
/// libraries' mappings and its buffers) took 4 to 7 ms a conversion, during which the job waited
/// for a process that could no longer do anything for it. Each pid given here has been sent
/// SIGKILL; the thread polls their pidfds together, so one child stuck in the kernel (output on
/// a hung network file system) delays no other's reaping. Until it is reaped a child is a zombie
/// that holds no descriptor and no memory.
enum ConversionChildReaper {
    private final class State: @unchecked Sendable {
        // @unchecked: `pending` and `started` are read and written only with `lock` held.
        let lock = ConditionLock()
        /// Children to reap, each with its pidfd (-1: none, then it is looked at every 100 ms).
        var pending: [(pid: pid_t, ended: Int32)] = []
        var started = false
    }

    private static let state = State()

    /// Reaps `pid` in the background (here, blocking, if no thread can be had for it), and closes
    /// `ended`, its pidfd (-1 for none), once it has.
    static func reap(_ pid: pid_t, ended: Int32) {
        let startThread = state.lock.withLock { () -> Bool in
            state.pending.append((pid, ended))
            // Broadcast: `waitUntilAllReaped` waits on the same condition as the reaper's thread.
            state.lock.broadcast()
            defer { state.started = true }
            return !state.started
        }
        guard startThread else { return }
        if case .failure = NamedThread.start(name: "vmp3-reaper", detached: true, reapForever) {
            let children = state.lock.withLock { () -> [(pid: pid_t, ended: Int32)] in
                state.started = false
                defer { state.pending.removeAll() }
                return state.pending
            }
            for child in children {
                var status: Int32 = 0
                while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
                if child.ended >= 0 { close(child.ended) }
            }
        }
    }

    /// The reaper's thread, for as long as the process lives: waits for any child handed over to
    /// end, reaps those that have, and looks again (at least every 100 ms, for the ones handed
    /// over meanwhile).
    private static func reapForever() {
        while let children = waitForChildren() {
            var descriptors = children.filter { $0.ended >= 0 }.map { pollfd(fd: $0.ended, events: Int16(POLLIN), revents: 0) }
            _ = poll(&descriptors, nfds_t(descriptors.count), 100)
            var reaped = Set<pid_t>()
            for child in children {
                var status: Int32 = 0
                let waited = waitpid(child.pid, &status, WNOHANG)
                guard waited == child.pid || (waited < 0 && errno == ECHILD) else { continue }
                if child.ended >= 0 { close(child.ended) }
                reaped.insert(child.pid)
            }
            state.lock.withLock {
                state.pending.removeAll { reaped.contains($0.pid) }
                if state.pending.isEmpty { state.lock.broadcast() }
            }
        }
    }

    /// Blocks until every child handed over so far has been reaped: a program that exits after
    /// its conversions waits so, so that none outlives it and their resource use is counted as
    /// its own (`RUSAGE_CHILDREN`, which counts only children that were reaped).
    static func waitUntilAllReaped() {
        state.lock.lock()
        defer { state.lock.unlock() }
        while !state.pending.isEmpty { state.lock.wait() }
    }

    /// The children to reap, once there is one; never `nil` (the optional lets the loop above end
    /// in the optimizer's eyes: see `ConversionChildPool.waitForRoom`).
    @inline(never)
    private static func waitForChildren() -> [(pid: pid_t, ended: Int32)]? {
        state.lock.lock()
        defer { state.lock.unlock() }
        while state.pending.isEmpty { state.lock.wait() }
        return state.pending
    }
}
