import Foundation
import HTTPTypes
import Testing
@testable import VMP3HTTP
import VMP3Kit

/// The pieces of `GET /v1/jobs/ID/download` that read headers: ranges, validators, dates, file
/// names. The whole route is tested over HTTP against `vmp3 serve` and the gateway on S3.
@Suite struct DownloadHeaderTests {
    @Test("Range headers: single, open, suffix and clipped ranges; unsatisfiable ones; several or malformed ones are the whole file", arguments: [
        ("bytes=0-99", ByteRangeRequest.range(0..<100)),
        ("bytes=500-999", .range(500..<1000)),
        ("bytes=900-", .range(900..<1000)),
        ("bytes=-128", .range(872..<1000)),
        ("bytes=-5000", .range(0..<1000)),
        ("bytes=990-5000", .range(990..<1000)),
        ("bytes=0-99999999999999999999999", .range(0..<1000)),
        ("BYTES = 0-9", .whole),
        ("bytes=0-9", .range(0..<10)),
        (" bytes=0-9 ", .range(0..<10)),
        ("bytes=1000-", .unsatisfiable),
        ("bytes=1000-2000", .unsatisfiable),
        ("bytes=-0", .unsatisfiable),
        ("bytes=0-1,5-6", .whole),
        ("bytes=9-1", .whole),
        ("bytes=a-b", .whole),
        ("bytes=-", .whole),
        ("bytes=+1-2", .whole),
        ("items=0-9", .whole),
        ("", .whole),
    ])
    func ranges(_ header: String, _ expected: ByteRangeRequest) {
        #expect(ByteRangeRequest(header, size: 1000) == expected, "\(header)")
    }

    @Test("no Range header is the whole file")
    func noRange() {
        #expect(ByteRangeRequest(nil, size: 10) == .whole)
    }

    @Test("HTTP dates: IMF-fixdate both ways; other forms and nonsense are not dates")
    func dates() throws {
        let date = Date(timeIntervalSince1970: 784_111_777)
        #expect(HTTPDate.format(date) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(date.addingTimeInterval(0.9)) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == date)
        #expect(HTTPDate.parse(HTTPDate.format(Date(timeIntervalSince1970: 1_796_195_333))) == Date(timeIntervalSince1970: 1_796_195_333))
        for text in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT", "yesterday", ""] {
            #expect(HTTPDate.parse(text) == nil, "\(text)")
        }
    }

    static let job: Job = {
        var job = Job(owner: UserID(rawValue: "u"), source: "sources/x", sourceName: "talk.mp4")
        job.status = .succeeded
        job.updatedAt = Date(timeIntervalSince1970: 1_796_000_000.75)
        job.output = JobOutput(key: job.outputKey, result: ConversionResult(
            output: URL(fileURLWithPath: "/dev/null"), duration: 1, byteCount: 12_345, sampleRate: 44_100, channels: .stereo,
            encoding: .constantBitRate(kbps: 128), tags: AudioTags(), sourceStreamIndex: 1, sourceCodec: "aac", elapsed: 0.1
        ))
        return job
    }()

    @Test("validators: a strong ETag of id and size, Last-Modified to the second; If-None-Match (weak comparison, *) before If-Modified-Since")
    func validators() throws {
        let validators = DownloadValidators(job: Self.job, output: try #require(Self.job.output))
        #expect(validators.etag == "\"\(Self.job.id.rawValue)-12345\"")
        #expect(validators.lastModifiedHeader == HTTPDate.format(Date(timeIntervalSince1970: 1_796_000_000)))
        func notModified(_ fields: HTTPFields) -> Bool { validators.notModified(fields) }
        #expect(notModified([.ifNoneMatch: validators.etag]))
        #expect(notModified([.ifNoneMatch: "\"other\", W/\(validators.etag)"]))
        #expect(notModified([.ifNoneMatch: "*"]))
        #expect(!notModified([.ifNoneMatch: "\"other\""]))
        #expect(notModified([.ifModifiedSince: validators.lastModifiedHeader]))
        #expect(notModified([.ifModifiedSince: HTTPDate.format(Date(timeIntervalSince1970: 1_796_000_100))]))
        #expect(!notModified([.ifModifiedSince: HTTPDate.format(Date(timeIntervalSince1970: 1_795_999_999))]))
        #expect(!notModified([.ifModifiedSince: "not a date"]))
        // If-None-Match decides alone when it is there.
        #expect(!notModified([.ifNoneMatch: "\"other\"", .ifModifiedSince: validators.lastModifiedHeader]))
        #expect(!notModified([:]))
    }

    @Test("If-Range: the same strong tag or the exact date allows the range; a weak, other or stale validator does not")
    func ifRange() throws {
        let validators = DownloadValidators(job: Self.job, output: try #require(Self.job.output))
        #expect(validators.allowsRange(ifRange: validators.etag))
        #expect(validators.allowsRange(ifRange: validators.lastModifiedHeader))
        #expect(!validators.allowsRange(ifRange: "W/\(validators.etag)"))
        #expect(!validators.allowsRange(ifRange: "\"\(Self.job.id.rawValue)-12346\""))
        #expect(!validators.allowsRange(ifRange: HTTPDate.format(Date(timeIntervalSince1970: 1_795_000_000))))
        #expect(!validators.allowsRange(ifRange: "garbage"))
    }

    @Test("upload names: filename* before filename, quoted and escaped values, paths and controls stripped, bounded")
    func uploadNames() {
        func name(_ header: String) -> String? { ContentDisposition.fileName(from: header)?.rawValue }
        #expect(name("attachment; filename=\"talk.mp4\"") == "talk.mp4")
        #expect(name("attachment; filename=talk.mp4") == "talk.mp4")
        #expect(name("form-data; name=\"file\"; filename=\"a \\\"b\\\".mp4\"") == "a \"b\".mp4")
        #expect(name("attachment; filename=\"fallback.mp4\"; filename*=UTF-8''Vortr%C3%A4g%20%E2%80%94%20%E6%9D%B1%E4%BA%AC.mkv") == "Vorträg — 東京.mkv")
        #expect(name("attachment; filename*=iso-8859-1'en'caf%E9.mov") == "café.mov")
        #expect(name("attachment; filename*=UTF-8''%FF%FE.mp4; filename=\"plain.mp4\"") == "plain.mp4")
        #expect(name("attachment; filename=\"../../etc/passwd\"") == "passwd")
        #expect(name("attachment; filename=\"C:\\\\Users\\\\ann\\\\talk.mp4\"") == "talk.mp4")
        #expect(name("attachment; filename*=UTF-8''evil%E2%80%AEgpj.exe") == "evilgpj.exe")
        #expect(name("attachment; filename*=UTF-8''a%0D%0Ab.mp4") == "ab.mp4")
        #expect(name("attachment; filename=\"...\"") == nil)
        #expect(name("attachment") == nil)
        let long = ContentDisposition.fileName(from: "attachment; filename=\"\(String(repeating: "é", count: 300)).mp4\"")
        #expect(long.map { $0.rawValue.utf8.count <= 255 && $0.rawValue.hasSuffix("é.mp4") } == true)
    }

    @Test("download names: the upload's name with .mp3, else the title, else the id; non-ASCII in filename* (RFC 8187)")
    func downloadNames() {
        var job = Self.job
        #expect(ContentDisposition.downloadName(for: job) == "talk.mp3")
        job.sourceName = "lecture.final.webm"
        #expect(ContentDisposition.downloadName(for: job) == "lecture.final.mp3")
        job.sourceName = nil
        job.output?.tags.title = "Sea Song"
        #expect(ContentDisposition.downloadName(for: job) == "Sea Song.mp3")
        job.output?.tags.title = nil
        #expect(ContentDisposition.downloadName(for: job) == "\(job.id.rawValue).mp3")

        #expect(ContentDisposition.attachment(named: "talk.mp3") == "attachment; filename=\"talk.mp3\"")
        #expect(ContentDisposition.attachment(named: "Vorträg \"1\".mp3") == "attachment; filename=\"Vortr_g _1_.mp3\"; filename*=UTF-8''Vortr%C3%A4g%20%221%22.mp3")
    }
}
