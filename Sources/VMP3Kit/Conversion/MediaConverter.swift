import CFFmpeg
import Dispatch
import Foundation
import Logging

/// The in-process ``AudioConverter``: FFmpeg's libavformat, libavcodec and libswresample decode,
/// libmp3lame encodes. No subprocess, no temporary WAV.
///
/// Each conversion runs on a thread of its own (the C libraries block), so it never holds up
/// Swift's cooperative thread pool; any number may run at once.
public struct MediaConverter: AudioConverter {
    /// Tuning that is the same for every conversion a converter runs.
    public struct Configuration: Sendable, Hashable {
        /// Gain of the LFE channel in a downmix (FFmpeg's default, 0, drops it). Default: 0.5 (−6 dB).
        public var lfeMixLevel: Double
        /// Shortest interval between two progress reports. Default: 100 ms.
        public var progressInterval: Duration

        public init(lfeMixLevel: Double = 0.5, progressInterval: Duration = .milliseconds(100)) {
            self.lfeMixLevel = lfeMixLevel
            self.progressInterval = progressInterval
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        FFmpegLogging.silence
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
            cancellation: cancellation, progress: progress, logger: logger
        )
        let result = await withTaskCancellationHandler {
            await Self.runOffPool { () throws(ConversionError) in try pipeline.run() }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }

    public func probe(_ input: URL, logger: Logger) async throws(ConversionError) -> MediaInfo {
        try await Self.runOffPool { () throws(ConversionError) in
            try MediaInput.open(input).mediaInfo()
        }.get()
    }

    /// Runs blocking C work on a Dispatch thread and resumes the caller with its result.
    private static func runOffPool<T: Sendable>(
        _ work: @escaping @Sendable () throws(ConversionError) -> T
    ) async -> Result<T, ConversionError> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: Result { () throws(ConversionError) in try work() })
            }
        }
    }
}

/// FFmpeg logs to standard error by default; a library must not write there. Failures reach the
/// caller as ``ConversionError`` messages instead.
enum FFmpegLogging {
    static let silence: Void = av_log_set_level(AV_LOG_QUIET)
}
