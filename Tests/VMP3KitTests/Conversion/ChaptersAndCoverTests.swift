import Foundation
import Testing
import VMP3Kit
import VMP3TestSupport

/// What the MP3 carries beyond its sound: the source's chapters (ID3v2 `CHAP` + `CTOC`) and its
/// cover picture (`APIC`), on clips made by the ffmpeg CLI, checked with ffprobe.
@Suite struct ChaptersAndCoverTests {
    static let converter = MediaConverter()

    static func ffmpeg(_ arguments: [String]) async throws {
        let run = try await ExternalTool.run("ffmpeg", ["-nostdin", "-v", "error", "-y"] + arguments)
        guard run.status == 0 else { throw ExternalTool.Failure(description: run.stderr) }
    }

    /// An MP4 with a JPEG cover (`attached_pic`, as MP4's `covr`), an MKV with three chapters
    /// and a plain MP4 without either, and a PNG.
    static func clips() async throws -> (cover: URL, chapters: URL, plain: URL, png: URL, directory: URL) {
        let directory = try makeScratchDirectory()
        let jpeg = directory.appendingPathComponent("poster.jpg"), png = directory.appendingPathComponent("poster.png")
        try await ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x180:rate=1:duration=1", "-frames:v", "1", jpeg.path])
        try await ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x64:rate=1:duration=1", "-frames:v", "1", png.path])
        let video = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=6", "-f", "lavfi", "-i", "sine=frequency=440:duration=6"]
        let cover = directory.appendingPathComponent("cover.mp4")
        try await ffmpeg(video + ["-i", jpeg.path, "-map", "0:v", "-map", "1:a", "-map", "2", "-c:v:0", "libx264", "-c:a", "aac",
                                  "-c:v:1", "copy", "-disposition:v:1", "attached_pic", cover.path])
        let metadata = directory.appendingPathComponent("chapters.txt")
        try """
        ;FFMETADATA1
        [CHAPTER]
        TIMEBASE=1/1000
        START=0
        END=2000
        title=Intro
        [CHAPTER]
        TIMEBASE=1/1000
        START=2000
        END=4500
        title=Ünïcode & <middle>
        [CHAPTER]
        TIMEBASE=1/1000
        START=4500
        END=6000
        title=End

        """.write(to: metadata, atomically: true, encoding: .utf8)
        let chapters = directory.appendingPathComponent("chapters.mkv")
        try await ffmpeg(video + ["-i", metadata.path, "-map", "0:v", "-map", "1:a", "-map_chapters", "2", "-c:v", "libx264", "-c:a", "libvorbis", chapters.path])
        let plain = directory.appendingPathComponent("plain.mp4")
        try await ffmpeg(video + ["-c:v", "libx264", "-c:a", "aac", plain.path])
        return (cover, chapters, plain, png, directory)
    }

    static func convert(_ input: URL, _ options: ConversionOptions = ConversionOptions()) async throws -> (ConversionResult, ProbedFile) {
        let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
        let result = try await converter.convert(input, to: output, options: options)
        return (result, try await ProbedFile(output))
    }

    @Test("an MKV's three chapters become CHAP frames with their times and titles; probe shows them; a plain video has none")
    func chapters() async throws {
        let clips = try await Self.clips()
        let (result, mp3) = try await Self.convert(clips.chapters)
        let expected: [(Double, Double, String)] = [(0, 2, "Intro"), (2, 4.5, "Ünïcode & <middle>"), (4.5, 6, "End")]
        #expect(mp3.chapters.count == 3)
        for (chapter, want) in zip(mp3.chapters, expected) {
            #expect(abs(chapter.start - want.0) < 0.002 && abs(chapter.end - want.1) < 0.002 && chapter.title == want.2, "\(chapter)")
        }
        #expect(result.chapters.map(\.title) == expected.map(\.2))
        let probed = try await Self.converter.probe(clips.chapters)
        #expect(probed.chapters.map(\.title) == expected.map(\.2) && abs((probed.chapters.last?.end ?? 0) - 6) < 0.01)

        let (plainResult, plain) = try await Self.convert(clips.plain)
        #expect(plain.chapters.isEmpty && plainResult.chapters.isEmpty)
        // (A plain video's cover is a frame of it: VideoFrameCoverTests.)
        #expect(plain.attachedPictures == ["mjpeg"] && plainResult.coverType == "image/jpeg")
    }

    @Test("start and duration shift the chapters and clip them: one that ends before the start is dropped")
    func shiftedChapters() async throws {
        let clips = try await Self.clips()
        let (_, mp3) = try await Self.convert(clips.chapters, ConversionOptions(start: 2.5, duration: 3))
        #expect(mp3.chapters.count == 2, "\(mp3.chapters)")
        #expect(abs((mp3.chapters.first?.start ?? -1) - 0) < 0.002 && abs((mp3.chapters.first?.end ?? -1) - 2) < 0.002)
        #expect(mp3.chapters.first?.title == "Ünïcode & <middle>")
        #expect(abs((mp3.chapters.last?.start ?? -1) - 2) < 0.002 && abs((mp3.chapters.last?.end ?? -1) - 3) < 0.002)
    }

    @Test("an MP4's cover becomes the MP3's APIC; --cover none leaves none; a PNG file of the caller's is used instead")
    func cover() async throws {
        let clips = try await Self.clips()
        let (result, mp3) = try await Self.convert(clips.cover)
        #expect(mp3.attachedPictures == ["mjpeg"] && result.coverType == "image/jpeg")
        let (noneResult, none) = try await Self.convert(clips.cover, ConversionOptions(cover: CoverArt.none))
        #expect(none.attachedPictures.isEmpty && noneResult.coverType == nil)
        let (pngResult, png) = try await Self.convert(clips.plain, ConversionOptions(cover: .file(clips.png.path)))
        #expect(png.attachedPictures == ["png"] && pngResult.coverType == "image/png")
        // The sound is the same with or without the picture.
        #expect(abs(result.duration - noneResult.duration) < 0.001)
    }

    @Test("a cover file that is missing, not a JPEG or PNG, or over 2 MiB is an invalid option, and nothing is written")
    func badCoverFile() async throws {
        let clips = try await Self.clips()
        let text = clips.directory.appendingPathComponent("notes.txt")
        try Data("not a picture".utf8).write(to: text)
        let huge = clips.directory.appendingPathComponent("huge.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0, count: CoverArt.maximumBytes)).write(to: huge)
        for path in [clips.directory.appendingPathComponent("missing.jpg").path, text.path, huge.path] {
            let output = try makeScratchDirectory().appendingPathComponent("out.mp3")
            let error = await #expect(throws: ConversionError.self) {
                _ = try await Self.converter.convert(clips.plain, to: output, options: ConversionOptions(cover: .file(path)))
            }
            #expect(error?.code == .invalidOption, "\(path)")
            #expect(!FileManager.default.fileExists(atPath: output.path))
        }
    }

    @Test("placing chapters: shifted by the start, clipped by the duration and the source's length, open ends closed by the next")
    func placement() {
        let source = [Chapter(start: 10, end: 20, title: "b"), Chapter(start: 0, end: 10, title: "a"), Chapter(start: 20, end: 20, title: "c")]
        #expect(Chapter.placed(source, length: 30) == [Chapter(start: 0, end: 10, title: "a"), Chapter(start: 10, end: 20, title: "b"), Chapter(start: 20, end: 30, title: "c")])
        #expect(Chapter.placed(source, start: 5, duration: 10, length: 30) == [Chapter(start: 0, end: 5, title: "a"), Chapter(start: 5, end: 10, title: "b")])
        #expect(Chapter.placed(source, start: 25, length: 30) == [Chapter(start: 0, end: 5, title: "c")])
        #expect(Chapter.placed([Chapter(start: .nan, end: 1), Chapter(start: -1, end: 2)], length: 10).isEmpty)
        let many = (0..<400).map { Chapter(start: Double($0), end: Double($0 + 1)) }
        #expect(Chapter.placed(many, length: 400).count == Chapter.maximumCount)
    }
}
