#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// Turns the audio of a media file into an MP3.
///
/// The contract every implementation keeps:
/// - On success the MP3 is complete at `output`; on any failure or cancellation nothing new is
///   left there (an existing file at `output` is replaced only on success).
/// - Every failure is a ``ConversionError`` whose ``ConversionError/code`` names the cause.
/// - Cancelling the calling task stops the conversion promptly with ``ConversionError/Code/cancelled``.
/// - `progress`, if given, is called from the converter's thread, repeatedly, with non-decreasing values.
public protocol AudioConverter: Sendable {
    /// Converts the audio of `input` into an MP3 at `output`.
    func convert(
        _ input: URL,
        to output: URL,
        options: ConversionOptions,
        progress: (@Sendable (ConversionProgress) -> Void)?,
        logger: Logger
    ) async throws(ConversionError) -> ConversionResult

    /// Describes the format, streams and tags of `input` without decoding it.
    func probe(_ input: URL, logger: Logger) async throws(ConversionError) -> MediaInfo
}

extension AudioConverter {
    /// Converts with default options, no progress reports and no logging.
    public func convert(
        _ input: URL,
        to output: URL,
        options: ConversionOptions = ConversionOptions(),
        progress: (@Sendable (ConversionProgress) -> Void)? = nil
    ) async throws(ConversionError) -> ConversionResult {
        try await convert(input, to: output, options: options, progress: progress, logger: Logger.disabled)
    }

    /// Probes without logging.
    public func probe(_ input: URL) async throws(ConversionError) -> MediaInfo {
        try await probe(input, logger: Logger.disabled)
    }
}

extension Logger {
    /// A logger that drops everything: the default when a caller passes none.
    package static let disabled = Logger(label: "vmp3.disabled") { _ in SwiftLogNoOpLogHandler() }
}
