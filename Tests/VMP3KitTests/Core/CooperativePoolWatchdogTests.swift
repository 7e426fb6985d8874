import Foundation
import Testing
import VMP3Core
import VMP3TestSupport

/// The watchdog that fails a test run in which Swift's cooperative pool was held up
/// (VMP3TestSupport's `CooperativePoolWatchdog`), tested on a run of its own.
@Suite struct CooperativePoolWatchdogTests {
    /// Holds every thread of the cooperative pool for 2.5 s, computing (threads that sleep would be
    /// topped up by Dispatch after a second or so; a computation never is). Runs only as the
    /// child run of ``blockedRunFails()``: anywhere else it would fail the whole run, by design.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VMP3_WATCHDOG_SELF_TEST"] == "1"))
    func holdTheCooperativePool() async {
        let deadline = ContinuousClock.now + .milliseconds(2500)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { holdThisThreadForTheWatchdog(until: deadline) }
            }
        }
    }

    @Test("a run whose cooperative pool is held for over a second fails, naming the function that held it")
    func blockedRunFails() async throws {
        let testProcess = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let run = try await ExternalTool.run("/usr/bin/env", [
            "VMP3_WATCHDOG_SELF_TEST=1", "VMP3_WATCHDOG=1", "VMP3_WATCHDOG_LATENESS_MS=1000", testProcess, "--testing-library", "swift-testing", "--filter", "holdTheCooperativePool",
        ])
        #expect(run.status == 1, "\(run.stderrTail)")
        #expect(run.stderr.contains("no task could run on Swift's cooperative pool"), "\(run.stderrTail)")
        #expect(run.stderr.contains("holdThisThreadForTheWatchdog"), "the stacks name the function holding the pool: \(run.stderrTail)")
    }

    @Test("the blocking pool runs every call at once, on threads other than the cooperative pool's")
    func blockingPoolNeverQueues() async throws {
        let pool = BlockingThreadPool(name: "test-blocking", idleThreadsKept: 0, idleTimeout: .milliseconds(200))
        // Ten calls that each wait until all ten are running: they can only all return true if
        // the pool ran them at once (the 60 s is a hang detector, not a measure).
        let barrier = Barrier(parties: 10)
        let met = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<10 {
                group.addTask { await pool.run { barrier.arriveAndWait(timeout: .seconds(60)) } }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(met == Array(repeating: true, count: 10), "the calls waited for each other")
        // Idle past their timeout, the threads exit (none kept).
        let deadline = ContinuousClock.now + .seconds(60)
        while pool.threadCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(pool.threadCount == 0)
        // A typed error comes through as itself.
        struct Refused: Error, Equatable {}
        await #expect(throws: Refused()) { try await pool.run { () throws(Refused) -> Int in throw Refused() } }
    }
}

/// Computes until `deadline` on the calling thread: what a blocking call does to the pool.
@inline(never)
func holdThisThreadForTheWatchdog(until deadline: ContinuousClock.Instant) {
    var spins = 0
    while ContinuousClock.now < deadline { spins &+= 1 }
    blackHole(spins)
}

@inline(never)
func blackHole(_ value: Int) {
    if value == -1 { print(value) }
}

/// Lets `parties` threads wait until all of them have arrived.
final class Barrier: Sendable {
    private let lock = ConditionLock()
    private let parties: Int
    private nonisolated(unsafe) var arrived = 0  // only under `lock`

    init(parties: Int) {
        self.parties = parties
    }

    /// Whether all arrived within `timeout`.
    func arriveAndWait(timeout: Duration) -> Bool {
        lock.withLock {
            arrived += 1
            lock.broadcast()
            let deadline = ContinuousClock.now + timeout
            while arrived < parties {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return false }
                _ = lock.wait(timeout: left)
            }
            return true
        }
    }
}
