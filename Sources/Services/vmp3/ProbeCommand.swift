import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VMP3Core
import VMP3Sandbox

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Print the format, streams, duration and tags of a media file as JSON."
    )

    @Argument(help: "The file to describe.")
    var input: String

    @Flag(name: .customLong("no-sandbox"), help: "Read the file in a child that does not confine itself: only for files you trust, or where the kernel refuses the sandbox.")
    var noSandbox = false

    func run() async throws {
        let converter = SandboxedConverter(configuration: .init(confined: !noSandbox, warmChildren: 0))
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
