import Foundation
import Testing
@testable import VMP3MediaConverter
import VMP3Kit
import VMP3TestSupport

/// A cover taken from a frame of the video when the source has no picture of its own
/// (`cover=auto`), or at a time (`at:SECONDS`): the right frame, at most 600 px, square pixels,
/// a JPEG any decoder reads; and never a failed conversion because of the video.
@Suite struct VideoFrameCoverTests {
    static func ffmpeg(_ arguments: [String]) async throws {
        try await ChaptersAndCoverTests.ffmpeg(arguments)
    }

    /// 20 s of video, red for the first 5 s, then blue, a key frame every second, and a tone.
    static func redThenBlue(size: String = "1280x720", extra: [String] = [], name: String = "red-blue.mp4") async throws -> URL {
        let url = try makeScratchDirectory().appendingPathComponent(name)
        try await ffmpeg([
            "-f", "lavfi", "-i", "color=c=red:size=\(size):rate=25:duration=5",
            "-f", "lavfi", "-i", "color=c=blue:size=\(size):rate=25:duration=15",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=20",
            "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac",
        ] + extra + [url.path])
        return url
    }

    /// The MP3's cover: its size, and its mean colour (scaled to one pixel) as RGB.
    static func cover(of mp3: URL) async throws -> (width: Int, height: Int, rgb: [UInt8])? {
        let probe = try await ProbedFile(mp3)
        guard let stream = probe.streams.first(where: { (($0["disposition"] as? [String: Any])?["attached_pic"] as? Int) == 1 }),
              let width = stream["width"] as? Int, let height = stream["height"] as? Int else { return nil }
        let pixel = try await ExternalTool.run("ffmpeg", [
            "-nostdin", "-v", "error", "-i", mp3.path, "-an", "-vf", "scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ])
        #expect(pixel.status == 0 && pixel.stderr.isEmpty, "the cover does not decode cleanly: \(pixel.stderr)")
        return (width, height, Array(pixel.stdout.prefix(3)))
    }

    static func convert(_ input: URL, _ options: ConversionOptions = ConversionOptions(), converter: MediaConverter = MediaConverter()) async throws -> (ConversionResult, URL) {
        let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
        return (try await converter.convert(input, to: output, options: options), output)
    }

    static func isRed(_ rgb: [UInt8]) -> Bool { rgb.count == 3 && rgb[0] > 200 && rgb[1] < 60 && rgb[2] < 60 }
    static func isBlue(_ rgb: [UInt8]) -> Bool { rgb.count == 3 && rgb[2] > 200 && rgb[0] < 60 && rgb[1] < 60 }

    @Test("auto: a video with no picture gets the key frame a tenth of the way in, 600 px wide, as a JPEG; at:SECONDS takes the key frame at or before that time")
    func frameAtTime() async throws {
        let clip = try await Self.redThenBlue()
        let (automatic, automaticMP3) = try await Self.convert(clip)
        #expect(automatic.coverType == "image/jpeg")
        let first = try #require(try await Self.cover(of: automaticMP3))
        #expect(first.width == 600 && first.height == 338)
        #expect(Self.isRed(first.rgb), "2 s in is red: \(first.rgb)")

        let (_, late) = try await Self.convert(clip, ConversionOptions(cover: .frame(at: 12.5)))
        let blue = try #require(try await Self.cover(of: late))
        #expect(Self.isBlue(blue.rgb), "12.5 s in is blue: \(blue.rgb)")
        // A tenth of the part converted: from 6 s for 10 s, 7 s in is blue.
        let (_, trimmed) = try await Self.convert(clip, ConversionOptions(start: 6, duration: 10))
        let trimmedCover = try #require(try await Self.cover(of: trimmed))
        #expect(Self.isBlue(trimmedCover.rgb))
        // Past the end: the last key frame.
        let (_, past) = try await Self.convert(clip, ConversionOptions(cover: .frame(at: 3600)))
        let pastCover = try #require(try await Self.cover(of: past))
        #expect(Self.isBlue(pastCover.rgb))
        // The sound does not change with the picture.
        let (none, noneMP3) = try await Self.convert(clip, ConversionOptions(cover: CoverArt.none))
        let noCover = try await Self.cover(of: noneMP3)
        #expect(noCover == nil && none.coverType == nil)
        #expect(abs(none.duration - automatic.duration) < 0.001)
    }

    @Test("anamorphic video is shown with square pixels; a picture smaller than 600 px is not enlarged")
    func sizes() async throws {
        // 720 × 576 with 16:11 pixels is 1047 × 576 on screen.
        let anamorphic = try await Self.redThenBlue(size: "720x576", extra: ["-aspect", "16:9"], name: "pal.mp4")
        let (_, wide) = try await Self.convert(anamorphic)
        let cover = try #require(try await Self.cover(of: wide))
        #expect(cover.width == 600 && abs(cover.height - 338) <= 2, "\(cover.width)×\(cover.height)")
        let small = try await Self.redThenBlue(size: "160x120", name: "small.mp4")
        let (_, smallMP3) = try await Self.convert(small)
        let smallCover = try #require(try await Self.cover(of: smallMP3))
        #expect(smallCover.width == 160 && smallCover.height == 120)
        #expect(VideoFrameCover.coverSize(width: 3, height: 2000, pixelAspect: .nan) == (2, 600))
        #expect(VideoFrameCover.coverSize(width: 1920, height: 1080, pixelAspect: 1) == (600, 338))
    }

    @Test("a damaged video stream, a codec no cover is taken from, or an operator's VMP3_VIDEO_FRAME_COVERS=off: no cover, and the audio converts in full")
    func noFrame() async throws {
        // Every video packet damaged by FFmpeg's noise filter; the audio untouched.
        let damaged = try await Self.redThenBlue(extra: ["-bsf:v", "noise=amount=2"], name: "damaged.mp4")
        let (result, mp3) = try await Self.convert(damaged)
        #expect(abs(result.duration - 20) < 0.1)
        if let cover = try await Self.cover(of: mp3) { #expect(cover.width <= 600) }

        // FFV1 is not among the decoders a cover is taken with.
        let ffv1 = try makeScratchDirectory().appendingPathComponent("ffv1.mkv")
        try await Self.ffmpeg([
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
            "-c:v", "ffv1", "-c:a", "flac", ffv1.path,
        ])
        let (ffv1Result, ffv1MP3) = try await Self.convert(ffv1)
        let ffv1Cover = try await Self.cover(of: ffv1MP3)
        #expect(ffv1Result.coverType == nil && ffv1Cover == nil)
        #expect(abs(ffv1Result.duration - 3) < 0.1)

        let off = MediaConverter(configuration: .init(limits: try ConversionLimits(settings: Settings(["VMP3_VIDEO_FRAME_COVERS": "off"]))))
        let clip = try await Self.redThenBlue(name: "off.mp4")
        let (offResult, offMP3) = try await Self.convert(clip, converter: off)
        let offCover = try await Self.cover(of: offMP3)
        #expect(offResult.coverType == nil && offCover == nil)
        #expect(throws: ConfigurationError.self) { try ConversionLimits(settings: Settings(["VMP3_VIDEO_FRAME_COVERS": "maybe"])) }
    }

    @Test("at: with a time that is not one is an invalid option; the argument reads and writes back")
    func arguments() async throws {
        for bad in ["at:", "at:soon", "at:-1", "at:1e9", "at:nan", "at:inf"] {
            let options = ConversionOptions(cover: CoverArt(argument: bad))
            #expect(throws: ConversionError.self, "\(bad)") { try options.validate() }
        }
        #expect(CoverArt(argument: "at:12") == .frame(at: 12) && CoverArt.frame(at: 12).argument == "at:12")
        #expect(CoverArt(argument: "at:2.5").argument == "at:2.5" && CoverArt.frame(at: 0.10229999999999999).argument == "at:0.102")
        #expect(CoverArt(argument: "auto") == .automatic && CoverArt(argument: "none") == CoverArt.none)
        #expect(CoverArt(argument: "poster.jpg") == .file("poster.jpg"))
    }
}
