#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSandbox
import VMP3Core

/// One conversion child, seen from the parent: its pid and the parent's ends of its socket and
/// diagnostics pipe. `deinit` kills a child that was never reaped and closes both.
///
/// A child starts holding nothing of the parent's: `/dev/null` as its input and output, no other
/// descriptor, an environment of its own. It loads its libraries and waits for its request, which
/// ``send(_:input:output:)`` passes with the input and output descriptors attached; only then does
/// it confine itself and read the input. So a child can be started before there is work for it
/// (``ConversionChildPool``). ``supervise(deadline:memoryLimit:cancellation:onReport:)`` is the
/// whole of its life after the request: it reads the child's messages as they come, and kills the
/// child's process group with SIGKILL the moment its time is up, its task is cancelled or its
/// memory passes the limit. None of that needs the child's cooperation.
///
/// One thread uses a child at a time: the one that started it, then (through the pool's lock)
/// the one that sends it a request and supervises it. Its end is waited for by
/// ``ConversionChildReaper``, not by the thread that let it go.
final class ConversionChildProcess: @unchecked Sendable {
    // @unchecked: the mutable state (`channel`, `errors`, `reaped`) is used by one thread at a
    // time, as above; the pool hands a child over under its lock and keeps no reference to it.
    let pid: pid_t
    private var channel: Int32
    private var errors: Int32
    /// Readable once the child has ended (a pidfd), or -1 where the kernel has none.
    private let ended: Int32
    private var reaped = false

    /// Why the parent killed the child.
    enum KillCause: Equatable {
        case timeLimit
        case cancelled
        case memoryLimit
        /// It sent what is not a message.
        case malformedMessage(String)
    }

    /// How a child ended.
    struct Exit {
        /// `WIFEXITED`'s status, or `nil` if a signal ended it.
        var status: Int32?
        var signal: Int32?
        var killed: KillCause?
        /// Its last message other than progress (its answer), if it sent one.
        var answer: ConversionChildReport?
        /// Its resident memory's high-water mark, as last sampled, in bytes.
        var peakResidentBytes: Int64
        /// The largest address space it was seen to have, in bytes.
        var peakVirtualBytes: Int64
        /// CPU seconds of all its threads: as the kernel counted them at its end, or for a child
        /// let go after its answer, as it reported them (for logs only).
        var cpuSeconds: Double
        /// Whether it answered and was then killed: its answer stands, whatever its end. It is
        /// usually let go before its end (reaped by ``ConversionChildReaper``), and then `status`
        /// and `signal` are `nil`.
        var answered = false
        /// The end of what it wrote to standard error (AddressSanitizer's reports, a trap's).
        var diagnostics: String
    }

    /// Starts `executable`, which waits for its request; a child asked to `warm` up converts a
    /// clip of its own first (`ChildWarmUp`), for one that will wait.
    init(executable: String, environment: [String], warm: Bool = false) throws(ConversionError) {
        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0 else {
            throw Self.unavailable("cannot make a socket pair: \(String(cString: strerror(errno)))")
        }
        var pipeEnds: [Int32] = [-1, -1]
        let pipeError = vmp3_sandbox_pipe(&pipeEnds)
        guard pipeError == 0 else {
            let code = pipeError
            close(sockets[0])
            close(sockets[1])
            throw Self.unavailable("cannot make a pipe: \(String(cString: strerror(code)))")
        }
        let arguments = [executable, String(getpid())] + (warm ? [ConversionChildRequest.warmArgument] : [])
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let started = vmp3_sandbox_spawn(executable, argv, envp, -1, -1, pipeEnds[1], sockets[1])
        close(sockets[1])
        close(pipeEnds[1])
        guard started > 0 else {
            close(sockets[0])
            close(pipeEnds[0])
            throw Self.unavailable("cannot start \(executable): \(String(cString: strerror(-started)))")
        }
        pid = started
        channel = sockets[0]
        errors = pipeEnds[0]
        // Taken before any wait: until the child is reaped its pid cannot name another process.
        let descriptor = vmp3_sandbox_pidfd_open(started)
        ended = descriptor >= 0 ? descriptor : -1
    }

    deinit {
        if channel >= 0 { close(channel) }
        if errors >= 0 { close(errors) }
        if reaped {
            if ended >= 0 { close(ended) }
        } else {
            kill(-pid, SIGKILL)
            ConversionChildReaper.reap(pid, ended: ended)
        }
    }

    private static func unavailable(_ message: String) -> ConversionError {
        ConversionError(code: .sandboxUnavailable, message: "the sandboxed converter cannot run: \(message)")
    }

    /// Sends the request with the input and output (none for a probe) attached: the child reads
    /// nothing else from the parent. `false` if the child is gone (it died before it read).
    func send(_ request: ConversionChildRequest, input: Int32, output: Int32?) -> Bool {
        guard let frame = try? MessageFraming.encode(request) else { return false }
        do {
            try MessageFraming.sendAttaching([input] + (output.map { [$0] } ?? []), frame, toSocket: channel)
            return true
        } catch {
            return false
        }
    }

    /// Waits for a warming child's ``ConversionChildReport/ready(warmedUp:)`` (blocking, at most
    /// `timeout`): whether it warmed up, or `nil` if it died, sent something else or took too long
    /// (then it is no child to keep).
    func awaitReady(timeout: Duration) -> Bool? {
        var descriptor = pollfd(fd: channel, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(clamping: Int64(timeout.seconds * 1000))) == 1,
              let (frame, _) = try? MessageFraming.readFrame(fromSocket: channel, descriptorCapacity: 0),
              case .ready(let warmedUp)? = try? MessageFraming.decode(ConversionChildReport.self, from: frame)
        else { return nil }
        return warmedUp
    }

    /// Waits, at most `timeout`, until every thread of the child (sent SIGKILL) is exiting
    /// (`PF_EXITING` in `/proc/PID/task/TID/stat`), past any system call it was in: from then on
    /// none can write or compute, though the kernel may take milliseconds more to tear the process
    /// down. `false` if that was not seen in time (a thread stuck in the kernel): then the caller
    /// waits for the child's end.
    private func awaitExiting(for timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if allThreadsExiting() { return true }
            usleep(100)
        }
        return false
    }

    /// Whether no thread of the child can return to its own code: each has `PF_EXITING` (0x4) in
    /// its flags, or is gone.
    private func allThreadsExiting() -> Bool {
        guard let directory = opendir("/proc/\(pid)/task") else { return true }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let thread = Int32(name) else { continue }
            let descriptor = open("/proc/\(pid)/task/\(thread)/stat", O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            var bytes = [UInt8](repeating: 0, count: 1024)
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            guard count > 0 else { continue }
            // After the command name's closing parenthesis: state, ppid, pgrp, session, tty,
            // tpgid, flags.
            let text = String(decoding: bytes[0..<count], as: UTF8.self)
            guard let nameEnd = text.lastIndex(of: ")") else { return false }
            let fields = text[text.index(after: nameEnd)...].split(separator: " ")
            guard fields.count > 6, let flags = UInt64(fields[6]) else { return false }
            if flags & 0x4 == 0 { return false }
        }
        return true
    }

    /// Whether the child is still there, waiting; reaps it if it is not.
    var isAlive: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped = true
            return false
        }
        return true
    }

    /// Reads the child's messages until it exits, calling `onReport` with each progress report,
    /// and kills it (SIGKILL, its whole process group) when `deadline` passes, `cancellation` is
    /// set or its resident memory passes `memoryLimit`. Blocks; run it on a thread of the blocking
    /// pool.
    func supervise(
        deadline: ContinuousClock.Instant?,
        memoryLimit: Int64?,
        cancellation: CancellationFlag,
        onReport: (ConversionChildReport) -> Void
    ) -> Exit {
        _ = fcntl(channel, F_SETFL, fcntl(channel, F_GETFL) | O_NONBLOCK)
        _ = fcntl(errors, F_SETFL, fcntl(errors, F_GETFL) | O_NONBLOCK)
        var assembler = FrameAssembler()
        var exit = Exit(status: nil, signal: nil, killed: nil, answer: nil, peakResidentBytes: 0, peakVirtualBytes: 0, cpuSeconds: 0, diagnostics: "")
        var diagnostics: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)

        func kill(_ cause: KillCause) {
            guard exit.killed == nil else { return }
            exit.killed = cause
            Glibc.kill(-pid, SIGKILL)
        }
        /// Reads what `descriptor` has now; `false` once it is at its end.
        func drain(_ descriptor: inout Int32, into handle: ([UInt8]) -> Void) {
            guard descriptor >= 0 else { return }
            while true {
                let got = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if got > 0 {
                    handle(Array(buffer[0..<got]))
                    continue
                }
                if got < 0 && errno == EINTR { continue }
                if got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
                close(descriptor)
                descriptor = -1
                return
            }
        }
        func readMessages() {
            drain(&channel) { bytes in
                guard exit.killed == nil else { return }
                do {
                    for frame in try assembler.append(bytes) {
                        let report = try MessageFraming.decode(ConversionChildReport.self, from: frame)
                        switch report {
                        case .progress, .confined, .ready:
                            onReport(report)
                        case .usage(let resident, let virtual, let cpuSeconds):
                            exit.peakResidentBytes = max(exit.peakResidentBytes, resident)
                            exit.peakVirtualBytes = max(exit.peakVirtualBytes, virtual)
                            // A child's word, for logs: a number it could make up (1e300, NaN) is
                            // not taken, since turning it into milliseconds would trap.
                            if cpuSeconds.isFinite && (0...1e7).contains(cpuSeconds) { exit.cpuSeconds = cpuSeconds }
                        default:
                            exit.answer = report
                        }
                    }
                } catch {
                    kill(.malformedMessage("\(error)"))
                }
            }
        }
        func readDiagnostics() {
            drain(&errors) { bytes in
                diagnostics.append(contentsOf: bytes)
                if diagnostics.count > 16 * 1024 { diagnostics.removeFirst(diagnostics.count - 16 * 1024) }
            }
        }

        while true {
            // A child closes its socket and pipe a moment before it can be reaped: the pidfd wakes
            // this thread for that moment, where a bare timeout cost up to its 100 ms a conversion.
            // Without one (Linux before 5.3), a closed child is looked at every 2 ms.
            var descriptors = [
                pollfd(fd: channel, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errors, events: Int16(POLLIN), revents: 0),
                pollfd(fd: ended, events: Int16(POLLIN), revents: 0),
            ]
            let closed = channel < 0 && errors < 0
            _ = poll(&descriptors, 3, ended < 0 && closed ? 2 : 100)
            readMessages()
            readDiagnostics()
            if let memory = ProcessMemory(pid: pid) {
                exit.peakResidentBytes = max(exit.peakResidentBytes, memory.peakResidentBytes)
                exit.peakVirtualBytes = max(exit.peakVirtualBytes, memory.peakVirtualBytes)
                if let memoryLimit, memory.residentBytes > memoryLimit { kill(.memoryLimit) }
            }
            if exit.answer != nil && exit.killed == nil && !reaped {
                // Its answer is its last word: it is killed now, and once none of its threads can
                // run again (a compromised decoder that answers and goes on writes no more), its
                // answer is taken; the kernel's teardown of it is waited for in the background.
                if !exit.answered {
                    Glibc.kill(-pid, SIGKILL)
                    exit.answered = true
                }
                if awaitExiting(for: .seconds(1)) {
                    readDiagnostics()
                    exit.diagnostics = String(decoding: diagnostics, as: UTF8.self)
                    return exit
                }
            }
            if cancellation.isCancelled { kill(.cancelled) }
            if let deadline, ContinuousClock.now >= deadline { kill(.timeLimit) }

            var status: Int32 = 0
            var usage = rusage()
            let waited = wait4(pid, &status, WNOHANG, &usage)
            // ECHILD: reaped by the kernel (a process that ignores SIGCHLD); how it ended is lost.
            let lost = waited < 0 && errno == ECHILD
            guard waited == pid || lost else { continue }
            reaped = true
            // What it wrote before it ended is still in the socket and the pipe.
            readMessages()
            readDiagnostics()
            if lost {
                exit.answered = exit.answer != nil
            } else {
                exit.cpuSeconds = usage.cpuSeconds
                if status & 0x7F == 0 {
                    exit.status = (status >> 8) & 0xFF
                } else {
                    exit.signal = status & 0x7F
                }
            }
            exit.diagnostics = String(decoding: diagnostics, as: UTF8.self)
            return exit
        }
    }
}

extension ConversionChildProcess.Exit {
    /// How the child ended, for logs: `exited`, `exited N`, `signal N`, or the parent's reason
    /// to kill it (`time_limit`, `cancelled`, `memory_limit`, `malformed_message`).
    var end: String {
        if killed != nil, let killCause { return killCause }
        if answered { return "answered" }
        if let signal { return "signal \(signal)" }
        return status == 0 ? "exited" : "exited \(status ?? -1)"
    }

    /// Why the parent killed it or why it died, as `vmp3_conversions_killed_total`'s `cause`;
    /// `nil` if it exited by itself.
    var killCause: String? {
        switch killed {
        case .timeLimit: return "time_limit"
        case .cancelled: return "cancelled"
        case .memoryLimit: return "memory_limit"
        case .malformedMessage: return "malformed_message"
        case nil: break
        }
        switch signal {
        case nil: return nil
        case SIGXCPU: return "time_limit"
        case SIGSYS: return "forbidden_syscall"
        default: return "crashed"
        }
    }
}
