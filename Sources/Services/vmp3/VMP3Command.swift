import ArgumentParser
import VMP3Core

@main
struct VMP3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmp3",
        abstract: "Convert the audio of videos to MP3.",
        subcommands: [ConvertCommand.self, ProbeCommand.self, ServeHandOverCommand.self, SettingsCommand.self, CreateBucketHandOverCommand.self]
    )

    /// ArgumentParser's own entry point, after the allocator is told to keep two arenas: that
    /// must come before any thread allocates (`ProcessAllocator`). `serve` and `create-bucket`
    /// go to `vmp3-server` first (``ServerProgram``).
    static func main() async {
        // The server's commands are `vmp3-server`'s: handed over before anything else runs.
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let command = arguments.first, ServerProgram.commands.contains(command) {
            ServerProgram.exec(arguments)
        }
        ProcessAllocator.limitArenas()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
