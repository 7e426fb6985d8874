import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VMP3Kit

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Print the format, streams, duration and tags of a media file as JSON."
    )

    @Argument(help: "The file to describe.")
    var input: String

    func run() async throws {
        do {
            let info = try await MediaConverter().probe(URL(fileURLWithPath: input))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
        } catch let error as ConversionError {
            CLIFailure.exit(CLIFailure(error))
        }
    }
}
