#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `vmp3 serve` and `vmp3 create-bucket` run in `vmp3-server`, a program of its own: this
/// executable converts, and loads nothing else (no HTTP server, SQLite or network clients, whose
/// code a conversion would map and touch). ``VMP3Command`` hands these commands over before
/// parsing; ``ServeHandOverCommand`` and ``CreateBucketHandOverCommand`` only list them in
/// `vmp3 --help`.
enum ServerProgram {
    /// The commands `vmp3-server` runs.
    static let commands: Set<String> = ["serve", "create-bucket"]

    /// Replaces this process with `vmp3-server` given `arguments` (the command and what followed
    /// it): the same process id, standard streams and environment, so that signals, exit status
    /// and output are the server's own. It is looked for beside this executable, then on `PATH`;
    /// if neither has it, exits with one line saying so (status 69, EX_UNAVAILABLE).
    static func exec(_ arguments: [String]) -> Never {
        let beside = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("vmp3-server").path }
        let argv = ["vmp3-server"] + arguments
        if let beside, access(beside, X_OK) == 0 {
            execute(beside, argv, searchingPath: false)
        }
        execute("vmp3-server", argv, searchingPath: true)
        let place = beside.map { " beside vmp3 (\($0))" } ?? ""
        CLIFailure.exit(CLIFailure(
            "`vmp3 \(arguments.first ?? "serve")` runs the vmp3-server program, which is not\(place) or on PATH: "
                + "build it with `swift build -c release --product vmp3-server`", exitCode: 69))
    }

    /// `execv` or `execvp`, which return only if they fail.
    private static func execute(_ program: String, _ argv: [String], searchingPath: Bool) {
        var pointers = argv.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        _ = searchingPath ? execvp(program, &pointers) : execv(program, &pointers)
    }
}
