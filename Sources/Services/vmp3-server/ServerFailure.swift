import Foundation

/// How the server commands give up on a bad setting, as the `vmp3` command does: one line,
/// `vmp3: error: MESSAGE`, on standard error, and a sysexits-style status.
enum ServerFailure {
    static func exit(_ message: String, status: Int32) -> Never {
        // The throwing write: the non-throwing one traps when the reader has gone.
        try? FileHandle.standardError.write(contentsOf: Data("vmp3: error: \(message)\n".utf8))
        Foundation.exit(status)
    }
}
