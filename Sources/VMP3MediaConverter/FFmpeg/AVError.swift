import VMP3Core
import CFFmpeg

/// A negative return code from one of FFmpeg's libraries, with FFmpeg's own text for it.
///
/// Internal: the conversion pipeline maps it to a ``ConversionError`` that names the cause.
struct AVError: Error, Equatable {
    /// The negative `AVERROR` value.
    let code: Int32

    init(_ code: Int32) {
        self.code = code
    }

    /// FFmpeg's description of the code (`av_strerror`).
    var message: String {
        var buffer = [CChar](repeating: 0, count: 256)
        if av_strerror(code, &buffer, buffer.count) < 0 {
            return "unknown FFmpeg error \(code)"
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The POSIX `errno` value wrapped by the code, if it wraps one.
    var posixErrno: Int32? {
        let value = vmp3_errno_from_averror(code)
        return value > 0 && value < 4096 ? value : nil
    }

    static let tryAgain = AVError(vmp3_averror_eagain())
    static let endOfFile = AVError(vmp3_averror_eof())
    static let invalidData = AVError(vmp3_averror_invaliddata())
    static let outOfMemory = AVError(vmp3_averror_enomem())
    static let streamNotFound = AVError(vmp3_averror_stream_not_found())
    static let decoderNotFound = AVError(vmp3_averror_decoder_not_found())
    static let patchWelcome = AVError(vmp3_averror_patchwelcome())
    /// Returned when an interrupt or read callback asked to stop (`AVERROR_EXIT`).
    static let exit = AVError(vmp3_averror_exit())
}

/// FFmpeg's "no timestamp" marker (`AV_NOPTS_VALUE`).
let avNoTimestamp: Int64 = vmp3_av_nopts_value()

extension AVRational {
    /// The rational as a `Double`, or `nil` when the denominator is zero.
    var doubleValue: Double? {
        den == 0 ? nil : Double(num) / Double(den)
    }
}
