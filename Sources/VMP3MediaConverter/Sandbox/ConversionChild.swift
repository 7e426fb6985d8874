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
import CConfinement
import CSandbox
import Logging
import Synchronization
import VMP3Core
import VMP3Sandbox

/// The conversion child: the program `vmp3-convert-child` is this and nothing else.
///
/// It is started by `SandboxedConverter` with `/dev/null` on descriptors 0 and 1, a pipe for
/// diagnostics on 2 and its socket to the parent on 3, and the parent's pid as its argument,
/// followed by `warm` for a child started ahead of need (`ConversionChildPool`), which converts
/// a clip of its own while it waits (``ChildWarmUp``).
/// It prepares what needs no request (its libraries are loaded by then), waits for one
/// `ConversionChildRequest`, which comes with the input and the (empty, temporary) output as
/// descriptors, puts them on 0 and 1, confines itself (``SandboxConfinement``; unless the request
/// asks for no confinement, `vmp3 convert --no-sandbox`), and only then
/// parses a byte of the input; it answers with progress reports and one result, and exits. It
/// opens no path and no socket after its start: after the confinement the kernel would refuse
/// both.
package enum ConversionChild {
    static let input: Int32 = 0
    static let output: Int32 = 1
    static let channel: Int32 = 3

    /// Exit statuses when there is no parent to answer.
    enum ExitStatus: Int32 {
        case noParent = 70
        /// No request (the parent let it go unused), or not one with the descriptors it needs.
        case noRequest = 71
    }

    package static func main() -> Never {
        let arguments = CommandLine.arguments
        guard (2...3).contains(arguments.count), let parent = pid_t(arguments[1]), vmp3_sandbox_die_with_parent(parent) == 0 else {
            exit(ExitStatus.noParent.rawValue)
        }
        // The allocator set for one conversion, before any thread allocates: two arenas, and
        // blocks of 128 KiB and more in mappings of their own, always (glibc raises that
        // threshold to the largest block freed: after a cover's video decoder freed its 1.4 MB
        // pictures, the conversion's own blocks came from the heap and stayed resident). With
        // glibc's defaults an hour's conversion peaked 8 MB higher (Docs/performance.md).
        ProcessAllocator.limitArenas()
        ProcessAllocator.mapLargeBlocks(from: 128 << 10)
        // What would open a file or need a system call the filter refuses happens now, before
        // the request: FFmpeg's settings, the JSON coders' first use, the status file kept open.
        FFmpegLogging.silence
        FFmpegAllocationLimit.set
        _ = try? MessageFraming.encode(ConversionChildReport.progress(processedSeconds: 0, totalSeconds: nil))
        let status = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        // The filter compiled now, installed later with one system call (a failure here is
        // reported by the installation, which compiles it again).
        _ = vmp3_confinement_prepare_filter()
        let reporter = Reporter()
        if arguments.count == 3 && arguments[2] == ConversionChildRequest.warmArgument {
            reporter.send(.ready(warmedUp: ChildWarmUp.run()))
        }

        let request: ConversionChildRequest
        do {
            let (frame, descriptors) = try MessageFraming.readFrame(fromSocket: channel, descriptorCapacity: 2)
            request = try MessageFraming.decode(ConversionChildRequest.self, from: frame)
            guard descriptors.count == (request.mode == .convert ? 2 : 1) else { exit(ExitStatus.noRequest.rawValue) }
            guard vmp3_sandbox_move_descriptor(descriptors[0], input) == 0 else { exit(ExitStatus.noRequest.rawValue) }
            if request.mode == .convert, vmp3_sandbox_move_descriptor(descriptors[1], output) != 0 {
                exit(ExitStatus.noRequest.rawValue)
            }
        } catch {
            exit(ExitStatus.noRequest.rawValue)
        }

        let confinement: SandboxConfinement.Outcome
        do {
            confinement = try SandboxConfinement.apply(request.confinement)
        } catch {
            reporter.send(.failed(code: ConversionError.Code.sandboxUnavailable.rawValue, message: error.message, option: nil))
            exit(0)
        }
        if request.confinement.enabled {
            reporter.send(.confined(namespaces: confinement.namespacesRefused))
        }

        if let attempt = request.escapeAttempt {
            reporter.send(.attempted(errno: attempt.run(reporter: reporter)))
            exit(0)
        }
        let answer = switch request.mode {
        case .convert: convert(request, reporter: reporter)
        case .probe: probe(request)
        }
        if status >= 0, let memory = ProcessMemory(statusDescriptor: status) {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            reporter.send(.usage(peakResidentBytes: memory.peakResidentBytes, peakVirtualBytes: memory.peakVirtualBytes, cpuSeconds: usage.cpuSeconds))
        }
        reporter.send(answer)
        exit(0)
    }

    private static func configuration(_ request: ConversionChildRequest) -> ConversionConfiguration {
        ConversionConfiguration(
            lfeMixLevel: request.lfeMixLevel,
            progressInterval: .milliseconds(request.progressIntervalMilliseconds),
            limits: request.limits
        )
    }

    private static func convert(_ request: ConversionChildRequest, reporter: Reporter) -> ConversionChildReport {
        var pipeline = ConversionPipeline(
            input: URL(fileURLWithPath: request.inputName),
            output: URL(fileURLWithPath: request.outputName),
            options: request.options,
            configuration: configuration(request),
            stop: StopCondition(timeLimit: request.limits.maxConversionTime),
            progress: { reporter.send(.progress(processedSeconds: $0.processedSeconds, totalSeconds: $0.totalSeconds)) },
            logger: .disabled
        )
        pipeline.descriptors = (input, output)
        pipeline.threadBudget = EncodingThreadBudget(total: max(1, request.threads))
        do {
            return .converted(try pipeline.run())
        } catch {
            return .failed(code: error.code.rawValue, message: error.message, option: error.option)
        }
    }

    private static func probe(_ request: ConversionChildRequest) -> ConversionChildReport {
        do {
            let stop = StopCondition(timeLimit: request.limits.maxConversionTime)
            let container = try MediaInput.open(MediaSource(descriptor: input, name: request.inputName), limits: request.limits, stop: stop)
            return .probed(container.mediaInfo())
        } catch {
            return .failed(code: error.code.rawValue, message: error.message, option: error.option)
        }
    }

    /// Sends reports on the channel; the pipeline's progress handler may call it from another
    /// thread than the one that sends the result.
    fileprivate final class Reporter: Sendable {
        private let lock = Mutex(())

        func send(_ report: ConversionChildReport) {
            lock.withLock { _ in
                // A parent that stopped listening has killed or will kill this process: nothing
                // to do about a failed write but to go on until then.
                guard let frame = try? MessageFraming.encode(report) else { return }
                try? MessageFraming.writeAll(frame, to: ConversionChild.channel)
            }
        }
    }
}

extension EscapeAttempt {
    /// Tries it (sending through `reporter` what it sends on its own); returns the `errno` it
    /// got, or 0 if it was let through.
    fileprivate func run(reporter: ConversionChild.Reporter) -> Int32 {
        switch self {
        case .open(let path):
            return vmp3_confinement_try_open(path)
        case .connect(let port):
            return vmp3_confinement_try_connect_loopback(port)
        case .exec(let path):
            return vmp3_confinement_try_exec(path)
        case .fork:
            return vmp3_confinement_try_fork()
        case .writePastOutputLimit:
            return vmp3_confinement_write_until_refused(ConversionChild.output)
        case .exhaustMemory:
            return vmp3_confinement_exhaust_memory()
        case .spin:
            vmp3_confinement_spin()
            return 0
        case .answerThenSpin:
            reporter.send(.attempted(errno: 0))
            vmp3_confinement_spin()
            return 0
        case .overstateUsage:
            reporter.send(.usage(peakResidentBytes: 0, peakVirtualBytes: 0, cpuSeconds: 1e300))
            return 0
        case .crash(let signal):
            vmp3_confinement_raise(signal)
            return 0
        }
    }
}
