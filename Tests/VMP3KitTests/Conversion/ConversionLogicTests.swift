import Foundation
import Testing
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// The pure logic under the pipeline: trim windows, sample rates, tags, option checks.
@Suite struct ConversionLogicTests {
    @Test("a trim window keeps exactly [start, end) across chunk boundaries")
    func sampleWindow() {
        var window = SampleWindow(start: 150, end: 400)!
        window.begin(at: 100)
        #expect(window.take(100) == 50..<100)  // samples 100..<200
        #expect(window.take(100) == 0..<100)  // 200..<300
        #expect(!window.isComplete)
        #expect(window.take(150) == 0..<100)  // 300..<450
        #expect(window.isComplete)
        #expect(window.kept == 250)
        #expect(window.take(10).isEmpty)
    }

    @Test("a window whose first chunk starts after `start` keeps it whole; an open end keeps all")
    func sampleWindowOpenEnded() {
        var window = SampleWindow(start: 0, end: nil)!
        window.begin(at: 0)
        window.begin(at: 999)  // only the first placement counts
        #expect(window.take(1152) == 0..<1152)
        #expect(window.position == 1152)
        #expect(!window.isComplete)

        var late = SampleWindow(start: 10, end: 20)!
        late.begin(at: 50)
        #expect(late.take(5).isEmpty)
        #expect(late.isComplete)
    }

    @Test("the output rate is the source's when MP3 allows it, else the nearest",
          arguments: [(44_100, 44_100), (48_000, 48_000), (8000, 8000), (96_000, 48_000), (88_200, 48_000),
                      (192_000, 48_000), (6000, 8000), (11_025, 11_025), (37_800, 32_000), (46_050, 48_000)])
    func nearestRate(_ source: Int, _ expected: Int) {
        #expect(MP3SampleRate.nearest(to: source) == expected)
    }

    @Test("ID3v2.4 tags carry UTF-8 text with sync-safe sizes")
    func id3Tag() {
        let bytes = ID3v2Tag(tags: AudioTags(title: "Ωmega", artist: "", comment: "hi")).encoded()
        #expect(Array(bytes.prefix(5)) == [0x49, 0x44, 0x33, 0x04, 0x00])
        let size = bytes[6..<10].reduce(0) { $0 << 7 | Int($1) }
        #expect(size == bytes.count - 10)
        #expect(bytes.contains(ascii: "TIT2"))
        #expect(!bytes.contains(ascii: "TPE1"), "empty fields are left out")
        #expect(bytes.contains(ascii: "COMM"))
        #expect(bytes.contains(ascii: "und"))
        let title = Array("Ωmega".utf8)
        #expect(bytes.contains(ascii: "Ωmega"))
        #expect(title.count == 6)
        #expect(ID3v2Tag(tags: AudioTags()).encoded().isEmpty)
        #expect(ID3v2Tag.syncSafe(0x0FFF_FFFF) == [0x7F, 0x7F, 0x7F, 0x7F])
        #expect(ID3v2Tag.syncSafe(200) == [0, 0, 1, 72])
    }

    @Test("tag overrides replace, keep or remove fields")
    func tagOverrides() {
        let source = AudioTags(title: "A", artist: "B", album: "C")
        let result = source.applying(AudioTags(title: "X", album: ""))
        #expect(result == AudioTags(title: "X", artist: "B"))
    }

    @Test("source metadata maps to tags: container first, then stream, alternative names")
    func tagsFromMetadata() {
        let tags = AudioTags(
            metadata: ["title": " Song ", "author": "Writer", "year": "1999"],
            stream: ["title": "Stream title", "album": "Record", "description": "Notes"]
        )
        #expect(tags == AudioTags(title: "Song", artist: "Writer", album: "Record", date: "1999", comment: "Notes"))
    }

    @Test("default options are valid and encode VBR quality 2")
    func defaults() throws {
        let options = ConversionOptions()
        try options.validate()
        #expect(options.encoding == .variableBitRate(quality: 2))
        #expect(options.copiesSourceTags)
    }

    @Test("options survive a JSON round trip (they travel in job messages)")
    func codable() throws {
        let options = ConversionOptions(encoding: .constantBitRate(kbps: 256), channels: .mono, sampleRate: 32_000, start: 1.5,
                                        duration: 2, audioStreamIndex: 3, tags: AudioTags(title: "T"), copiesSourceTags: false)
        let decoded = try JSONDecoder().decode(ConversionOptions.self, from: JSONEncoder().encode(options))
        #expect(decoded == options)
    }

    @Test("a failure caused by the input fails the job at once; trouble with the worker's own files is retried", arguments: [
        (ConversionError.Code.unsupportedContainer, true), (.unsupportedAudioFormat, true), (.inputTooLong, true),
        (.outputTooLarge, true), (.timeLimit, true), (.notMediaFile, true), (.damagedInput, true),
        (.inputUnreadable, false), (.outputNotWritable, false),
    ])
    func workerFailureClass(_ code: ConversionError.Code, _ permanent: Bool) {
        let failure = WorkerFailure(ConversionError(code: code, message: "reading /tmp/vmp3-job-1-ab/source failed"))
        if permanent {
            #expect(failure == .permanent(JobFailure(code: code.rawValue, message: "reading the upload failed")))
        } else {
            #expect(failure == .transient("conversion: reading /tmp/vmp3-job-1-ab/source failed"))
        }
    }

    @Test("a trim window that would hold no sample is nil, not a trap")
    func emptyWindow() {
        #expect(SampleWindow(start: 10, end: 10) == nil)
        #expect(SampleWindow(start: 10, end: 3) == nil)
        #expect(SampleWindow(start: -1, end: nil) == nil)
        #expect(SampleWindow(start: 0, end: 1) != nil)
    }

    @Test("checked conversions: nil for NaN, infinity and out-of-range values instead of a trap")
    func checkedConversions() {
        #expect(CheckedConversion.int64(.nan) == nil)
        #expect(CheckedConversion.int64(.infinity) == nil)
        #expect(CheckedConversion.int64(1e19) == nil)
        #expect(CheckedConversion.int64(-2.9) == -2)
        #expect(CheckedConversion.clampedInt64(1e300) == CheckedConversion.bound)
        #expect(CheckedConversion.clampedInt64(-.infinity) == -CheckedConversion.bound)
        #expect(CheckedConversion.clampedInt64(.nan) == nil)
    }
}
