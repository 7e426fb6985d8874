import Foundation
import Testing
import VMP3Conformance
import VMP3TestSupport
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// Uploads and options written by an attacker: each of the ways they once broke the converter —
/// a trap, a read of the server's files, a memory blow-up, hours of work — now ends in a typed
/// error, within bounded memory and time, with nothing left behind.
@Suite struct HostileInputTests {
    let converter = MediaConverter()

    func scratchFile(_ name: String, _ contents: String) throws -> URL {
        let url = try makeScratchDirectory().appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url
    }

    /// Converts into a fresh folder; returns the error (or `nil` on success) and what the folder holds.
    ///
    /// Holds the memory-measurement lock: these inputs make FFmpeg allocate tens of megabytes,
    /// which a peak-memory check running alongside would count against the code it measures.
    func convert(_ input: URL, options: ConversionOptions = ConversionOptions(), with converter: MediaConverter? = nil) async throws -> (ConversionError?, [String]) {
        try await MemoryMeasurementLock.shared.exclusively {
            try await convertMeasured(input, options: options, with: converter)
        }
    }

    /// ``convert(_:options:with:)`` for a caller that holds the memory-measurement lock already.
    func convertMeasured(_ input: URL, options: ConversionOptions = ConversionOptions(), with converter: MediaConverter? = nil) async throws -> (ConversionError?, [String]) {
        let directory = try makeScratchDirectory()
        do throws(ConversionError) {
            _ = try await (converter ?? self.converter).convert(input, to: directory.appendingPathComponent("out.mp3"), options: options)
            return (nil, directoryContents(directory))
        } catch {
            return (error, directoryContents(directory))
        }
    }

    /// A FLAC of silence made by the ffmpeg CLI: `seconds` at `rate` Hz in blocks of `blockSize`
    /// samples; `piped` writes it as a stream, whose header then states no length.
    func silentFLAC(rate: Int, seconds: Int, blockSize: Int = 65535, piped: Bool = false) async throws -> URL {
        let url = try makeScratchDirectory().appendingPathComponent("silence-\(rate)Hz-\(seconds)s.flac")
        let arguments = ["-f", "lavfi", "-i", "anullsrc=r=\(rate):cl=mono", "-t", "\(seconds)", "-c:a", "flac", "-frame_size", "\(blockSize)"]
        if piped {
            let run = try await ExternalTool.run("ffmpeg", ["-nostdin", "-loglevel", "error"] + arguments + ["-f", "flac", "pipe:1"])
            #expect(run.status == 0, "\(run.stderr)")
            try run.stdout.write(to: url)
        } else {
            try await ExternalTool.ffmpeg(arguments + [url.path])
        }
        return url
    }

    // MARK: - Options

    @Test("options that trapped the process are refused as invalid options", arguments: [
        (ConversionOptions(duration: 0.00001), "duration"),
        (ConversionOptions(duration: 1e16), "duration"),
        (ConversionOptions(duration: -.zero), "duration"),
        (ConversionOptions(duration: .nan), "duration"),
        (ConversionOptions(duration: .infinity), "duration"),
        (ConversionOptions(start: 1e16), "start"),
        (ConversionOptions(start: .nan), "start"),
        (ConversionOptions(start: -1), "start"),
        (ConversionOptions(start: 86_400.5, duration: 1), "start"),
        (ConversionOptions(tags: AudioTags(title: String(repeating: "é", count: 600))), "title"),
    ])
    func trappingOptions(_ options: ConversionOptions, _ name: String) async throws {
        let (error, left) = try await convert(try await TestMedia.h264AACMP4.url, options: options)
        #expect(error?.code == .invalidOption)
        #expect(error?.option == name, "\(String(describing: error))")
        #expect(left.isEmpty)
    }

    @Test("the shortest duration allowed converts at the lowest MP3 rate without trapping")
    func shortestDuration() async throws {
        var options = ConversionOptions(duration: ConversionOptions.minimumDuration)
        options.sampleRate = 8000
        let directory = try makeScratchDirectory()
        let result = try await converter.convert(try await TestMedia.h264AACMP4.url, to: directory.appendingPathComponent("out.mp3"), options: options)
        #expect(result.duration == 0.001)
    }

    @Test("a start within the allowed day but past the source's end is an invalid option")
    func farStart() async throws {
        let (error, left) = try await convert(try await TestMedia.h264AACMP4.url, options: ConversionOptions(start: 86_000))
        #expect(error?.code == .invalidOption && error?.option == "start")
        #expect(left.isEmpty)
    }

    // MARK: - Formats that read other files

    /// A "file of the server's": an MPEG-TS segment with audio, which HLS and concat would read.
    static func secretSegment() async throws -> URL {
        let url = try makeScratchDirectory().appendingPathComponent("secret.ts")
        try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=1000:duration=3", "-c:a", "aac", url.path])
        return url
    }

    /// Playlist and reference formats, each pointing at a real media file on this machine.
    static func referenceFormats(target: String) -> [(name: String, contents: String)] {
        [
            ("upload.mp4", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\nfile://\(target)\n#EXT-X-ENDLIST\n"),
            ("upload-relative.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\n\(target)\n#EXT-X-ENDLIST\n"),
            ("upload.txt", "ffconcat version 1.0\nfile '\(target)'\n"),
            ("upload.mpd", """
                <?xml version="1.0"?>
                <MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT3S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
                <Period><AdaptationSet mimeType="audio/mp4"><Representation id="a" bandwidth="64000"><BaseURL>file://\(target)</BaseURL></Representation></AdaptationSet></Period></MPD>
                """),
            ("upload.sdp", "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 0\n"),
            ("upload.ffmeta", ";FFMETADATA1\ntitle=\(target)\n"),
            ("upload.srt", "1\n00:00:00,000 --> 00:00:02,000\nnot audio\n\n2\n00:00:02,000 --> 00:00:03,000\nstill not\n"),
        ]
    }

    @Test("playlists, reference formats and text are never opened: a typed error, and the audio they point at is not read")
    func referenceFormatsRefused() async throws {
        let target = try await Self.secretSegment().path
        for (name, contents) in Self.referenceFormats(target: target) {
            let (error, left) = try await convert(try scratchFile(name, contents))
            #expect(error?.code == .unsupportedContainer || error?.code == .notMediaFile, "\(name): \(String(describing: error))")
            #expect(left.isEmpty, "\(name)")
        }
        let (hls, _) = try await convert(try scratchFile("upload.mp4", Self.referenceFormats(target: target)[0].contents))
        #expect(hls?.code == .unsupportedContainer)
        #expect(hls?.message.contains("(hls)") == true, "\(String(describing: hls))")
    }

    @Test("an image is not a container VMP3 opens")
    func image() async throws {
        let png = try makeScratchDirectory().appendingPathComponent("still.png")
        try await ExternalTool.ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:duration=1", "-frames:v", "1", png.path])
        let (error, left) = try await convert(png)
        #expect(error?.code == .unsupportedContainer, "\(String(describing: error))")
        #expect(left.isEmpty)
    }

    @Test("even a demuxer allowed by mistake cannot open another file: every nested open is refused")
    func nestedOpensRefused() async throws {
        // The HLS, concat, DASH and SDP demuxers, forced past the allow-list, must fail to read
        // the media file or the network address they name, never return its streams. (Without
        // the refusal of nested opens and the empty protocol list, DASH and SDP do.)
        let target = try await Self.secretSegment().path
        for (name, contents) in Self.referenceFormats(target: target).prefix(5) {
            let file = try scratchFile(name, contents)
            // The HLS demuxer allocates tens of megabytes before it fails: not alongside a peak-memory check.
            let opened = try await MemoryMeasurementLock.shared.exclusively { () -> Result<Int, ConversionError> in
                // The clock starts once the lock is held.
                let stop = StopCondition(timeLimit: .seconds(30))
                return Result { () throws(ConversionError) in
                    try MediaInput.open(file, limits: ConversionLimits(), stop: stop, policy: .anyDemuxer).streamCount
                }
            }
            switch opened {
            case .success(let streams):
                #expect(streams == 0, "\(name) opened \(streams) streams through a nested open")
            case .failure(let error):
                #expect(error.code == .notMediaFile, "\(name): \(error)")
            }
        }
    }

    @Test("describing an upload's streams decodes no video: the only video decoding is a cover's one key frame (VideoFrameCoverTests)")
    func videoNeverDecoded() async throws {
        let clip = try await TestMedia.h264AACMP4.url
        let (pixelFormat, width) = try await MemoryMeasurementLock.shared.exclusively { () -> (String?, Int?) in
            let stop = StopCondition(timeLimit: .seconds(30))
            let opened = Result { () throws(ConversionError) in try MediaInput.open(clip, limits: ConversionLimits(), stop: stop) }
            let container = try opened.get()
            let video = try #require(container.mediaInfo().streams.first { $0.kind == .video })
            return (container.pixelFormatName(ofStream: video.index), video.width)
        }
        // The H.264 decoder would have found yuv420p; the header alone still gives the size.
        #expect(pixelFormat == nil, "a video decoder ran: \(pixelFormat ?? "")")
        #expect(width == 160)
    }

    // MARK: - Memory

    @Test("a FLAC at 2 Hz with 65,535-sample blocks is refused before the resampler sizes anything, in bounded memory")
    func lowRateFLAC() async throws {
        let flac = try await silentFLAC(rate: 2, seconds: 100_000)
        let size = try #require(FileManager.default.attributesOfItem(atPath: flac.path)[.size] as? Int)
        #expect(size < 20_000)
        let unlimited = MediaConverter(configuration: .init(limits: .unlimited))
        // The peak is the whole process's: measured again while tests alongside push it over.
        let (error, left, growth) = try await MemoryMeasurementLock.shared.exclusively {
            var outcome: (ConversionError?, [String]) = (nil, [])
            let growth = try await MemoryHighWaterMark.smallestPeakGrowth(under: 64 << 20) {
                outcome = try await convertMeasured(flac, with: unlimited)
            }
            return (outcome.0, outcome.1, growth)
        }
        #expect(error?.code == .unsupportedAudioFormat, "\(String(describing: error))")
        #expect(error?.message.contains("2 Hz") == true)
        #expect(left.isEmpty)
        #expect(growth < 64 << 20, "peak grew by \(growth >> 20) MiB")

        // With the default limits the declared 28 hours are refused first.
        let (limited, _) = try await convert(flac)
        #expect(limited?.code == .inputTooLong)
    }

    @Test("1 kHz FLAC in 65,535-sample blocks upsampled 48×: converted a slice at a time, memory flat")
    func largeFramesHighRatio() async throws {
        let hostile = try await silentFLAC(rate: 1000, seconds: 120)
        let options = ConversionOptions(channels: .stereo, sampleRate: 48000)
        let (error, left) = try await convert(hostile, options: options)
        #expect(error == nil, "\(String(describing: error))")
        #expect(left == ["out.mp3"])

        // The memory is measured in a process of its own, `vmp3 convert` (the same converter): the
        // tests' process's peak counts every test running alongside (seen: a decoded 40 s WAV
        // beside it, 19–36 MiB on all three tries). Started through `runMeasuringPeak`: a child
        // the tests' process spawns itself inherits that process's peak (seen: 56 MiB of growth
        // that was the tests', not vmp3's). Against the same audio in blocks of 4,096.
        let ordinary = try await silentFLAC(rate: 1000, seconds: 120, blockSize: 4096)
        let output = try makeScratchDirectory().appendingPathComponent("out.mp3").path
        func peak(_ input: URL) async throws -> Int64 {
            let run = try await ExternalTool.runMeasuringPeak(builtExecutable("vmp3"), [
                "convert", input.path, "-o", output, "--force", "--quiet", "--channels", "2", "--sample-rate", "48000",
            ])
            #expect(run.status == 0, "\(run.stderrTail)")
            return run.peakResidentBytes
        }
        let baseline = try await peak(ordinary)
        let growth = try await peak(hostile) - baseline
        // One frame upsampled whole would be 65,535 × 48 samples × 4 bytes × 2 channels = 25 MB,
        // and LAME's buffer for it 4 MB more.
        #expect(baseline > 0)
        #expect(growth < 16 << 20, "peak grew by \(growth >> 20) MiB over \(baseline >> 20) MiB")
    }

    @Test("float PCM holding NaN, infinities and huge values converts (LAME's assertions once aborted the process on them)")
    func nonFiniteSamples() async throws {
        // A mono 32-bit float WAV (format 3), one second at 44.1 kHz: a tone salted with bad values.
        let rate = 44_100
        var samples = (0..<rate).map { Float(sin(2 * Double.pi * 440 * Double($0) / Double(rate)) * 0.5) }
        for index in stride(from: 0, to: samples.count, by: 97) {
            samples[index] = [Float.nan, .infinity, -.infinity, 1e30, -1e38][index % 5]
        }
        func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        let data = samples.flatMap { le($0.bitPattern) }
        let header = Array("RIFF".utf8) + le(UInt32(36 + data.count)) + Array("WAVEfmt ".utf8) + le(UInt32(16))
            + le(UInt16(3)) + le(UInt16(1)) + le(UInt32(rate)) + le(UInt32(rate * 4)) + le(UInt16(4)) + le(UInt16(32))
            + Array("data".utf8) + le(UInt32(data.count))
        let wav = try makeScratchDirectory().appendingPathComponent("nan.wav")
        try Data(header + data).write(to: wav)
        let (error, left) = try await convert(wav)
        #expect(error == nil, "\(String(describing: error))")
        #expect(left == ["out.mp3"])
    }

    // MARK: - Limits

    @Test("an hour of silence in 14 KB, with its length declared, is refused at once over a 10-minute limit")
    func declaredHourOverLimit() async throws {
        let flac = try await silentFLAC(rate: 8000, seconds: 3600)
        let limited = MediaConverter(configuration: .init(limits: ConversionLimits(maxAudioDuration: .seconds(600))))
        var options = ConversionOptions(encoding: .constantBitRate(kbps: 320))
        options.sampleRate = 48000
        let (error, left) = try await convert(flac, options: options, with: limited)
        #expect(error?.code == .inputTooLong)
        #expect(error?.message.contains("3600.00 s long") == true, "\(String(describing: error))")
        #expect(left.isEmpty)
        // A trim to within the limit is fine.
        options.duration = 5
        let (trimmed, kept) = try await convert(flac, options: options, with: limited)
        #expect(trimmed == nil && kept == ["out.mp3"])
    }

    @Test("an hour of silence streamed without a declared length is stopped by counting the samples")
    func undeclaredHourOverLimit() async throws {
        let flac = try await silentFLAC(rate: 8000, seconds: 3600, piped: true)
        let limited = MediaConverter(configuration: .init(limits: ConversionLimits(maxAudioDuration: .seconds(60))))
        let (error, left) = try await convert(flac, with: limited)
        #expect(error?.code == .inputTooLong)
        #expect(error?.message.contains("goes on") == true, "\(String(describing: error))")
        #expect(left.isEmpty)
    }

    @Test("an MP3 over the size limit fails with output_too_large and leaves no partial file")
    func outputTooLarge() async throws {
        let flac = try await silentFLAC(rate: 8000, seconds: 3600)
        let limited = MediaConverter(configuration: .init(limits: ConversionLimits(maxOutputBytes: 1 << 20)))
        var options = ConversionOptions(encoding: .constantBitRate(kbps: 320))
        options.sampleRate = 48000
        let (error, left) = try await convert(flac, options: options, with: limited)
        #expect(error?.code == .outputTooLarge)
        #expect(left.isEmpty)
    }

    @Test("a conversion over its time limit stops with time_limit and leaves no partial file")
    func timeLimit() async throws {
        let flac = try await silentFLAC(rate: 8000, seconds: 3600)
        let limited = MediaConverter(configuration: .init(limits: ConversionLimits(maxConversionTime: .milliseconds(300))))
        let options = ConversionOptions(encoding: .constantBitRate(kbps: 320), sampleRate: 48000)
        let (error, left, elapsed) = try await MemoryMeasurementLock.shared.exclusively {
            let clock = ContinuousClock()
            let started = clock.now
            let (error, left) = try await convertMeasured(flac, options: options, with: limited)
            return (error, left, clock.now - started)
        }
        #expect(error?.code == .timeLimit)
        #expect(left.isEmpty)
        #expect(elapsed < .seconds(30))
    }

    @Test("the time limit also stops a probe, and reaches into FFmpeg's own reads")
    func stopConditionInsideFFmpeg() async throws {
        // A stop condition already past its deadline: the first read inside FFmpeg refuses.
        let stop = StopCondition(timeLimit: .zero)
        let clip = try await TestMedia.h264AACMP4.url
        do throws(ConversionError) {
            _ = try MediaInput.open(clip, limits: ConversionLimits(), stop: stop)
            Issue.record("opened past the deadline")
        } catch {
            #expect(error.code == .timeLimit, "\(error)")
        }
    }

    @Test("limits from the environment: numbers, 0 for none, a bad value named")
    func limitsFromEnvironment() throws {
        let limits = try ConversionLimits(settings: Settings([
            "VMP3_MAX_AUDIO_SECONDS": "600", "VMP3_MAX_OUTPUT_MB": "0", "VMP3_MAX_CONVERSION_SECONDS": "",
        ]))
        #expect(limits.maxAudioDuration == .seconds(600))
        #expect(limits.maxOutputBytes == nil)
        #expect(limits.maxConversionTime == ConversionLimits().maxConversionTime)
        for bad in ["-1", "ten", "1e3", "99999999999"] {
            #expect(throws: ConfigurationError.self) { try ConversionLimits(settings: Settings(["VMP3_MAX_OUTPUT_MB": bad])) }
        }
    }
}
