import VMP3Core

/// What the parent asks of a conversion child: the first and only message the parent sends.
///
/// The child receives its input and output as open descriptors, never as paths: the names here
/// only word its error messages as an in-process conversion would.
package struct ConversionChildRequest: Codable, Sendable {
    /// The child program's argument (after the parent's pid) that asks a child to warm up and
    /// wait for its request: the one thing said to a child outside a request.
    package static let warmArgument = "warm"

    package enum Mode: String, Codable, Sendable {
        case convert
        case probe
    }

    package var mode: Mode
    package var inputName: String
    package var outputName: String
    package var options: ConversionOptions
    package var lfeMixLevel: Double
    package var progressIntervalMilliseconds: Int
    package var limits: ConversionLimits
    /// Encoding threads the parent granted the child from the process's budget.
    package var threads: Int
    package var confinement: ConfinementSettings
    /// Tests only: once confined, the child tries this instead of converting and answers with
    /// ``ConversionChildReport/attempted(errno:)``, if it is still alive.
    package var escapeAttempt: EscapeAttempt?

    package init(
        mode: Mode, inputName: String, outputName: String, options: ConversionOptions, lfeMixLevel: Double,
        progressIntervalMilliseconds: Int, limits: ConversionLimits, threads: Int, confinement: ConfinementSettings,
        escapeAttempt: EscapeAttempt? = nil
    ) {
        self.mode = mode
        self.inputName = inputName
        self.outputName = outputName
        self.options = options
        self.lfeMixLevel = lfeMixLevel
        self.progressIntervalMilliseconds = progressIntervalMilliseconds
        self.limits = limits
        self.threads = threads
        self.confinement = confinement
        self.escapeAttempt = escapeAttempt
    }
}

/// What a test makes a confined child try (see ``ConversionChildRequest/escapeAttempt``).
package enum EscapeAttempt: Codable, Sendable, Hashable {
    case open(path: String)
    case connect(port: UInt16)
    case exec(path: String)
    case fork
    /// Writes to its output until the file size limit stops it.
    case writePastOutputLimit
    /// Allocates and touches memory until something stops it.
    case exhaustMemory
    /// Computes without end, reading nothing and calling nothing back.
    case spin
    /// Answers (`attempted(errno: 0)`) and then computes without end: a child that lies about
    /// being done.
    case answerThenSpin
    /// Reports a CPU time no process has (1e300 s) before its answer.
    case overstateUsage
    /// Sends itself `signal`.
    case crash(signal: Int32)
}

/// One message from a conversion child. The parent trusts none of it beyond the job it belongs
/// to: a compromised child can say anything, so every message is bounded in size and checked.
package enum ConversionChildReport: Codable, Sendable {
    /// A child started ahead of need (``ConversionChildPool``) is loaded and has converted its
    /// warm-up clip (`ChildWarmUp`; `warmedUp` is `false` if the clip did not convert): it
    /// waits for its request. Its first message, and only such a child's.
    case ready(warmedUp: Bool)
    /// The confinement is in place; `namespaces` is `nil` if they were entered, else why not.
    /// Not sent by a child asked for none (``ConfinementSettings/enabled`` `false`).
    case confined(namespaces: String?)
    case progress(processedSeconds: Double, totalSeconds: Double?)
    case converted(ConversionResult)
    case probed(MediaInfo)
    case failed(code: String, message: String, option: String?)
    /// Its peak resident memory and address space, sent before its answer: the parent's
    /// sampling every 100 ms can miss a peak just before the end; and the CPU seconds of all its
    /// threads, since the parent does not wait for its end (for logs only).
    case usage(peakResidentBytes: Int64, peakVirtualBytes: Int64, cpuSeconds: Double)
    /// The `errno` an ``EscapeAttempt`` got (0: it was let through).
    case attempted(errno: Int32)
}
