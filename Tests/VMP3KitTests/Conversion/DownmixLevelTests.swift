import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport

/// A downmix as loud as its source: the standard coefficients without normalisation (as
/// `ffmpeg -ac 2` to MP3), and no clipping where the channels add up past full scale.
@Suite struct DownmixLevelTests {
    static let converter = MediaConverter()

    /// The RMS level in dB over every channel of `audio`, leaving out its first and last 0.25 s.
    static func level(_ audio: DecodedAudio) -> Double {
        let skip = audio.sampleRate / 4
        var sum = 0.0, count = 0
        for channel in audio.channels where channel.count > 2 * skip {
            for sample in channel[skip..<(channel.count - skip)] { sum += Double(sample * sample) }
            count += channel.count - 2 * skip
        }
        return 10 * log10(sum / Double(max(1, count)))
    }

    /// Makes `name` with ffmpeg from a lavfi `source` and an audio filter, as AAC in MP4 (a film's
    /// sound: a float decoder, as the measurements were made with).
    static func make(_ name: String, in directory: URL, source: String, filter: String) async throws -> URL {
        let url = directory.appendingPathComponent(name)
        let run = try await ExternalTool.run("ffmpeg", [
            "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-af", filter, "-c:a", "aac", "-b:a", "320k", url.path,
        ])
        guard run.status == 0 else { throw ExternalTool.Failure(description: run.stderr) }
        return url
    }

    /// The level of VMP3's MP3 of `input` and of `ffmpeg -ac CHANNELS`'s, both CBR 192 kbps.
    static func levels(_ input: URL, channels: ConversionOptions.Channels) async throws -> (vmp3: Double, ffmpeg: Double, peak: Float) {
        let directory = input.deletingLastPathComponent()
        let ours = directory.appendingPathComponent(input.deletingPathExtension().lastPathComponent + ".vmp3.mp3")
        _ = try await converter.convert(input, to: ours, options: ConversionOptions(encoding: .constantBitRate(kbps: 192), channels: channels))
        let theirs = directory.appendingPathComponent(input.deletingPathExtension().lastPathComponent + ".ffmpeg.mp3")
        let run = try await ExternalTool.run("ffmpeg", [
            "-nostdin", "-v", "error", "-y", "-i", input.path, "-ac", "\(channels.rawValue)", "-c:a", "libmp3lame", "-b:a", "192k", theirs.path,
        ])
        guard run.status == 0 else { throw ExternalTool.Failure(description: run.stderr) }
        let decoded = try await DecodedAudio(ours)
        #expect(decoded.channels.count == channels.rawValue)
        let peak = decoded.channels.flatMap { $0 }.map(abs).max() ?? 0
        return (level(decoded), level(try await DecodedAudio(theirs)), peak)
    }

    /// A 5.1 (side) pan with `signal` in `channel` alone.
    static func alone(in channel: String) -> String {
        "pan=5.1(side)|" + ["FL", "FR", "FC", "LFE", "SL", "SR"].map { $0 == channel ? "\($0)=c0" : "\($0)=0*c0" }.joined(separator: "|")
    }

    @Test("a tone alone in each 5.1 position is within 1 dB of ffmpeg -ac 2 in stereo; the LFE comes in 6 dB down, where ffmpeg drops it",
          arguments: ["FL", "FR", "FC", "SL", "SR", "LFE"])
    func singleChannels(_ channel: String) async throws {
        let directory = try makeScratchDirectory()
        let frequency = channel == "LFE" ? 60 : 1000
        let input = try await Self.make("\(channel).mp4", in: directory,
                                        source: "sine=frequency=\(frequency):sample_rate=48000:duration=3", filter: "volume=8," + Self.alone(in: channel))
        let (vmp3, ffmpeg, _) = try await Self.levels(input, channels: .stereo)
        if channel == "LFE" {
            // The same tone in a front channel, for the reference: −6 dB into each side.
            let front = try await Self.make("FL-60.mp4", in: directory,
                                            source: "sine=frequency=60:sample_rate=48000:duration=3", filter: "volume=8," + Self.alone(in: "FL"))
            let (reference, _, _) = try await Self.levels(front, channels: .stereo)
            // FL reaches the left at 1; the LFE each side at 0.5 × −3 dB (swresample's
            // lfe_mix_level 0.5, spread over two channels): 6 dB less power in all.
            #expect(abs(vmp3 - (reference - 6.02)) <= 1, "LFE \(vmp3) dB against FL's \(reference) dB")
            #expect(ffmpeg < vmp3 - 30, "ffmpeg drops the LFE (\(ffmpeg) dB)")
        } else {
            #expect(abs(vmp3 - ffmpeg) <= 1, "\(channel): VMP3 \(vmp3) dB, ffmpeg -ac 2 \(ffmpeg) dB")
        }
    }

    @Test("mono from stereo is within 1 dB of ffmpeg -ac 1, and a loud stereo file does not clip in mono")
    func monoFromStereo() async throws {
        let directory = try makeScratchDirectory()
        let quiet = try await Self.make("stereo.mp4", in: directory, source: "sine=frequency=1000:sample_rate=44100:duration=3",
                                        filter: "volume=2,pan=stereo|FL=c0|FR=0.5*c0")
        let (vmp3, ffmpeg, _) = try await Self.levels(quiet, channels: .mono)
        #expect(abs(vmp3 - ffmpeg) <= 1, "VMP3 \(vmp3) dB, ffmpeg -ac 1 \(ffmpeg) dB")
        // Both channels at −0.1 dBFS in phase: +3 dB over full scale in mono before the limiter.
        let loud = try await Self.make("loud.mp4", in: directory, source: "sine=frequency=1000:sample_rate=44100:duration=3",
                                       filter: "volume=7.9,pan=stereo|FL=c0|FR=c0")
        let (_, _, peak) = try await Self.levels(loud, channels: .mono)
        #expect(peak < 1, "peak \(peak)")
    }

    @Test("a full-scale 5.1 mix, all channels in phase, comes out in stereo with no decoded sample clipped")
    func fullScaleMix() async throws {
        let directory = try makeScratchDirectory()
        let tone = "0.99*sin(2*PI*440*t)"
        let input = directory.appendingPathComponent("full.mp4")
        let run = try await ExternalTool.run("ffmpeg", [
            "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
            "aevalsrc=\(tone)|\(tone)|\(tone)|0.99*sin(2*PI*50*t)|\(tone)|\(tone):s=48000:d=4:c=5.1(side)", "-c:a", "aac", "-b:a", "384k", input.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let (vmp3, _, peak) = try await Self.levels(input, channels: .stereo)
        #expect(peak < 1, "peak \(peak)")
        // Brought under full scale by the limiter, not lowered as a whole: still near it.
        #expect(vmp3 > -6, "\(vmp3) dB")
    }
}
