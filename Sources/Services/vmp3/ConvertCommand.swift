import ArgumentParser
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import VMP3Core
import VMP3Sandbox

struct ConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert the audio of a video (or any media file FFmpeg reads) to MP3.",
        discussion: """
        Without --bitrate or --quality, encodes VBR quality 2 (LAME's "standard" preset). \
        Exit status: 0 done, 64 bad option, 65 input is not usable media (or over --max-length / \
        --max-size, or it crashed or overran the memory of the confined decoder), 66 input missing or \
        unreadable, 69 the confined decoder cannot start, 73 output not writable, 75 over \
        --time-limit, 130 interrupted, 1 anything else. The input is decoded in a child process \
        (vmp3-convert-child, beside vmp3), confined (no files, no network) unless --no-sandbox is \
        given, and killed at its limits either way.
        """
    )

    @Argument(help: "The file to convert.")
    var input: String

    @Flag(
        name: .customLong("no-sandbox"),
        help: "Decode in a child that does not confine itself (no seccomp filter, namespaces or resource limits): only for files you trust, or where the kernel refuses the sandbox."
    )
    var noSandbox = false

    @Option(name: .shortAndLong, help: "Where to write the MP3 (default: INPUT with the extension .mp3).")
    var output: String?

    @Option(help: "Constant bit rate in kbps, 32–320.")
    var bitrate: Int?

    @Option(help: "VBR quality, 0 (best) to 9 (smallest).")
    var quality: Int?

    @Option(help: "1 for mono, 2 for stereo (default: mono for mono sources, else stereo).")
    var channels: Int?

    @Option(name: .customLong("sample-rate"), help: "Output sample rate in Hz (default: the source's, or the nearest MP3 allows).")
    var sampleRate: Int?

    @Option(help: "Seconds to skip at the start.")
    var start: Double?

    @Option(help: "Seconds of audio to keep.")
    var duration: Double?

    @Option(name: .customLong("audio-stream"), help: "Index of the audio stream to convert (see `vmp3 probe`).")
    var audioStream: Int?

    @Option(help: "Title tag (default: the source's).") var title: String?
    @Option(help: "Artist tag (default: the source's).") var artist: String?
    @Option(help: "Album tag (default: the source's).") var album: String?
    @Option(help: "Date tag (default: the source's).") var date: String?
    @Option(help: "Comment tag (default: the source's).") var comment: String?

    @Option(help: "The MP3's cover picture: auto (the video's own picture, else a frame a tenth of the way in), at:SECONDS (the key frame at or before that time), none, or a JPEG or PNG file (default: auto).")
    var cover: String?

    @Option(parsing: .unconditional, help: "Normalise to this integrated loudness in LUFS, -40 to -5 (EBU R128; e.g. -16 for podcasts; default: the source's level).")
    var loudness: Double?

    @Option(help: "Threads that encode at once, 1–64: a long input is cut into segments encoded side by side and joined seamlessly (default: the free cores; one for inputs under 18 s).")
    var threads: Int?

    @Option(name: .customLong("max-length"), help: "Refuse to convert more than this many seconds of audio; 0 for no limit (default: 21600, 6 hours).")
    var maxLength: Int64?

    @Option(name: .customLong("max-size"), help: "Refuse to write an MP3 larger than this many MiB; 0 for no limit (default: 1024).")
    var maxSize: Int64?

    @Option(name: .customLong("time-limit"), help: "Stop a conversion that runs longer than this many seconds; 0 for no limit (default: 3600).")
    var timeLimit: Int64?

    @Flag(name: .customLong("no-source-tags"), help: "Do not copy tags from the source.")
    var noSourceTags = false

    @Flag(name: [.short, .long], help: "Replace OUTPUT if it exists.")
    var force = false

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Log what the converter does to standard error.")
    var verbose = false

    func validate() throws {
        if bitrate != nil && quality != nil {
            throw ValidationError("--bitrate and --quality exclude each other: pick constant or variable bit rate.")
        }
        if let channels, channels != 1 && channels != 2 {
            throw ValidationError("--channels must be 1 (mono) or 2 (stereo), not \(channels).")
        }
        for (name, value) in [("--max-length", maxLength), ("--max-size", maxSize), ("--time-limit", timeLimit)] {
            if let value, !(0...Int64(Int32.max)).contains(value) {
                throw ValidationError("\(name) must be 0 (no limit) or more, up to \(Int32.max), not \(value).")
            }
        }
    }

    func run() async throws {
        let logger = CLILogging.logger(verbose: verbose)
        let inputURL = URL(fileURLWithPath: input)
        let outputURL = URL(fileURLWithPath: output ?? inputURL.deletingPathExtension().appendingPathExtension("mp3").path)
        if outputURL.standardizedFileURL == inputURL.standardizedFileURL {
            CLIFailure.exit(CLIFailure("the output would replace the input \(input): name another with --output", exitCode: 64))
        }
        if !force && FileManager.default.fileExists(atPath: outputURL.path) {
            CLIFailure.exit(CLIFailure("\(outputURL.path) exists: pass --force to replace it", exitCode: 73))
        }

        let bar = (!quiet && isatty(STDERR_FILENO) == 1) ? ProgressBar() : nil
        let converter = SandboxedConverter(configuration: .init(conversion: .init(limits: limits), confined: !noSandbox, warmChildren: 0))
        let options = conversionOptions
        var progress: (@Sendable (ConversionProgress) -> Void)? = nil
        if let bar {
            progress = { bar.update($0) }
        }
        let task = Task { () -> Result<ConversionResult, ConversionError> in
            do throws(ConversionError) {
                return .success(try await converter.convert(inputURL, to: outputURL, options: options, progress: progress, logger: logger))
            } catch {
                return .failure(error)
            }
        }
        // Ctrl-C cancels the conversion, which removes its partial output, instead of killing the process.
        let interrupt = InterruptHandler { task.cancel() }
        let result = await task.value
        interrupt.remove()
        bar?.clear()
        await SandboxedConverter.awaitChildrenEnded()

        switch result {
        case .success(let result):
            if !quiet { print(Summary(result).line) }
        case .failure(let error):
            CLIFailure.exit(CLIFailure(error))
        }
    }

    /// The library's default limits with the ones given on the command line in their place.
    private var limits: ConversionLimits {
        var limits = ConversionLimits()
        if let maxLength { limits.maxAudioDuration = maxLength == 0 ? nil : .seconds(maxLength) }
        if let maxSize { limits.maxOutputBytes = maxSize == 0 ? nil : maxSize << 20 }
        if let timeLimit { limits.maxConversionTime = timeLimit == 0 ? nil : .seconds(timeLimit) }
        return limits
    }

    private var conversionOptions: ConversionOptions {
        var options = ConversionOptions()
        if let bitrate { options.encoding = .constantBitRate(kbps: bitrate) }
        if let quality { options.encoding = .variableBitRate(quality: quality) }
        options.channels = channels.flatMap(ConversionOptions.Channels.init(rawValue:))
        options.sampleRate = sampleRate
        options.start = start
        options.duration = duration
        options.audioStreamIndex = audioStream
        options.tags = AudioTags(title: title, artist: artist, album: album, date: date, comment: comment)
        options.copiesSourceTags = !noSourceTags
        options.cover = cover.map(CoverArt.init(argument:))
        options.loudness = loudness
        options.threads = threads
        return options
    }
}
