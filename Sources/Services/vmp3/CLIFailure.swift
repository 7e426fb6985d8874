import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VMP3Core

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
             .unsupportedAudioFormat, .inputTooLong, .outputTooLarge, .memoryLimit, .converterCrashed: 65  // EX_DATAERR
        case .timeLimit: 75  // EX_TEMPFAIL
        case .inputNotFound, .inputUnreadable: 66  // EX_NOINPUT
        case .outputNotWritable: 73  // EX_CANTCREAT
        case .cancelled: 130  // as for SIGINT
        case .sandboxUnavailable: 69  // EX_UNAVAILABLE
        default: 1
        }
        self.init(error.message, exitCode: status)
    }
}

extension CLIFailure {
    /// Prints the message and leaves with the status (ArgumentParser's own exit always uses 1).
    static func exit(_ failure: CLIFailure) -> Never {
        StandardStream.error.write("vmp3: error: \(failure.description)\n")
        exitProcess(failure.exitCode)
    }
}

/// `exit(3)` by a name that `CLIFailure.exit` does not hide.
private func exitProcess(_ status: Int32) -> Never { exit(status) }
