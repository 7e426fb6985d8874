#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import CThreadSampler

/// Fails a test run in which Swift's cooperative pool was held up for over a second.
///
/// The pool has one thread per core (two in CI). A blocking call made on it (a hiredis command,
/// a conversion, `waitpid`, a semaphore) stops every task of the process behind it, and the HTTP
/// tests' deadlines then fail on a slow machine while passing on a fast one. The watchdog makes
/// that visible the day it is written, on any machine:
///
/// - a task on the pool sleeps 100 ms at a time and notes each time it runs (its heartbeat);
/// - a thread of the watchdog's own checks the heartbeat every 50 ms: once it is late by more
///   than the allowance (1 s; `VMP3_WATCHDOG_LATENESS_MS`), it samples the stacks of the pool's
///   busy threads (from inside the process, while they still hold it) and, when the heartbeat
///   comes back, reports how long the pool was held, with those stacks, on standard error;
/// - at exit, a run with any report exits with status 1, whatever its tests said.
///
/// Started before `main` in every test process (`CTestWatchdog`'s constructor); set
/// `VMP3_WATCHDOG=0` to run without it.
public final class CooperativePoolWatchdog: Sendable {
    /// The process's watchdog, once started.
    public static let shared = CooperativePoolWatchdog(allowance: .milliseconds(
        Int(ProcessInfo.processInfo.environment["VMP3_WATCHDOG_LATENESS_MS"] ?? "") ?? 1000
    ))

    /// How long the heartbeat task sleeps between two beats.
    static let interval = Duration.milliseconds(100)

    /// How late a heartbeat may be before the pool counts as held up.
    public let allowance: Duration
    /// The monotonic time of the last heartbeat, in nanoseconds.
    private let lastBeat = Atomic<UInt64>(0)
    private let reports = Mutex<[String]>([])
    private let started = Atomic<Bool>(false)
    /// Whether the checking thread is taking stacks now (exit waits for them).
    private let capturing = Atomic<Bool>(false)

    init(allowance: Duration) {
        self.allowance = allowance
    }

    /// The reports made so far, each a hold-up with its stacks.
    public var holdUps: [String] { reports.withLock { $0 } }

    /// Starts the heartbeat and the checking thread, once; later calls do nothing.
    public func start() {
        guard started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        lastBeat.store(Self.now(), ordering: .relaxed)
        _ = vmp3_sampler_install()
        Task.detached { [self] in
            while true {
                lastBeat.store(Self.now(), ordering: .relaxed)
                try? await Task.sleep(for: Self.interval)
            }
        }
        let thread = Thread { [self] in watch() }
        thread.name = "vmp3-watchdog"
        thread.start()
        atexit {
            // A run that ended while the stacks were being taken waits for them (2 minutes at most).
            for _ in 0..<1200 where CooperativePoolWatchdog.shared.capturing.load(ordering: .sequentiallyConsistent) {
                usleep(100_000)
            }
            let holdUps = CooperativePoolWatchdog.shared.holdUps
            guard !holdUps.isEmpty else { return }
            let summary = "cooperative pool watchdog: the pool was held up \(holdUps.count) time(s) for over " +
                "\(CooperativePoolWatchdog.shared.allowance): a blocking call runs on it; this run fails. The reports:\n" +
                holdUps.joined(separator: "\n") + "\n"
            fflush(nil)
            writeToStandardError(summary)
            _exit(1)
        }
    }

    /// The checking thread's life.
    private func watch() {
        let limit = UInt64((Self.interval + allowance).nanoseconds)
        while true {
            usleep(50_000)
            let beat = lastBeat.load(ordering: .relaxed)
            guard Self.now() &- beat > limit else { continue }
            // Held up. Kept at once, so that a run ending while the pool is still held (or while
            // the stacks are being taken) fails too; then the stacks, while whatever holds the
            // pool still does, and how long it held it.
            capturing.store(true, ordering: .sequentiallyConsistent)
            let index = reports.withLock { reports in
                reports.append(Self.report(held: nil, allowance: allowance, stacks: "(not taken: the run ended first)"))
                return reports.count - 1
            }
            let stacks = Self.poolThreadStacks()
            reports.withLock { $0[index] = Self.report(held: nil, allowance: allowance, stacks: stacks) }
            capturing.store(false, ordering: .sequentiallyConsistent)
            while lastBeat.load(ordering: .relaxed) == beat { usleep(20_000) }
            let held = Duration.nanoseconds(Int64(lastBeat.load(ordering: .relaxed) &- beat)) - Self.interval
            let report = Self.report(held: held, allowance: allowance, stacks: stacks)
            reports.withLock { $0[index] = report }
            writeToStandardError(report + "\n")
        }
    }

    private static func report(held: Duration?, allowance: Duration, stacks: String) -> String {
        """
        cooperative pool watchdog: no task could run on Swift's cooperative pool for \
        \(held.map { "\($0)" } ?? "over \(allowance) (still held at exit)") (allowed: \(allowance)). The threads \
        running Swift jobs when it had been held for \(allowance):
        \(stacks)
        """
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// The stacks of the cooperative pool's threads that are not waiting for work, symbolized and
    /// demangled. On Linux the pool is Dispatch's root queues (which also run the blocks given to
    /// `DispatchQueue.global()`), whose threads Dispatch names after them (`…default-qos`, cut to
    /// 15 bytes). Each is sampled from inside the process (SIGPROF, `CThreadSampler`): nothing
    /// stops the process, as a debugger attaching to it would, for seconds, on a loaded machine.
    static func poolThreadStacks() -> String {
        var stacks: [(tid: String, frames: [UInt])] = []
        // Every thread is sampled: a thread takes its creator's name, and one that was given a
        // name of its own may still be a pool thread; the stacks tell (`_dispatch_worker_thread`).
        for tid in taskIDs() where Int32(tid) != Self.currentThreadID() {
            var frames = [UnsafeMutableRawPointer?](repeating: nil, count: 128)
            let count = Int(vmp3_sampler_sample(Int32(tid) ?? 0, &frames, 128, 500))
            guard count > 0 else { continue }
            stacks.append((tid, frames.prefix(count).map { UInt(bitPattern: $0) }))
        }
        guard !stacks.isEmpty else {
            return "(no stacks: no pool thread answered); thread states:\n" + threadStates()
        }
        let named = symbolize(stacks.flatMap(\.frames))
        let rendered = stacks.map { stack in
            var names = stack.frames.map { named[$0] ?? "0x" + String($0, radix: 16) }
            // The sampler's own handler and the kernel's signal trampoline come first.
            if let handler = names.firstIndex(of: "sampler_handler") { names.removeFirst(min(names.count, handler + 2)) }
            return ("TID \(stack.tid):", names.enumerated().map { "#\($0) \($1)" })
        }
        // The pool's threads, less those waiting for work (no part of what holds the pool).
        let busy = rendered.filter { thread in
            thread.1.contains { $0.contains("_dispatch_worker_thread") }
                && !thread.1.prefix(6).contains { $0.contains("_dispatch_sema4_timedwait") || $0.contains("_dispatch_semaphore_wait_slow") }
                && !thread.1.contains { $0.contains("_dispatch_mgr_thread") }
        }
        guard !busy.isEmpty else {
            return "(every pool thread was waiting for work when sampled: the heartbeat's timer fired late, or the process was not scheduled)"
        }
        return busy.map { ([$0.0] + $0.1).joined(separator: "\n") }.joined(separator: "\n")
    }

    private static func currentThreadID() -> Int32 {
        vmp3_sampler_current_thread()
    }

    private static func taskIDs() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).sorted()
    }

    /// Function names for return addresses: each address's module and offset (`dladdr`), given
    /// to `llvm-symbolizer` (the Swift toolchain's), then demangled by `swift-demangle`.
    private static func symbolize(_ addresses: [UInt]) -> [UInt: String] {
        var lines: [String] = []
        var order: [UInt] = []
        for address in Set(addresses) {
            var file: UnsafePointer<CChar>?
            var base: UnsafeRawPointer?
            guard vmp3_sampler_module(UnsafeRawPointer(bitPattern: address), &file, &base) != 0, let file, let base else { continue }
            // A return address points after its call: one byte back is within the call.
            let offset = address - UInt(bitPattern: base) - 1
            lines.append("\"\(String(cString: file))\" 0x\(String(offset, radix: 16))")
            order.append(address)
        }
        guard let output = try? runToString(["llvm-symbolizer", "--no-inlines"], input: lines.joined(separator: "\n") + "\n", timeout: .seconds(60)) else { return [:] }
        // Two lines an address (function, then place) and a blank one.
        let functions = output.components(separatedBy: "\n\n").map { $0.split(separator: "\n").first.map(String.init) ?? "??" }
        let demangled = (try? runToString(["swift-demangle", "--simplified"], input: functions.joined(separator: "\n"), timeout: .seconds(60)))?
            .components(separatedBy: "\n") ?? functions
        var names: [UInt: String] = [:]
        for (index, address) in order.enumerated() where index < demangled.count {
            names[address] = demangled[index]
        }
        return names
    }

    /// `TID name state` for each thread, from `/proc/self/task`.
    private static func threadStates() -> String {
        taskIDs().map { tid in
            let stat = (try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8)) ?? ""
            let wchan = (try? String(contentsOfFile: "/proc/self/task/\(tid)/wchan", encoding: .utf8)) ?? ""
            return "\(tid) \(stat.split(separator: " ").prefix(3).joined(separator: " ")) \(wchan)"
        }.joined(separator: "\n")
    }

    /// Runs a program found in `PATH` on this (the watchdog's) thread and returns its output,
    /// killing it after `timeout`; through files, so that neither side can fill a pipe and wait
    /// for the other. `DEBUGINFOD_URLS` is removed: no symbols are fetched over the network.
    private static func runToString(_ arguments: [String], input: String? = nil, timeout: Duration) throws -> String {
        let directory = FileManager.default.temporaryDirectory
        let inputURL = directory.appendingPathComponent("vmp3-watchdog-\(getpid())-in")
        let outputURL = directory.appendingPathComponent("vmp3-watchdog-\(getpid())-out")
        defer {
            try? FileManager.default.removeItem(at: inputURL)
            try? FileManager.default.removeItem(at: outputURL)
        }
        try Data((input ?? "").utf8).write(to: inputURL)
        try Data().write(to: outputURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["-u", "DEBUGINFOD_URLS"] + arguments
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { kill(process.processIdentifier, SIGKILL) }
            usleep(10_000)
        }
        return String(decoding: try Data(contentsOf: outputURL), as: UTF8.self)
    }
}

/// Writes to standard error with `write(2)`: never a trap on a closed pipe, and usable at exit.
private func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

/// Called by `CTestWatchdog`'s constructor before `main`.
@_cdecl("vmp3_start_cooperative_pool_watchdog")
public func startCooperativePoolWatchdog() {
    guard ProcessInfo.processInfo.environment["VMP3_WATCHDOG"] != "0" else { return }
    CooperativePoolWatchdog.shared.start()
}
