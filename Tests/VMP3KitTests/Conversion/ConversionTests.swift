import Foundation
import VMP3TestSupport
import Synchronization
import Testing
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// Converts real media made by the ffmpeg CLI and checks the MP3 as a listener would: it decodes,
/// lasts as long as the source, has the channels and rate asked for, and sounds the same.
@Suite struct ConversionTests {
    let converter = MediaConverter()

    /// The length of one MP3 frame in seconds: the tolerance on durations.
    static func frameDuration(_ sampleRate: Int) -> Double { 1152 / Double(sampleRate) }

    func convert(_ media: TestMedia, options: ConversionOptions = ConversionOptions()) async throws -> (ConversionResult, DecodedAudio, URL) {
        let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
        let result = try await converter.convert(try await media.url, to: output, options: options)
        return (result, try await DecodedAudio(output), output)
    }

    @Test("each container and codec converts to an MP3 that keeps the length and the tone",
          arguments: [TestMedia.h264AACMP4, .opusMKV, .vorbisWebM, .pcmMOV])
    func containersAndCodecs(_ media: TestMedia) async throws {
        let source = try await DecodedAudio(try await media.url)
        let (result, mp3, output) = try await convert(media)

        #expect(try await ProbedFile(output).formatName == "mp3")
        #expect(try await ProbedFile(output).audioStream().codec == "mp3")
        #expect(mp3.sampleRate == source.sampleRate)
        #expect(mp3.channels.count == 2)
        #expect(abs(mp3.duration - source.duration) <= Self.frameDuration(mp3.sampleRate))
        #expect(abs(result.duration - source.duration) <= Self.frameDuration(mp3.sampleRate))
        #expect(abs(mp3.toneFrequency() - 440) < 1.5)
        #expect(result.byteCount == Int64(try Data(contentsOf: output).count))
    }

    @Test("5.1 downmixes to stereo with every channel audible on its side")
    func surroundDownmix() async throws {
        let (result, mp3, _) = try await convert(.surround51)
        #expect(result.channels == .stereo)
        #expect(mp3.channels.count == 2)
        #expect(mp3.sampleRate == 48_000)

        let (left, right) = (0, 1)
        let tones = TestMedia.surroundTones
        func level(_ tone: Int, _ channel: Int) -> Double { mp3.level(of: tones[tone], channel: channel, from: 0.2, to: 2.8) }
        let audible = 0.01
        let silent = 0.002
        // FL and BL on the left only, FR and BR on the right only, centre and LFE on both.
        for tone in [0, 4] {
            #expect(level(tone, left) > audible, "channel \(tone) reaches the left")
            #expect(level(tone, right) < silent, "channel \(tone) stays off the right")
        }
        for tone in [1, 5] {
            #expect(level(tone, right) > audible, "channel \(tone) reaches the right")
            #expect(level(tone, left) < silent, "channel \(tone) stays off the left")
        }
        for tone in [2, 3] {
            #expect(level(tone, left) > audible && level(tone, right) > audible, "channel \(tone) reaches both sides")
        }
        // Nothing clips: what the downmix adds up past full scale, the limiter brings under it.
        #expect(mp3.channels.allSatisfy { $0.allSatisfy { abs($0) <= 1 } })
    }

    @Test("mono 8 kHz stays mono at 8 kHz")
    func mono8k() async throws {
        let source = try await DecodedAudio(try await TestMedia.mono8k.url)
        let (result, mp3, _) = try await convert(.mono8k)
        #expect(result.channels == .mono && mp3.channels.count == 1)
        #expect(result.sampleRate == 8000 && mp3.sampleRate == 8000)
        #expect(abs(mp3.duration - source.duration) <= Self.frameDuration(8000))
        #expect(abs(mp3.toneFrequency() - 440) < 1.5)
    }

    @Test("96 kHz becomes the nearest MP3 rate, 48 kHz, at the same pitch and length")
    func highSampleRate() async throws {
        let source = try await DecodedAudio(try await TestMedia.flac96k.url)
        #expect(source.sampleRate == 96_000)
        let (result, mp3, _) = try await convert(.flac96k)
        #expect(result.sampleRate == 48_000 && mp3.sampleRate == 48_000)
        #expect(abs(mp3.duration - source.duration) <= Self.frameDuration(48_000))
        #expect(abs(mp3.toneFrequency() - 440) < 1.5)
    }

    @Test("channels and sample rate are as asked")
    func channelsAndRateAsAsked() async throws {
        let (result, mp3, _) = try await convert(.h264AACMP4, options: ConversionOptions(channels: .mono, sampleRate: 22_050))
        #expect(result.channels == .mono && mp3.channels.count == 1)
        #expect(result.sampleRate == 22_050 && mp3.sampleRate == 22_050)
        #expect(abs(mp3.toneFrequency() - 440) < 1.5)
        #expect(abs(mp3.duration - 3) <= Self.frameDuration(22_050) + 0.03)

        let (upmixed, stereo, _) = try await convert(.mono8k, options: ConversionOptions(channels: .stereo))
        #expect(upmixed.channels == .stereo && stereo.channels.count == 2)
        // Mono spreads to both sides equally, at -3 dB as FFmpeg's upmix does (the source's amplitude is 0.125).
        let (left, right) = (stereo.level(of: 440, channel: 0), stereo.level(of: 440, channel: 1))
        #expect(left > 0.03 && right > 0.03)
        #expect(abs(left - right) < 0.001)
    }

    @Test("constant bit rate writes that bit rate and an Info frame; VBR writes a Xing frame")
    func bitRateModes() async throws {
        let (cbr, _, cbrFile) = try await convert(.h264AACMP4, options: ConversionOptions(encoding: .constantBitRate(kbps: 128)))
        #expect(cbr.encoding == .constantBitRate(kbps: 128))
        let cbrFrame = try firstMP3Frame(of: cbrFile)
        #expect(cbrFrame.contains(ascii: "Info") && cbrFrame.contains(ascii: "LAME"))
        let bitRate = try await ProbedFile(cbrFile).audioStream().bitRate
        #expect(bitRate == 128_000)

        let (vbr, _, vbrFile) = try await convert(.h264AACMP4, options: ConversionOptions(encoding: .variableBitRate(quality: 0)))
        #expect(vbr.encoding == .variableBitRate(quality: 0))
        let vbrFrame = try firstMP3Frame(of: vbrFile)
        #expect(vbrFrame.contains(ascii: "Xing") && vbrFrame.contains(ascii: "LAME"))
    }

    @Test("a bit rate above what a low sample rate allows settles on the highest allowed")
    func bitRateClampedForLowRates() async throws {
        let (result, _, output) = try await convert(.mono8k, options: ConversionOptions(encoding: .constantBitRate(kbps: 320)))
        guard case .constantBitRate(let kbps) = result.encoding else {
            Issue.record("expected constant bit rate, got \(result.encoding)")
            return
        }
        #expect(kbps <= 64, "MPEG-2.5 at 8 kHz stops at 64 kbps")
        #expect(try await ProbedFile(output).audioStream().bitRate == kbps * 1000)
    }

    @Test("trim starts and ends where asked")
    func trim() async throws {
        // The source is 440 Hz until 2 s, then 880 Hz; keep 1.5 s to 2.5 s.
        let (result, mp3, _) = try await convert(.twoTones, options: ConversionOptions(start: 1.5, duration: 1.0))
        #expect(abs(result.duration - 1.0) < 0.001)
        #expect(abs(mp3.duration - 1.0) <= Self.frameDuration(44_100))
        // The change of tone sits at 0.5 s in the output, within 20 ms.
        #expect(mp3.level(of: 440, channel: 0, from: 0.05, to: 0.48) > 0.15)
        #expect(mp3.level(of: 880, channel: 0, from: 0.05, to: 0.48) < 0.01)
        #expect(mp3.level(of: 880, channel: 0, from: 0.52, to: 0.95) > 0.15)
        #expect(mp3.level(of: 440, channel: 0, from: 0.52, to: 0.95) < 0.01)

        let (tail, tailAudio, _) = try await convert(.twoTones, options: ConversionOptions(start: 3))
        #expect(abs(tail.duration - 1.0) <= Self.frameDuration(44_100))
        #expect(abs(tailAudio.toneFrequency(from: 0.1, to: 0.9) - 880) < 2)

        let (head, headAudio, _) = try await convert(.twoTones, options: ConversionOptions(duration: 1.25))
        #expect(abs(head.duration - 1.25) < 0.001)
        #expect(abs(headAudio.duration - 1.25) <= Self.frameDuration(44_100))
    }

    @Test("the source's tags are copied, overridable, and can be left out")
    func tags() async throws {
        let (copied, _, copiedFile) = try await convert(.tagged)
        let expected = TestMedia.taggedTags
        #expect(copied.tags == AudioTags(title: expected["title"], artist: expected["artist"], album: expected["album"], date: expected["date"], comment: expected["comment"]))
        let written = try await ProbedFile(copiedFile).tags
        for key in ["title", "artist", "album", "date", "comment"] {
            #expect(written[key] == expected[key], "\(key)")
        }
        #expect(try Data(contentsOf: copiedFile).prefix(3) == Data("ID3".utf8))

        let (_, _, overriddenFile) = try await convert(.tagged, options: ConversionOptions(tags: AudioTags(title: "New Title", comment: "")))
        let overridden = try await ProbedFile(overriddenFile).tags
        #expect(overridden["title"] == "New Title")
        #expect(overridden["artist"] == expected["artist"])
        #expect(overridden["comment"] == nil)

        // With neither tags nor a cover (the clip's video would give one), no ID3 tag at all.
        let (bare, _, bareFile) = try await convert(.tagged, options: ConversionOptions(copiesSourceTags: false, cover: CoverArt.none))
        #expect(bare.tags.isEmpty)
        #expect(try await ProbedFile(bareFile).tags["title"] == nil)
        #expect(try Data(contentsOf: bareFile).prefix(3) != Data("ID3".utf8))
        #expect(try firstMP3Frame(of: bareFile).contains(ascii: "LAME"))
    }

    @Test("an audio stream chosen by index is the one converted")
    func streamSelection() async throws {
        let (first, firstAudio, _) = try await convert(.twoAudioStreams)
        #expect(first.sourceStreamIndex == 1)
        #expect(abs(firstAudio.toneFrequency() - 440) < 1.5)
        let (second, secondAudio, _) = try await convert(.twoAudioStreams, options: ConversionOptions(audioStreamIndex: 2))
        #expect(second.sourceStreamIndex == 2)
        #expect(abs(secondAudio.toneFrequency() - 880) < 2)
    }

    @Test("progress rises to 1 as a fraction of the source's duration")
    func progress() async throws {
        let reports = ProgressRecorder()
        let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
        let fast = MediaConverter(configuration: .init(progressInterval: .zero))
        _ = try await fast.convert(try await TestMedia.h264AACMP4.url, to: output, options: ConversionOptions(), progress: { reports.append($0) })
        let values = reports.values
        #expect(values.count > 10)
        #expect(values.map(\.processedSeconds) == values.map(\.processedSeconds).sorted())
        #expect(values.allSatisfy { abs(($0.totalSeconds ?? 0) - 3) < 0.05 })
        #expect(values.last?.fraction == 1)
    }

    @Test("an existing file at the destination is replaced on success")
    func replacesExistingOutput() async throws {
        let directory = try makeScratchDirectory()
        let output = directory.appendingPathComponent("out.mp3")
        try Data("old".utf8).write(to: output)
        _ = try await converter.convert(try await TestMedia.h264AACMP4.url, to: output)
        #expect(try await ProbedFile(output).formatName == "mp3")
        #expect(directoryContents(directory) == ["out.mp3"])
    }

    @Test("probe lists the streams, duration and tags")
    func probe() async throws {
        let info = try await converter.probe(try await TestMedia.tagged.url)
        #expect(info.formatName.contains("mp4"))
        #expect(abs((info.duration ?? 0) - 3) < 0.1)
        #expect(info.tags["title"] == TestMedia.taggedTags["title"])
        #expect(info.streams.map(\.kind) == [.video, .audio])
        #expect(info.streams[1].codec == "aac" && info.streams[1].sampleRate == 44_100)
        #expect(info.streams[0].width == 160 && info.streams[0].height == 120)
        #expect(info.defaultAudioStreamIndex == 1)

        let surround = try await converter.probe(try await TestMedia.surround51.url)
        #expect(surround.streams.first?.channels == 6)
        #expect(surround.streams.first?.channelLayout == "5.1")
    }
}

/// Collects progress reports from the converter's thread.
final class ProgressRecorder: Sendable {
    private let storage = Mutex<[ConversionProgress]>([])

    func append(_ progress: ConversionProgress) {
        storage.withLock { $0.append(progress) }
    }

    var values: [ConversionProgress] { storage.withLock { $0 } }
}

/// Cancels a conversion's task from the conversion's own progress handler, once it reports
/// `fraction` or more: the conversion is then surely under way and cannot finish before the
/// cancellation, however the machine schedules the test (a sleep before `cancel()` cannot promise
/// that: a starved run has slept past a whole conversion).
final class CancelAtProgress: Sendable {
    let fraction: Double
    let reports = ProgressRecorder()
    private let task = Mutex<Task<ConversionResult, any Error>?>(nil)
    private let taskSet = DispatchSemaphore(value: 0)
    private let beforeCancelling: (@Sendable (ConversionProgress) -> Void)?
    private let reached = Mutex(false)

    /// - Parameter beforeCancelling: called once, on the conversion's thread, with the report that
    ///   reached `fraction`, before the task is cancelled (to look at the conversion under way).
    init(at fraction: Double, beforeCancelling: (@Sendable (ConversionProgress) -> Void)? = nil) {
        self.fraction = fraction
        self.beforeCancelling = beforeCancelling
    }

    /// The task to cancel; give it as soon as it is made.
    func cancels(_ task: Task<ConversionResult, any Error>) {
        self.task.withLock { $0 = task }
        taskSet.signal()
    }

    /// The progress handler. Waits, the first time it reaches `fraction`, until the task is known.
    func report(_ progress: ConversionProgress) {
        reports.append(progress)
        guard (progress.fraction ?? 0) >= fraction else { return }
        let first = reached.withLock { reached in
            defer { reached = true }
            return !reached
        }
        if first { beforeCancelling?(progress) }
        taskSet.wait()
        taskSet.signal()
        task.withLock { $0 }?.cancel()
    }
}
