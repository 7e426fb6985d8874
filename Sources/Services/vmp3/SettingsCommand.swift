import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VMP3Core

/// `vmp3 settings`: every setting of the VMP3 programs, its default and what it means; with
/// `--markdown`, the table of Docs/operations.md.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List the settings (environment variables) of vmp3 serve and the four services."
    )

    @Flag(help: "Print the Markdown table of Docs/operations.md.")
    var markdown = false

    func run() {
        if markdown {
            StandardStream.output.write(Setting.markdownTable)
            return
        }
        var text = ""
        for setting in Setting.all {
            text += setting.name + (setting.flag.map { "  (\($0))" } ?? "") + "\n"
            text += "    default: \(setting.defaultDescription.replacing("`", with: ""))\n"
            text += "    read by: \(setting.programs.sorted().map(\.rawValue).joined(separator: ", "))\n"
            text += "    \(setting.meaning.replacing("`", with: ""))\n"
        }
        StandardStream.output.write(text)
    }
}
