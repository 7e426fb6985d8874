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

    @Flag(name: .customLong("no-sandbox"), help: "Read the file in this process instead of a confined child: only for files you trust.")
    var noSandbox = false

    func run() async throws {
        let converter: any AudioConverter = noSandbox ? MediaConverter() : SandboxedConverter(configuration: .init(warmChildren: 0))
        let probed: Result<MediaInfo, ConversionError>
        do throws(ConversionError) {
            probed = .success(try await converter.probe(URL(fileURLWithPath: input)))
        } catch {
            probed = .failure(error)
        }
        await SandboxedConverter.awaitChildrenEnded()
        switch probed {
        case .success(let info):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
        case .failure(let error):
            CLIFailure.exit(CLIFailure(error))
        }
    }
}
