#if canImport(Glibc)
import VMP3Core
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Opens an input for conversion or probing and turns every way that can fail into a
/// ``ConversionError`` that names the cause.
///
/// The file is opened by VMP3 and read through ``FileInput``; the demuxer is chosen by FFmpeg's
/// probe from the bytes alone and must be one the policy allows (``InputFormatPolicy/mediaContainers``).
enum MediaInput {
    /// Below this probe score FFmpeg itself warns "misdetection possible" (`AVPROBE_SCORE_RETRY`):
    /// such a guess is more likely noise than media.
    static let minimumProbeScore = 26

    /// - Parameter policy: which demuxers may open the file (tests widen it to check that the
    ///   next line of defence, the refusal of every nested open, holds on its own).
    static func open(
        _ url: URL,
        limits: ConversionLimits,
        stop: StopCondition,
        policy: InputFormatPolicy = .mediaContainers
    ) throws(ConversionError) -> InputContainer {
        try open(MediaSource(url), limits: limits, stop: stop, policy: policy)
    }

    static func open(
        _ source: MediaSource,
        limits: ConversionLimits,
        stop: StopCondition,
        policy: InputFormatPolicy = .mediaContainers
    ) throws(ConversionError) -> InputContainer {
        let path = source.name
        let input: FileInput
        do {
            if let descriptor = source.descriptor {
                input = try FileInput(descriptor: descriptor, stop: stop)
            } else {
                input = try FileInput(path: path, stop: stop)
            }
        } catch {
            switch error {
            case .system(let code) where code == ENOENT || code == ENOTDIR:
                throw ConversionError(code: .inputNotFound, message: "\(path): no such file")
            case .system(let code):
                throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(String(cString: strerror(code)))")
            case .directory:
                throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): it is a directory")
            case .empty:
                throw ConversionError(code: .notMediaFile, message: "\(path) is empty")
            case .outOfMemory:
                throw ConversionError(code: .inputUnreadable, message: "cannot read \(path): out of memory")
            }
        }

        let format: ProbedFormat
        do {
            format = try input.probeFormat(maxBytes: limits.probeBytes)
        } catch {
            throw failure(error, input: input, stop: stop, path: path)
        }
        if format.score < minimumProbeScore {
            throw ConversionError(
                code: .notMediaFile,
                message: "\(path) is not a media file FFmpeg can read (format guessed with confidence \(format.score)/100)"
            )
        }
        guard policy.allows(format.name) else {
            throw ConversionError(
                code: .unsupportedContainer,
                message: "\(path) is in a format VMP3 does not convert (\(format.name)): only audio and video containers are opened, not playlists, images, text or references to other files"
            )
        }
        do {
            return try InputContainer(input: input, format: format, policy: policy, limits: limits, stop: stop)
        } catch {
            throw failure(error, input: input, stop: stop, path: path)
        }
    }

    /// The error for an FFmpeg failure while opening: the stop reason if the conversion was
    /// stopped, `input_unreadable` if reading the file failed, else the file is not usable media.
    private static func failure(_ error: AVError, input: FileInput, stop: StopCondition, path: String) -> ConversionError {
        if let reason = stop.reason, error == .exit {
            return stop.error(reason)
        }
        if let code = input.ioError {
            return ConversionError(code: .inputUnreadable, message: "cannot read \(path): \(String(cString: strerror(code)))")
        }
        return ConversionError(
            code: .notMediaFile,
            message: "\(path) is not a media file FFmpeg can read, or it is damaged (\(error.message))"
        )
    }
}

/// The input of a conversion: a path the converter opens, or (in the conversion child) a
/// descriptor it was given, read from its start at every open.
struct MediaSource: Sendable {
    /// The path, or for a descriptor the name errors call the file by.
    var name: String
    var descriptor: Int32?

    init(_ url: URL) {
        name = url.path
        descriptor = nil
    }

    init(descriptor: Int32, name: String) {
        self.name = name
        self.descriptor = descriptor
    }
}
