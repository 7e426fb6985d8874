import ArgumentParser
import VMP3Kit

@main
struct VMP3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmp3",
        abstract: "Convert the audio of videos to MP3.",
        subcommands: [ConvertCommand.self, ProbeCommand.self, ServeCommand.self, SettingsCommand.self, CreateBucketCommand.self]
    )

    /// ArgumentParser's own entry point, after the allocator is told to keep two arenas: that
    /// must come before any thread allocates (`ProcessAllocator`).
    static func main() async {
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
