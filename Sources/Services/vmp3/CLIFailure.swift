import ArgumentParser
import Foundation
import VMP3Kit

/// A failure the CLI reports as `vmp3: error: MESSAGE` with a sysexits-style status.
struct CLIFailure: CustomStringConvertible {
    let description: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32) {
        self.description = message
        self.exitCode = exitCode
    }

    init(_ error: ConversionError) {
        let status: Int32 = switch error.code {
        case .invalidOption: 64  // EX_USAGE
        case .notMediaFile, .damagedInput, .noAudioStream, .unsupportedCodec, .unsupportedContainer,
             .unsupportedAudioFormat, .inputTooLong, .outputTooLarge: 65  // EX_DATAERR
        case .timeLimit: 75  // EX_TEMPFAIL
        case .inputNotFound, .inputUnreadable: 66  // EX_NOINPUT
        case .outputNotWritable: 73  // EX_CANTCREAT
        case .cancelled: 130  // as for SIGINT
        default: 1
        }
        self.init(error.message, exitCode: status)
    }
}

extension CLIFailure {
    /// Prints the message and leaves with the status (ArgumentParser's own exit always uses 1).
    static func exit(_ failure: CLIFailure) -> Never {
        // Every write of the CLI's is the throwing one: the non-throwing `write(_:)` traps when
        // the reader has gone (`vmp3 settings | head -1` under an ignored SIGPIPE).
        try? FileHandle.standardError.write(contentsOf: Data("vmp3: error: \(failure.description)\n".utf8))
        Foundation.exit(failure.exitCode)
    }
}
