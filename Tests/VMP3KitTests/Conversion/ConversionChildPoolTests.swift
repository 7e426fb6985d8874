import Foundation
import Glibc
import Synchronization
import Testing
import VMP3TestScoping
import VMP3TestSupport
@testable import VMP3Core
@testable import VMP3MediaConverter
@testable import VMP3Sandbox

/// Children started ahead of need: a waiting child holds nothing of the parent's and is not
/// confined, takes the next conversion and confines itself then, is never used twice, and one
/// that dies while it waits costs a conversion nothing.
@Suite(.offCooperativePool) struct ConversionChildPoolTests {
    /// A converter whose pool is its own: the pool is per program, so each test names the child
    /// by a link of its own, and no other test takes its waiting children.
    func isolatedConverter() throws -> (SandboxedConverter, ConversionChildPool) {
        let child = try #require(SandboxedConverter().childExecutablePath)
        let link = try makeScratchDirectory().appendingPathComponent(SandboxedConverter.childProgramName)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: child)
        let converter = SandboxedConverter(configuration: .init(childExecutable: link.path, warmChildren: 1))
        return (converter, ConversionChildPool.shared(executable: link.path, environment: SandboxedConverter.childEnvironment))
    }

    /// The pids of the pool's waiting children once `count` wait (a hang detector: 30 s at most,
    /// where a child's start and warm-up take well under a second).
    func waiting(_ count: Int, in pool: ConversionChildPool) async throws -> [pid_t] {
        let deadline = ContinuousClock.now + .seconds(30)
        while pool.waitingCount < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let pids = pool.waitingPids
        try #require(pids.count == count, "\(pids.count) children wait, not \(count)")
        return pids
    }

    func convert(with converter: SandboxedConverter) async throws -> ConversionResult {
        let directory = try makeScratchDirectory()
        return try await converter.convert(try await TestMedia.tagged.url, to: directory.appendingPathComponent("out.mp3"))
    }

    /// What `/proc/PID/fd/N` points at, for each open descriptor N.
    func openDescriptors(_ pid: pid_t) throws -> [Int: String] {
        var descriptors: [Int: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            descriptors[Int(name)!] = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)")
        }
        return descriptors
    }

    @Test("after a conversion a child waits for the next: /dev/null for input and output, its socket and pipe, its status file, an environment of its own, no seccomp filter yet")
    func waitingChildHoldsNothing() async throws {
        let (converter, pool) = try isolatedConverter()
        #expect(try await convert(with: converter).duration > 0)
        let pid = try #require(try await waiting(1, in: pool).first)

        let descriptors = try openDescriptors(pid)
        #expect(descriptors[0] == "/dev/null")
        #expect(descriptors[1] == "/dev/null")
        #expect(descriptors[2]?.hasPrefix("pipe:") == true)
        #expect(descriptors[3]?.hasPrefix("socket:") == true)
        #expect(descriptors[4] == "/proc/\(pid)/status")
        #expect(descriptors.count == 5, "\(descriptors)")

        // This process's environment (where a service's secrets are) is not the child's.
        setenv("VMP3_POOL_TEST_SECRET", "s3cr3t", 1)
        defer { unsetenv("VMP3_POOL_TEST_SECRET") }
        let environment = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(Set(environment) == Set(SandboxedConverter.childEnvironment))
        #expect(!environment.contains { $0.hasPrefix("PATH=") || $0.hasPrefix("HOME=") })

        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("Seccomp:\t0"), "a waiting child is confined already, or the field moved")
        // One thread: `unshare` of a user namespace needs it, and a filter installed without
        // TSYNC would leave any other thread unfiltered.
        #expect(status.contains("Threads:\t1\n"), "a waiting child runs more than one thread")
        // It waits warmed up: it converted its clip, whose files (in memory) are closed again.
        #expect(pool.warmedUpCount >= 1)
    }

    @Test("the warm-up clip converts, with the default limits and from memory to memory")
    func warmUpClipConverts() {
        #expect(ChildWarmUp.run())
    }

    @Test("the waiting child takes the next conversion and confines itself for it; it is never used again, and another waits in its place")
    func waitingChildTakesTheNextConversion() async throws {
        let (converter, pool) = try isolatedConverter()
        _ = try await convert(with: converter)
        let first = try #require(try await waiting(1, in: pool).first)

        let directory = try makeScratchDirectory()
        let used = Mutex<pid_t>(0)
        let code = try await converter.attempt(
            .open(path: "/etc/passwd"), input: try await TestMedia.tagged.url, output: directory.appendingPathComponent("out.mp3"),
            started: { pid in used.withLock { $0 = pid } }
        )
        #expect(used.withLock { $0 } == first)
        #expect(code == EPERM, "the child that waited was not confined before it touched a file")
        // It is killed at its answer and reaped in the background: gone within moments.
        let deadline = ContinuousClock.now + .seconds(30)
        while kill(first, 0) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(kill(first, 0) == -1 && errno == ESRCH, "the child lives on after its conversion")

        let second = try #require(try await waiting(1, in: pool).first)
        #expect(second != first)
        #expect(try await convert(with: converter).duration > 0)
    }

    @Test("a waiting child killed from outside costs nothing: the next conversion succeeds in another, and the pool fills again")
    func deadWaitingChildIsReplaced() async throws {
        let (converter, pool) = try isolatedConverter()
        _ = try await convert(with: converter)
        let pid = try #require(try await waiting(1, in: pool).first)
        #expect(kill(pid, SIGKILL) == 0)
        // Dead, not yet reaped: the pool finds out when a conversion takes it.
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await convert(with: converter).duration > 0)
        let next = try #require(try await waiting(1, in: pool).first)
        #expect(next != pid)
    }

    @Test("warmChildren 0 keeps no child waiting: each conversion starts its own")
    func noWarmChildren() async throws {
        let child = try #require(SandboxedConverter().childExecutablePath)
        let link = try makeScratchDirectory().appendingPathComponent(SandboxedConverter.childProgramName)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: child)
        let converter = SandboxedConverter(configuration: .init(childExecutable: link.path, warmChildren: 0))
        #expect(try await convert(with: converter).duration > 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(ConversionChildPool.shared(executable: link.path, environment: SandboxedConverter.childEnvironment).waitingCount == 0)
    }
}
