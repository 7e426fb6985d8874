import VMP3Core
import CFFmpeg
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// The in-process `AudioConverter`: FFmpeg's libavformat, libavcodec and libswresample decode,
/// libmp3lame encodes. No subprocess, no temporary WAV.
///
/// Each conversion runs on a thread of its own (the C libraries block), so it never holds up
/// Swift's cooperative thread pool; any number may run at once.
public struct MediaConverter: AudioConverter {
    /// Tuning that is the same for every conversion a converter runs.
    public typealias Configuration = ConversionConfiguration

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        FFmpegLogging.silence
        FFmpegAllocationLimit.set
    }

    public func convert(
        _ input: URL,
        to output: URL,
        options: ConversionOptions,
        progress: (@Sendable (ConversionProgress) -> Void)?,
        logger: Logger
    ) async throws(ConversionError) -> ConversionResult {
        let cancellation = CancellationFlag()
        let pipeline = ConversionPipeline(
            input: input, output: output, options: options, configuration: configuration,
            stop: StopCondition(cancellation: cancellation, timeLimit: configuration.limits.maxConversionTime),
            progress: progress, logger: logger
        )
        let result = await withTaskCancellationHandler {
            await Self.runOffPool { () throws(ConversionError) in try pipeline.run() }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }

    public func probe(_ input: URL, logger: Logger) async throws(ConversionError) -> MediaInfo {
        let limits = configuration.limits
        let cancellation = CancellationFlag()
        return try await withTaskCancellationHandler {
            await Self.runOffPool { () throws(ConversionError) in
                let stop = StopCondition(cancellation: cancellation, timeLimit: limits.maxConversionTime)
                return try MediaInput.open(input, limits: limits, stop: stop).mediaInfo()
            }
        } onCancel: {
            cancellation.cancel()
        }.get()
    }

    /// Runs blocking C work on a thread of the blocking pool (never Swift's cooperative pool,
    /// nor a Dispatch queue whose few threads other work waits for) and resumes the caller with
    /// its result.
    private static func runOffPool<T: Sendable>(
        _ work: @escaping @Sendable () throws(ConversionError) -> T
    ) async -> Result<T, ConversionError> {
        await BlockingThreadPool.shared.run { Result { () throws(ConversionError) in try work() } }
    }
}

/// FFmpeg logs to standard error by default; a library must not write there. Failures reach the
/// caller as ``ConversionError`` messages instead.
enum FFmpegLogging {
    static let silence: Void = av_log_set_level(AV_LOG_QUIET)
}

/// The largest block libavutil allocates at once (`av_max_alloc`; FFmpeg's default is 2 GiB).
/// A crafted header that asks a demuxer or decoder for a huge table or frame gets an allocation
/// failure (a typed error) instead of taking the process's memory. Audio needs nothing near this:
/// the largest legitimate blocks are index tables of long files, tens of megabytes. It is set for
/// the whole process, once, when the first ``MediaConverter`` is made.
enum FFmpegAllocationLimit {
    static let bytes = 256 << 20
    static let set: Void = av_max_alloc(bytes)
}
