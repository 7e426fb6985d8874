#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import VMP3Core

/// Runs a program (ffmpeg, ffprobe, the vmp3 CLI) and collects what it printed.
///
/// Spawns with `posix_spawnp` and reaps with `wait4` on a thread of the blocking pool rather than with
/// Foundation's `Process`: waiting never blocks a thread of Swift's cooperative pool (which has as
/// few threads as the machine has cores), and Foundation's `Process` leaks on Linux, which would
/// bury real reports in the sanitized test run.
public struct ExternalTool {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: String
        /// The process's `ru_maxrss`. From ``run(_:_:)`` it may be the tests' process's peak
        /// rather than the program's: Linux keeps a process's high-water mark across `execve`,
        /// and a spawned child starts as the tests' process. ``runMeasuringPeak(_:_:)`` gives
        /// the program's own.
        public var peakResidentBytes: Int64 = 0
        public var text: String { String(decoding: stdout, as: UTF8.self) }
        /// The last 4,000 characters of standard error, for a failed expectation's message: a
        /// sanitizer's report or the cause a program gave for exiting non-zero.
        public var stderrTail: String { "exit status \(status); standard error ends:\n" + String(stderr.suffix(4000)) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Runs `executable` (a path, or a name looked up in `PATH`) to completion. Output goes
    /// through files, so a large output cannot fill a pipe and stall the child.
    public static func run(_ executable: String, _ arguments: [String]) async throws -> Output {
        try await start(executable, arguments).finish()
    }

    /// A started process whose output is collected when it ends. Released while the process
    /// still runs (a test that threw before stopping it), it kills the process: a failed test
    /// leaves no server behind holding a port or a CPU.
    public final class Running: Sendable {
        public let pid: pid_t
        public let stdoutURL: URL
        let stderrURL: URL
        /// The exit status and the peak resident bytes.
        private let exit: Task<(Int32, Int64), Never>
        /// Set once the process is reaped (its pid may then be reused: never signal it again).
        private let reaped: ReapedFlag

        private final class ReapedFlag: Sendable {
            let value = Atomic<Bool>(false)
        }

        init(pid: pid_t, stdoutURL: URL, stderrURL: URL) {
            self.pid = pid
            self.stdoutURL = stdoutURL
            self.stderrURL = stderrURL
            let reaped = ReapedFlag()
            self.reaped = reaped
            exit = Task {
                // `wait4` holds its thread for the child's whole life: a thread of the blocking
                // pool's, never one of the two that run every task of the tests' process (on
                // Linux, Dispatch's default queue is Swift's cooperative pool).
                await withCheckedContinuation { continuation in
                    BlockingThreadPool.shared.execute {
                        var status: Int32 = 0
                        var usage = rusage()
                        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                        reaped.value.store(true, ordering: .releasing)
                        // Exited: the code; killed by a signal: 128 + the signal, as shells report it.
                        let signal = status & 0x7F
                        continuation.resume(returning: (signal == 0 ? (status >> 8) & 0xFF : 128 + signal, Int64(usage.ru_maxrss) * 1024))
                    }
                }
            }
        }

        deinit {
            if !reaped.value.load(ordering: .acquiring) { _ = Glibc.kill(pid, SIGKILL) }
        }

        /// Whether the process has ended (and been reaped).
        public var hasExited: Bool { reaped.value.load(ordering: .acquiring) }

        /// What the process has written to its standard output so far.
        public func outputSoFar() -> String {
            String(decoding: (try? Data(contentsOf: stdoutURL)) ?? Data(), as: UTF8.self)
        }

        /// Waits until the process's standard output matches `pattern` (checking every 50 ms, for
        /// up to `timeout`) and returns the match's first capture; `nil` if it did not come.
        ///
        /// The output is read once more at the deadline: on a starved machine one sleep can outlast
        /// the whole timeout (seen in CI: 60 s), and what came meanwhile still counts.
        public func waitForOutput(_ pattern: Regex<(Substring, Substring)>, timeout: Duration) async throws -> String? {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while true {
                if let match = outputSoFar().firstMatch(of: pattern) { return String(match.1) }
                guard clock.now < deadline else { return nil }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// Sends `signal` to the process, unless it has ended.
        public func kill(_ signal: Int32) {
            if !reaped.value.load(ordering: .acquiring) { _ = Glibc.kill(pid, signal) }
        }

        /// Sends `signal` `delay` after `condition` first holds, checking every 10 ms for up to
        /// `timeout`. The checks and the signal run on a thread of their own: on a loaded test run
        /// the cooperative pool can be starved for seconds, long enough to miss a short window.
        ///
        /// - Returns: whether the condition held (and the signal was sent).
        public func kill(_ signal: Int32, after delay: Duration = .zero, once condition: @escaping @Sendable () -> Bool, timeout: Duration) async -> Bool {
            let pid = pid
            return await withCheckedContinuation { continuation in
                let thread = Thread {
                    let clock = ContinuousClock()
                    let deadline = clock.now + timeout
                    var held = condition()
                    while !held && clock.now < deadline {
                        usleep(10_000)
                        held = condition()
                    }
                    if held {
                        Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                        _ = Glibc.kill(pid, signal)
                    }
                    continuation.resume(returning: held)
                }
                thread.start()
            }
        }

        /// Waits for the process to end and collects its output.
        public func finish() async throws -> Output {
            let (status, peak) = await exit.value
            defer {
                try? FileManager.default.removeItem(at: stdoutURL)
                try? FileManager.default.removeItem(at: stderrURL)
            }
            return Output(
                status: status,
                stdout: try Data(contentsOf: stdoutURL),
                stderr: String(decoding: try Data(contentsOf: stderrURL), as: UTF8.self),
                peakResidentBytes: peak
            )
        }
    }

    /// Starts `executable`. The spawn runs on a thread of the blocking pool: `posix_spawn`
    /// holds its caller until the child has run `execve`, a tenth of a second or more for a large
    /// program on a loaded machine, and ninety-six of them on the cooperative pool's two threads
    /// held it for ten seconds.
    public static func start(_ executable: String, _ arguments: [String]) async throws -> Running {
        try await BlockingThreadPool.shared.run { try spawn(executable, arguments) }
    }

    private static func spawn(_ executable: String, _ arguments: [String]) throws -> Running {
        let id = UUID().uuidString
        let stdoutURL = testRoot.appendingPathComponent("\(id).out")
        let stderrURL = testRoot.appendingPathComponent("\(id).err")

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing else of the tests' process: a socket a test has closed must not stay open in a
        // child another test started meanwhile (a Redis connection did, and failed the check
        // that a store's shutdown closes its connections).
        _ = closeFrom(&actions, 3)

        // A child inherits the spawning thread's signal mask, and Dispatch's threads block signals:
        // give it an empty mask and default handlers, or it would ignore SIGTERM and SIGINT.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        return Running(pid: pid, stdoutURL: stdoutURL, stderrURL: stderrURL)
    }

    /// Runs `executable` to completion, like ``run(_:_:)``, with ``Output/peakResidentBytes`` the
    /// program's own peak: it is started by a small Python process that forks and runs it, so
    /// the high-water mark it inherits across `execve` is that process's (about 10 MB), not the
    /// tests' process's (hundreds of MB while other tests run beside it).
    public static func runMeasuringPeak(_ executable: String, _ arguments: [String]) async throws -> Output {
        let peakFile = testRoot.appendingPathComponent("\(UUID().uuidString).peak")
        defer { try? FileManager.default.removeItem(at: peakFile) }
        let script = """
            import os, sys
            pid = os.fork()
            if pid == 0:
                try:
                    os.execvp(sys.argv[2], sys.argv[2:])
                finally:
                    os._exit(127)
            _, status, usage = os.wait4(pid, 0)
            with open(sys.argv[1], "w") as out:
                out.write(str(usage.ru_maxrss * 1024))
            code = os.waitstatus_to_exitcode(status)
            sys.exit(code if code >= 0 else 128 - code)
            """
        var output = try await run("python3", ["-c", script, peakFile.path, executable] + arguments)
        guard let text = try? String(contentsOf: peakFile, encoding: .utf8), let peak = Int64(text) else {
            throw Failure(description: "running \(executable) under python3 gave no peak: \(output.stderrTail)")
        }
        output.peakResidentBytes = peak
        return output
    }

    /// Runs ffmpeg quietly and fails with its message if it fails.
    public static func ffmpeg(_ arguments: [String]) async throws {
        let output = try await run("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments)
        guard output.status == 0 else {
            throw Failure(description: "ffmpeg \(arguments.joined(separator: " ")) failed: \(output.stderr)")
        }
    }
}

/// An executable SwiftPM built beside this test bundle.
public func builtExecutable(_ name: String) -> String {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        Bundle.main.bundleURL,
        Bundle.main.bundleURL.deletingLastPathComponent(),
    ]
    for directory in candidates {
        let path = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return candidates[0].appendingPathComponent(name).path
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc module does
/// not declare: looked up once; where missing, a no-op that reports success.
private let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
        return { _, _ in 0 }
    }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()
