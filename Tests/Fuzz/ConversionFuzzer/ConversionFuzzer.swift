// The conversion fuzzer: arbitrary bytes through the converter's whole path — open, probe,
// demux, decode, resample, encode — as an upload would take it.
//
// Built by scripts/fuzz.sh with `-sanitize=fuzzer,address -D VMP3_FUZZ`: libFuzzer then drives
// `ConversionFuzzer.run` (through LLVMFuzzerRunDriver) and AddressSanitizer/LeakSanitizer
// report memory errors and leaks. In an ordinary build it is a replayer instead:
// `vmp3-fuzz-conversion FILE...` runs each file through the same function and prints the outcome,
// for reproducing a finding without the fuzzer (or under valgrind).
import Dispatch
import Foundation
import VMP3Kit

enum ConversionFuzzer {
    /// Tight limits: a mutated header that declares hours of audio must not slow the fuzzer down,
    /// and the time limit is what a hang would run into first.
    static let converter = MediaConverter(configuration: .init(limits: ConversionLimits(
        maxAudioDuration: .seconds(600), maxOutputBytes: 32 << 20, maxConversionTime: .seconds(10)
    )))

    static let directory: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("vmp3-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// The options for an input: chosen by its last byte, so that one input always takes the
    /// same path and the fuzzer can reach each option's code by mutating that byte.
    static func options(for bytes: UnsafeRawBufferPointer) -> ConversionOptions {
        var options = ConversionOptions()
        switch (bytes.last ?? 0) % 6 {
        case 0: break
        case 1: options.encoding = .constantBitRate(kbps: 128); options.channels = .mono
        case 2: options.sampleRate = 8000; options.start = 0.25
        case 3: options.duration = 0.5; options.channels = .stereo; options.sampleRate = 48000
        case 4: options.encoding = .variableBitRate(quality: 9); options.audioStreamIndex = 1
        default: options.copiesSourceTags = false; options.start = 0.1; options.duration = 0.3
        }
        return options
    }

    /// Probes and converts `bytes`. Any outcome but a crash, a leak, a hang or an untyped error
    /// is fine; an untyped error cannot happen (the API throws only `ConversionError`).
    static func run(_ bytes: UnsafeRawBufferPointer) -> String {
        let input = directory.appendingPathComponent("input")
        let output = directory.appendingPathComponent("output.mp3")
        _ = FileManager.default.createFile(atPath: input.path, contents: Data(bytes))
        let options = options(for: bytes)
        let outcome = blocking {
            var summary: String
            do throws(ConversionError) {
                let info = try await converter.probe(input)
                summary = "probe: \(info.formatName), \(info.streams.count) streams; "
            } catch {
                summary = "probe: \(error.code); "
            }
            do throws(ConversionError) {
                let result = try await converter.convert(input, to: output, options: options)
                summary += "convert: \(result.byteCount) bytes, \(result.duration) s"
            } catch {
                summary += "convert: \(error.code)"
            }
            return summary
        }
        try? FileManager.default.removeItem(at: output)
        return outcome
    }

    /// Runs async work from the fuzzer's own (non-cooperative) thread and waits for it.
    static func blocking(_ work: @escaping @Sendable () async -> String) -> String {
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Task {
            box.value = await work()
            semaphore.signal()
        }
        semaphore.wait()
        return box.value
    }
}

/// Carries the result from the task to the waiting thread; the semaphore orders the write
/// before the read, which is why unchecked Sendable is safe here.
final class ResultBox: @unchecked Sendable {
    var value = ""
}

#if VMP3_FUZZ
/// libFuzzer's entry for a program that has a `main` of its own (SwiftPM names every
/// executable's entry point, so libFuzzer's `main` cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in
            _ = ConversionFuzzer.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
            return 0
        })
    }
}
#else
@main
struct Replay {
    static func main() {
        let files = CommandLine.arguments.dropFirst()
        if files.isEmpty {
            FileHandle.standardError.write(Data("usage: vmp3-fuzz-conversion FILE...\n".utf8))
            exit(64)
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("\(file): cannot read")
                continue
            }
            let outcome = data.withUnsafeBytes { ConversionFuzzer.run($0) }
            print("\(file): \(outcome)")
        }
    }
}
#endif
