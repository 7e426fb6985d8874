// Converts one file with VMP3Kit, embedded in your own program.
//
//     swift run ConvertFile INPUT [OUTPUT]
//
// The same converter the vmp3 CLI and the conversion service use: in process, no ffmpeg binary.
import Foundation
import VMP3Kit

func convert(_ arguments: [String]) async -> Int32 {
    guard let inputPath = arguments.first else {
        FileHandle.standardError.write(Data("usage: ConvertFile INPUT [OUTPUT]\n".utf8))
        return 64
    }
    let input = URL(fileURLWithPath: inputPath)
    let output = arguments.dropFirst().first.map(URL.init(fileURLWithPath:))
        ?? input.deletingPathExtension().appendingPathExtension("mp3")

    let converter = MediaConverter()
    let options = ConversionOptions(encoding: .constantBitRate(kbps: 192), tags: AudioTags(comment: "converted by VMP3Kit"))
    do {
        let info = try await converter.probe(input)
        print("\(input.lastPathComponent): \(info.formatName), \(info.streams.count) streams")
        let result = try await converter.convert(input, to: output, options: options) { progress in
            if let fraction = progress.fraction {
                print(String(format: "  %5.1f%%", fraction * 100))
            }
        }
        print("wrote \(result.output.path): \(result.duration) s, \(result.byteCount) bytes, \(Int(result.speed))× real time")
        return 0
    } catch {
        // `error` is a ConversionError: `code` says why, `message` says it for people.
        FileHandle.standardError.write(Data("\(error.code): \(error.message)\n".utf8))
        return 1
    }
}

exit(await convert(Array(CommandLine.arguments.dropFirst())))
