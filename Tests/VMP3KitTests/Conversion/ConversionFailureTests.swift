import Foundation
import Synchronization
import VMP3TestSupport
import Testing
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// Bad input and bad options: each ends in a typed error naming the cause, and leaves nothing at
/// the destination (no MP3, no hidden partial file).
@Suite struct ConversionFailureTests {
    let converter = MediaConverter()

    /// Converts `input` into a fresh folder and returns the error and what the folder holds after.
    func failure(
        _ input: URL, options: ConversionOptions = ConversionOptions(), output name: String = "out.mp3"
    ) async throws -> (ConversionError, [String]) {
        let directory = try makeScratchDirectory()
        do throws(ConversionError) {
            let result = try await converter.convert(input, to: directory.appendingPathComponent(name), options: options)
            Issue.record("expected a failure, got \(result)")
        } catch {
            return (error, directoryContents(directory))
        }
        throw ExternalTool.Failure(description: "no failure")
    }

    func file(_ name: String, contents: Data) throws -> URL {
        let url = try makeScratchDirectory().appendingPathComponent(name)
        try contents.write(to: url)
        return url
    }

    /// The first `fraction` of `media`'s bytes.
    func truncated(_ media: TestMedia, to fraction: Double) async throws -> URL {
        let data = try Data(contentsOf: try await media.url)
        return try file("truncated-" + media.rawValue, contents: data.prefix(Int(Double(data.count) * fraction)))
    }

    @Test("a video with no audio stream") func noAudio() async throws {
        let (error, left) = try await failure(try await TestMedia.videoOnly.url)
        #expect(error.code == .noAudioStream)
        #expect(error.message.contains("no audio stream"))
        #expect(left.isEmpty)
    }

    @Test("a zero-byte file") func empty() async throws {
        let (error, left) = try await failure(try file("empty.mp4", contents: Data()))
        #expect(error.code == .notMediaFile)
        #expect(error.message.contains("empty"))
        #expect(left.isEmpty)
    }

    @Test("an MP4 truncated before its index (moov at the end)") func truncatedIndex() async throws {
        let (error, left) = try await failure(try await truncated(.h264AACMP4, to: 0.5))
        #expect(error.code == .notMediaFile)
        #expect(left.isEmpty)
    }

    @Test("an MP4 truncated in its media data (moov at the front)", arguments: [0.4, 0.9, 0.98])
    func truncatedData(_ fraction: Double) async throws {
        let (error, left) = try await failure(try await truncated(.h264AACFastStartMP4, to: fraction))
        #expect(error.code == .damagedInput)
        #expect(error.message.contains("truncated"))
        #expect(left.isEmpty)
    }

    @Test("random bytes named .mp4") func randomBytes() async throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = Data((0..<200_000).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let (error, left) = try await failure(try file("random.mp4", contents: bytes))
        #expect(error.code == .notMediaFile)
        #expect(left.isEmpty)
    }

    @Test("a text file", arguments: ["notes.txt", "notes.mp4", "notes"])
    func textFile(_ name: String) async throws {
        let text = String(repeating: "This is not a video, just some lines of text.\n", count: 200)
        let (error, left) = try await failure(try file(name, contents: Data(text.utf8)))
        #expect(error.code == .notMediaFile)
        #expect(left.isEmpty)
    }

    @Test("a path that does not exist") func missing() async throws {
        let (error, left) = try await failure(URL(fileURLWithPath: "/nonexistent/video.mp4"))
        #expect(error.code == .inputNotFound)
        #expect(error.message.contains("/nonexistent/video.mp4"))
        #expect(left.isEmpty)
    }

    @Test("a directory as input") func directoryInput() async throws {
        let (error, left) = try await failure(try makeScratchDirectory())
        #expect(error.code == .inputUnreadable)
        #expect(left.isEmpty)
    }

    @Test("an output directory that cannot be written")
    func unwritableOutput() async throws {
        let input = try await TestMedia.h264AACMP4.url
        // The kernel refuses new files in /sys even to root (for whom chmod is no barrier).
        var unwritable = [URL(fileURLWithPath: "/sys/out.mp3"), URL(fileURLWithPath: "/nonexistent-dir/out.mp3")]
        // A path whose "directory" is a regular file.
        unwritable.append(try file("plain-file", contents: Data("x".utf8)).appendingPathComponent("out.mp3"))
        if getuid() != 0 {
            let locked = try makeScratchDirectory()
            chmod(locked.path, 0o555)
            unwritable.append(locked.appendingPathComponent("out.mp3"))
        }
        for output in unwritable {
            do throws(ConversionError) {
                _ = try await converter.convert(input, to: output)
                Issue.record("converting to \(output.path) succeeded")
            } catch {
                #expect(error.code == .outputNotWritable, "\(output.path): \(error)")
                #expect(!FileManager.default.fileExists(atPath: output.path))
            }
        }
    }

    @Test("a directory at the output path")
    func directoryOutput() async throws {
        let directory = try makeScratchDirectory()
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("out.mp3"), withIntermediateDirectories: false)
        let input = try await TestMedia.h264AACMP4.url
        do throws(ConversionError) {
            _ = try await converter.convert(input, to: directory.appendingPathComponent("out.mp3"))
            Issue.record("converting onto a directory succeeded")
        } catch {
            #expect(error.code == .outputNotWritable)
        }
        #expect(directoryContents(directory) == ["out.mp3"])
    }

    @Test("options out of range name the option and its range", arguments: [
        (ConversionOptions(encoding: .constantBitRate(kbps: 16)), "bitrate"),
        (ConversionOptions(encoding: .constantBitRate(kbps: 400)), "bitrate"),
        (ConversionOptions(encoding: .variableBitRate(quality: 10)), "quality"),
        (ConversionOptions(encoding: .variableBitRate(quality: -1)), "quality"),
        (ConversionOptions(sampleRate: 44_000), "sample-rate"),
        (ConversionOptions(start: -1), "start"),
        (ConversionOptions(start: .nan), "start"),
        (ConversionOptions(duration: 0), "duration"),
        (ConversionOptions(audioStreamIndex: -1), "audio-stream"),
        // Stream 0 is the video, and stream 5 does not exist.
        (ConversionOptions(audioStreamIndex: 0), "audio-stream"),
        (ConversionOptions(audioStreamIndex: 5), "audio-stream"),
        // The clip is 3 s long.
        (ConversionOptions(start: 3.5), "start"),
    ])
    func invalidOptions(_ options: ConversionOptions, _ option: String) async throws {
        let (error, left) = try await failure(try await TestMedia.h264AACMP4.url, options: options)
        #expect(error.code == .invalidOption)
        #expect(error.option == option)
        #expect(error.message.contains("allowed"))
        #expect(left.isEmpty)
    }

    @Test("a failed conversion leaves an existing file at the destination untouched")
    func keepsExistingOutputOnFailure() async throws {
        let directory = try makeScratchDirectory()
        let output = directory.appendingPathComponent("out.mp3")
        try Data("previous result".utf8).write(to: output)
        let input = try await TestMedia.videoOnly.url
        do throws(ConversionError) {
            _ = try await converter.convert(input, to: output)
            Issue.record("expected a failure")
        } catch {
            #expect(error.code == .noAudioStream)
        }
        #expect(try Data(contentsOf: output) == Data("previous result".utf8))
        #expect(directoryContents(directory) == ["out.mp3"])
    }

    @Test("cancelling half-way stops promptly and leaves nothing")
    func cancellation() async throws {
        let input = try await TestMedia.longAudio.url
        let directory = try makeScratchDirectory()
        let output = directory.appendingPathComponent("out.mp3")
        // Cancelled from its own progress handler once it reports 20 %, so that it cannot finish
        // first however the threads are scheduled; a partial file is on disk at that moment.
        let underWay = Mutex<(partialFile: Bool, at: ContinuousClock.Instant)?>(nil)
        let canceller = CancelAtProgress(at: 0.2) { progress in
            let partial = directoryContents(directory).contains { $0.hasSuffix(".partial") }
            underWay.withLock { $0 = (partial && (progress.fraction ?? 0) < 1, ContinuousClock.now) }
        }
        let reports = canceller.reports
        let converter = MediaConverter(configuration: .init(progressInterval: .milliseconds(10)))
        let task = Task {
            try await converter.convert(input, to: output, options: ConversionOptions(), progress: canceller.report)
        }
        canceller.cancels(task)
        do {
            let result = try await task.value
            Issue.record("expected cancellation, got \(result)")
        } catch let error as ConversionError {
            #expect(error.code == .cancelled)
        }
        let stopped = ContinuousClock.now
        let cancelled = try #require(underWay.withLock { $0 }, "the conversion never reported 20 %")
        #expect(cancelled.partialFile, "no partial file while converting")
        // A stop, not a finish: the conversion never reported its end. The time is only a bound
        // against hanging: it is well within a packet or two normally, but the sanitized stage on
        // a loaded machine has taken 13 s to let both threads run again.
        #expect((reports.values.last?.fraction ?? 1) < 1)
        #expect(stopped - cancelled.at < .seconds(60))
        #expect(directoryContents(directory).isEmpty)
    }

    @Test("a task cancelled before it starts converts nothing")
    func cancelledBeforeStart() async throws {
        let directory = try makeScratchDirectory()
        let input = try await TestMedia.h264AACMP4.url
        let task = Task {
            try? await Task.sleep(for: .seconds(10))
            return try await MediaConverter().convert(input, to: directory.appendingPathComponent("out.mp3"))
        }
        task.cancel()
        await #expect(throws: ConversionError.self) { try await task.value }
        #expect(directoryContents(directory).isEmpty)
    }

    @Test("probe reports the same typed errors", arguments: [
        ("/nonexistent/video.mp4", ConversionError.Code.inputNotFound),
        ("/", ConversionError.Code.inputUnreadable),
    ])
    func probeErrors(_ path: String, _ code: ConversionError.Code) async throws {
        do throws(ConversionError) {
            _ = try await converter.probe(URL(fileURLWithPath: path))
            Issue.record("probe of \(path) succeeded")
        } catch {
            #expect(error.code == code)
        }
    }

    @Test("probe of a non-media file is notMediaFile") func probeNotMedia() async throws {
        let url = try file("notes.txt", contents: Data("plain text\n".utf8))
        await #expect { try await converter.probe(url) } throws: { ($0 as? ConversionError)?.code == .notMediaFile }
    }
}
