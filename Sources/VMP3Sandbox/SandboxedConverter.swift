#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CSandbox
import Logging
import Metrics
import VMP3Core

/// The `AudioConverter` that decodes strangers' files in a confined child process: the default of
/// VMP3's services.
///
/// Each conversion or probe runs in a `vmp3-convert-child` (`ConversionChild`) of its own, which
/// gets the input and the output as open descriptors; a child started ahead of need and waiting
/// (``Configuration/warmChildren``) takes the next conversion. The child limits itself (address space, CPU seconds, file
/// size, no core files), enters new namespaces where the kernel allows, drops every capability
/// and installs a seccomp filter before it parses a byte (unless ``Configuration/confined`` is
/// `false`: then it only refuses to dump core): a decoder bug that gives an attacker
/// its code reaches no file, no socket and no other process, and none of the server's secrets,
/// which live in another address space.
///
/// The limits need no cooperation from FFmpeg: this process kills the child (SIGKILL) when its
/// wall time is up, its task is cancelled or its resident memory passes ``Configuration/memoryLimit``,
/// whatever the child is doing. Such ends, and a child that dies of a signal, are typed errors:
/// `ConversionError.Code.timeLimit`, `ConversionError.Code.cancelled`,
/// `ConversionError.Code.memoryLimit`, `ConversionError.Code.converterCrashed`. The output is
/// made here, under a temporary name, and renamed into place only after a child's success.
public struct SandboxedConverter: AudioConverter {
    /// Tuning that is the same for every conversion.
    public struct Configuration: Sendable, Hashable {
        /// What the child's pipeline is told: the same settings as an in-process conversion.
        public var conversion: ConversionConfiguration
        /// The most resident memory a child may use; more kills it (`memory_limit`). Its address
        /// space is limited to twice this. Default: 1 GiB.
        public var memoryLimit: Int64?
        /// Whether the child enters new user, network, mount and IPC namespaces where the kernel
        /// allows it (when it is ``confined``). Default: `true`.
        public var namespaces: Bool
        /// Whether the child confines itself at all (resource limits, namespaces, capabilities,
        /// the seccomp filter). `false` is for files one trusts, or a kernel or container that
        /// refuses the filter (`sandbox_unavailable`): the input is still decoded in another
        /// process, which this one still kills at the time and memory limits and on
        /// cancellation. Default: `true`.
        public var confined: Bool
        /// The child program. Default: `nil`, `vmp3-convert-child` beside the running program, else
        /// on `PATH`.
        public var childExecutable: String?
        /// How many children to keep started and waiting for a conversion, so that none waits
        /// for a child to start (about 30 ms: its libraries' loading, and the first conversion's
        /// set-up, which a waiting child does on a clip of its own). Each holds its libraries'
        /// memory while it waits, none of this process's descriptors or secrets, and is confined
        /// only once it has a request. `0`: each conversion starts its own, as a program that
        /// converts once (the `vmp3 convert` CLI) should. Default: 1.
        public var warmChildren: Int

        public init(
            conversion: ConversionConfiguration = ConversionConfiguration(),
            memoryLimit: Int64? = 1 << 30,
            namespaces: Bool = true,
            confined: Bool = true,
            childExecutable: String? = nil,
            warmChildren: Int = 1
        ) {
            self.conversion = conversion
            self.memoryLimit = memoryLimit
            self.namespaces = namespaces
            self.confined = confined
            self.childExecutable = childExecutable
            self.warmChildren = max(0, warmChildren)
        }
    }

    public let configuration: Configuration

    /// How long after its time limit a child is killed: its own clock usually stops it first,
    /// with a clean `time_limit` answer.
    static let killGrace: Duration = .milliseconds(500)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The child program's name.
    public static let childProgramName = "vmp3-convert-child"

    /// The child program this converter starts, or `nil` if there is none (then every conversion
    /// fails `sandbox_unavailable`): a service checks this when it starts.
    public var childExecutablePath: String? {
        if let path = configuration.childExecutable {
            return access(path, X_OK) == 0 ? path : nil
        }
        var candidates: [String] = []
        if let program = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: program).deletingLastPathComponent().appendingPathComponent(Self.childProgramName).path)
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where directory.hasPrefix("/") {
            candidates.append("\(directory)/\(Self.childProgramName)")
        }
        return candidates.first { access($0, X_OK) == 0 }
    }

    public func convert(
        _ input: URL,
        to output: URL,
        options: ConversionOptions,
        progress: (@Sendable (ConversionProgress) -> Void)?,
        logger: Logger
    ) async throws(ConversionError) -> ConversionResult {
        try options.validate()
        let request = makeRequest(.convert, input: input, output: output, options: options)
        return try await run(request, input: input, output: output, progress: progress, logger: logger) { answer, file throws(ConversionError) in
            guard case .converted(var result) = answer, let file else { throw Self.unexpected(answer) }
            guard result.byteCount == file.writtenSize, result.duration.isFinite, result.duration >= 0 else {
                throw ConversionError(code: .converterCrashed, message: "the converter's answer does not match the MP3 it wrote")
            }
            try file.commit()
            result.output = output
            return result
        }
    }

    public func probe(_ input: URL, logger: Logger) async throws(ConversionError) -> MediaInfo {
        let request = makeRequest(.probe, input: input, output: nil, options: ConversionOptions())
        return try await run(request, input: input, output: nil, progress: nil, logger: logger) { answer, _ throws(ConversionError) in
            guard case .probed(let info) = answer else { throw Self.unexpected(answer) }
            return info
        }
    }

    /// Package-internal: what the tests of the confinement ask a child to try; `started` is told
    /// the child's pid, for a look at it from outside.
    package func attempt(
        _ escape: EscapeAttempt, input: URL, output: URL, logger: Logger = .disabled, started: (@Sendable (pid_t) -> Void)? = nil
    ) async throws(ConversionError) -> Int32 {
        var request = makeRequest(.convert, input: input, output: output, options: ConversionOptions())
        request.escapeAttempt = escape
        return try await run(request, input: input, output: output, progress: nil, logger: logger, started: started) { answer, _ throws(ConversionError) in
            guard case .attempted(let code) = answer else { throw Self.unexpected(answer) }
            return code
        }
    }

    private func makeRequest(_ mode: ConversionChildRequest.Mode, input: URL, output: URL?, options: ConversionOptions) -> ConversionChildRequest {
        let limits = configuration.conversion.limits
        let sanitized = Self.runsUnderAddressSanitizer
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let confined = configuration.confined
        return ConversionChildRequest(
            mode: mode,
            inputName: input.path,
            outputName: output?.path ?? "",
            options: options,
            lfeMixLevel: configuration.conversion.lfeMixLevel,
            progressIntervalMilliseconds: Int(configuration.conversion.progressInterval.seconds * 1000),
            limits: limits,
            threads: 1,
            confinement: ConfinementSettings(
                addressSpaceBytes: sanitized || !confined ? nil : configuration.memoryLimit.map { UInt64($0) * 2 },
                // Every thread's CPU time counts: the wall-time limit on each core, and a little.
                cpuSeconds: confined ? limits.maxConversionTime.map { UInt64($0.seconds.rounded(.up)) * UInt64(cores) + 2 } : nil,
                fileSizeBytes: confined && mode == .convert ? limits.maxOutputBytes.map { UInt64($0) + 1 } : nil,
                namespaces: confined && configuration.namespaces,
                enabled: confined
            ),
            escapeAttempt: nil
        )
    }

    /// Starts a child for `request`, supervises it to its end and turns its answer into a value
    /// with `finish` (given the output file, for a conversion).
    private func run<T: Sendable>(
        _ request: ConversionChildRequest,
        input: URL,
        output: URL?,
        progress: (@Sendable (ConversionProgress) -> Void)?,
        logger: Logger,
        started: (@Sendable (pid_t) -> Void)? = nil,
        finish: @escaping @Sendable (ConversionChildReport?, ParentOutputFile?) throws(ConversionError) -> T
    ) async throws(ConversionError) -> T {
        guard let executable = childExecutablePath else {
            throw ConversionError(
                code: .sandboxUnavailable,
                message: "the sandboxed converter cannot run: \(configuration.childExecutable ?? Self.childProgramName + " beside this program") is not an executable"
            )
        }
        let limits = configuration.conversion.limits
        let memoryLimit = configuration.memoryLimit
        let environment = Self.childEnvironment
        let cancellation = CancellationFlag()
        let timings = JobTimings.current
        let warmChildren = configuration.warmChildren
        let work = { @Sendable () throws(ConversionError) -> T in
            let source = try ParentInputFile(url: input)
            let file = try output.map { url throws(ConversionError) in try ParentOutputFile(destination: url, maxSize: limits.maxOutputBytes) }
            let budget = EncodingThreadBudget.shared
            let threads = budget.take(request.options.threads)
            defer { budget.release(threads) }
            var request = request
            request.threads = threads.count
            var child: ConversionChildProcess
            if warmChildren > 0 {
                let taken = try ConversionChildPool.shared(executable: executable, environment: environment).take(keepingWarm: warmChildren)
                child = taken.child
                timings?.note("converter_child", taken.waited ? "waiting" : "started")
            } else {
                child = try ConversionChildProcess(executable: executable, environment: environment)
            }
            if !child.send(request, input: source.descriptor, output: file?.descriptor) {
                // The child died before its request (one that waited, killed from outside): one
                // started now takes its place. If that one cannot take it either, its end says why.
                child = try ConversionChildProcess(executable: executable, environment: environment)
                _ = child.send(request, input: source.descriptor, output: file?.descriptor)
            }
            started?(child.pid)
            let exit = child.supervise(
                deadline: limits.maxConversionTime.map { ContinuousClock.now + $0 + Self.killGrace },
                memoryLimit: memoryLimit,
                cancellation: cancellation
            ) { report in
                if case .progress(let processed, let total) = report, processed > 0 {
                    progress?(ConversionProgress(processedSeconds: processed, totalSeconds: total))
                } else if case .confined(let refused?) = report {
                    logger.info("the conversion child runs without namespaces: the kernel refused them", metadata: ["reason": "\(refused)"])
                }
            }
            let end = exit.end
            logger.debug("conversion child ended", metadata: [
                "pid": "\(child.pid)", "end": "\(end)", "peak_rss_bytes": "\(exit.peakResidentBytes)", "cpu_seconds": "\(exit.cpuSeconds)",
            ])
            timings?.note("converter_exit", end)
            timings?.note("converter_peak_rss_mb", String(exit.peakResidentBytes >> 20))
            timings?.note("converter_cpu_ms", String(Int((exit.cpuSeconds * 1000).rounded())))
            if let cause = exit.killCause {
                Counter(label: "vmp3_conversions_killed_total", dimensions: [("cause", cause)]).increment()
            }
            return try finish(try Self.answer(of: exit, limits: limits, memoryLimit: memoryLimit, addressSpace: request.confinement.addressSpaceBytes, logger: logger), file)
        }
        return try await withTaskCancellationHandler {
            await BlockingThreadPool.shared.run { Result { () throws(ConversionError) in try work() } }
        } onCancel: {
            cancellation.cancel()
        }.get()
    }

    /// Waits until every conversion child this process started has ended and been reaped (a
    /// child is let go at its answer and reaped in the background). A program that exits after
    /// converting, as the `vmp3` CLI does, awaits this first: then no child outlives it, and its
    /// children's memory and CPU time count in its own resource use.
    public static func awaitChildrenEnded() async {
        await BlockingThreadPool.shared.run { ConversionChildReaper.waitUntilAllReaped() }
    }

    /// Whether this build runs under AddressSanitizer (its test stage): then the child has no
    /// address-space limit (ASan reserves terabytes of shadow memory; the resident-memory limit
    /// still holds).
    package static var runsUnderAddressSanitizer: Bool { vmp3_sandbox_has_address_sanitizer() != 0 }

    /// The child's environment: none of the server's (its secrets are in there), only what
    /// keeps a crash a crash.
    static var childEnvironment: [String] {
        var environment = ["SWIFT_BACKTRACE=enable=no"]
        if runsUnderAddressSanitizer {
            // LeakSanitizer stops the world with ptrace, which the filter answers with SIGSYS.
            // ASan's own handlers would turn a crash into `exit(1)`: a signal stays a signal.
            environment.append("ASAN_OPTIONS=detect_leaks=0:symbolize=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0")
        }
        return environment
    }

    /// Codes a child may answer with: what its pipeline throws. Anything else (a child that says
    /// it was cancelled, or invents a code) is a child not to be believed.
    static let answerCodes: Set<ConversionError.Code> = [
        .inputNotFound, .inputUnreadable, .notMediaFile, .unsupportedContainer, .unsupportedAudioFormat, .damagedInput,
        .noAudioStream, .unsupportedCodec, .invalidOption, .outputNotWritable, .encodingFailed, .inputTooLong,
        .outputTooLarge, .timeLimit, .sandboxUnavailable,
    ]

    /// The child's answer, or the error its end makes.
    private static func answer(
        of exit: ConversionChildProcess.Exit, limits: ConversionLimits, memoryLimit: Int64?, addressSpace: UInt64?, logger: Logger
    ) throws(ConversionError) -> ConversionChildReport? {
        switch exit.killed {
        case .timeLimit:
            let seconds = limits.maxConversionTime.map { "\(Int($0.components.seconds))" } ?? "?"
            throw ConversionError(code: .timeLimit, message: "the conversion took longer than its limit of \(seconds) s")
        case .cancelled:
            throw .cancelled()
        case .memoryLimit:
            throw memoryError(memoryLimit)
        case .malformedMessage(let detail):
            throw ConversionError(code: .converterCrashed, message: "the converter sent a malformed message (\(detail))")
        case nil:
            break
        }
        // An allocation refused at the address-space limit fails in FFmpeg (ENOMEM, reported as
        // damaged or unreadable media), or traps or aborts in Swift: the peaks tell.
        let nearLimit = addressSpace.map { exit.peakVirtualBytes >= Int64($0) / 10 * 9 } ?? false
            || memoryLimit.map { exit.peakResidentBytes >= $0 / 10 * 9 } ?? false
        if case .failed(let rawCode, let message, let option)? = exit.answer {
            if nearLimit { throw memoryError(memoryLimit) }
            let code = ConversionError.Code(rawValue: rawCode)
            guard answerCodes.contains(code) else {
                throw ConversionError(code: .converterCrashed, message: "the converter answered with an unknown failure")
            }
            throw ConversionError(code: code, message: message, option: option)
        }
        // Killed by this process at its answer: the answer stands.
        if exit.answered, let answer = exit.answer { return answer }
        if let signal = exit.signal {
            if !exit.diagnostics.isEmpty {
                logger.warning("the conversion child died", metadata: ["signal": "\(signal)", "stderr": "\(exit.diagnostics.suffix(2000))"])
            }
            switch signal {
            case SIGXCPU:
                throw ConversionError(code: .timeLimit, message: "the conversion used more CPU time than its limit")
            case SIGXFSZ:
                throw ConversionError(code: .outputTooLarge, message: "the MP3 would be larger than its limit of \(limits.maxOutputBytes ?? 0) bytes")
            case SIGSYS:
                throw ConversionError(code: .converterCrashed, message: "the converter tried a system call the sandbox forbids: the input is hostile or triggers a decoder bug")
            default:
                if nearLimit { throw memoryError(memoryLimit) }
                throw ConversionError(code: .converterCrashed, message: "the converter crashed on this input (signal \(signal))")
            }
        }
        guard exit.status == 0, exit.answer != nil else {
            logger.warning("the conversion child ended without an answer", metadata: ["status": "\(exit.status ?? -1)", "stderr": "\(exit.diagnostics.suffix(2000))"])
            throw ConversionError(code: .converterCrashed, message: "the converter ended without an answer (status \(exit.status ?? -1))")
        }
        return exit.answer
    }

    private static func memoryError(_ limit: Int64?) -> ConversionError {
        ConversionError(code: .memoryLimit, message: "the conversion needed more memory than its limit of \((limit ?? 0) >> 20) MiB")
    }

    private static func unexpected(_ answer: ConversionChildReport?) -> ConversionError {
        ConversionError(code: .converterCrashed, message: "the converter gave an answer of the wrong kind")
    }
}
