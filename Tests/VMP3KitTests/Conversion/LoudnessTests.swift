import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport

/// Loudness normalisation (EBU R128): measured in a first pass, reached with a gain and the
/// limiter in the second; checked with ffmpeg's own `ebur128` meter.
@Suite struct LoudnessTests {
    static let converter = MediaConverter()

    /// The integrated loudness ffmpeg's `ebur128` filter measures, in LUFS.
    static func integratedLoudness(_ url: URL) async throws -> Double {
        let run = try await ExternalTool.run("ffmpeg", ["-nostdin", "-nostats", "-i", url.path, "-af", "ebur128", "-f", "null", "-"])
        let summary = try #require(run.stderr.components(separatedBy: "Summary:").last)
        return try #require(summary.firstMatch(of: /I:\s+(-?[0-9.]+) LUFS/).flatMap { Double($0.1) }, "\(run.stderr.suffix(600))")
    }

    /// Stereo pink noise brought to `lufs` by ffmpeg's `loudnorm`, as AAC.
    static func noise(at lufs: Int, in directory: URL) async throws -> URL {
        let url = directory.appendingPathComponent("noise\(lufs).mp4")
        let run = try await ExternalTool.run("ffmpeg", [
            "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=1:sample_rate=48000:duration=8",
            "-af", "pan=stereo|FL=c0|FR=c0,loudnorm=I=\(lufs):TP=-1:LRA=20:linear=true", "-ar", "48000", "-c:a", "aac", "-b:a", "256k", url.path,
        ])
        guard run.status == 0 else { throw ExternalTool.Failure(description: run.stderr) }
        return url
    }

    @Test("inputs at −30 and −10 LUFS normalised to −16 LUFS measure −16 ± 1 LUFS, with no clipping; the source's loudness is reported",
          arguments: [-30, -10])
    func normalises(_ lufs: Int) async throws {
        let directory = try makeScratchDirectory()
        let input = try await Self.noise(at: lufs, in: directory)
        let measuredInput = try await Self.integratedLoudness(input)
        let output = directory.appendingPathComponent("out.mp3")
        let result = try await Self.converter.convert(input, to: output, options: ConversionOptions(loudness: -16))
        let loudness = try #require(result.loudness)
        #expect(abs(loudness.source - measuredInput) < 0.5, "VMP3 measured \(loudness.source), ffmpeg \(measuredInput)")
        #expect(loudness.target == -16 && abs(loudness.gain - (-16 - loudness.source)) < 1e-9)
        let reached = try await Self.integratedLoudness(output)
        #expect(abs(reached - -16) <= 1, "\(reached) LUFS")
        let peak = try await DecodedAudio(output).channels.flatMap { $0 }.map(abs).max() ?? 1
        #expect(peak < 1, "peak \(peak)")
        #expect(abs(result.duration - 8) < 0.05)
    }

    @Test("without the option the level is the source's; silence is not raised; a target out of range is an invalid option")
    func edges() async throws {
        let directory = try makeScratchDirectory()
        let input = try await Self.noise(at: -30, in: directory)
        let plain = directory.appendingPathComponent("plain.mp3")
        let result = try await Self.converter.convert(input, to: plain, options: ConversionOptions())
        #expect(result.loudness == nil)
        #expect(abs(try await Self.integratedLoudness(plain) - -30) <= 1)

        let silence = directory.appendingPathComponent("silence.mp4")
        let made = try await ExternalTool.run("ffmpeg", ["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3", "-c:a", "aac", silence.path])
        #expect(made.status == 0)
        let quiet = try await Self.converter.convert(silence, to: directory.appendingPathComponent("silence.mp3"), options: ConversionOptions(loudness: -16))
        #expect(quiet.loudness == nil, "nothing to measure, nothing raised")

        for target in [-3.0, -50.0, .nan] {
            let error = await #expect(throws: ConversionError.self) {
                _ = try await Self.converter.convert(input, to: directory.appendingPathComponent("bad.mp3"), options: ConversionOptions(loudness: target))
            }
            #expect(error?.code == .invalidOption, "\(target)")
        }
    }
}
