import ArgumentParser
import VMP3Kit

/// The server half of the `vmp3` command: `vmp3 serve` and `vmp3 create-bucket` hand over to this
/// program, which `vmp3` finds beside itself. It answers as `vmp3` (its help, its errors), since
/// that is the command people type.
///
/// Why a program of its own: it links Hummingbird, SwiftNIO, SQLite and the network clients,
/// which a conversion never uses. In the `vmp3` executable they made a conversion map and touch
/// 5 MB more of code (Docs/performance.md).
struct VMP3ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmp3",
        abstract: "Serve the VMP3 HTTP API, or create its S3 bucket (run through `vmp3 serve` and `vmp3 create-bucket`).",
        subcommands: [ServeCommand.self, CreateBucketCommand.self]
    )
}

@main
enum VMP3Server {
    /// ArgumentParser's entry point, after the allocator is told to keep two arenas: that must
    /// come before any thread allocates (`ProcessAllocator`).
    static func main() async {
        ProcessAllocator.limitArenas()
        await VMP3ServerCommand.main()
    }
}
