import ArgumentParser

@main
struct VMP3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmp3",
        abstract: "Convert the audio of videos to MP3.",
        subcommands: [ConvertCommand.self, ProbeCommand.self, ServeCommand.self, SettingsCommand.self, CreateBucketCommand.self]
    )
}
