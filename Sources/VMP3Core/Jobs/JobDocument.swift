#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A job as clients see it: the JSON of the gateway's answers, server-sent events and webhooks.
///
/// Field names are `snake_case` and stable; internal bookkeeping (lease, version, storage keys)
/// is left out.
public struct JobDocument: Sendable, Hashable, Codable {
    public struct Options: Sendable, Hashable, Codable {
        /// Constant bit rate in kbit/s, or `nil` for VBR.
        public var bitrate: Int?
        /// VBR quality (0 best … 9 smallest), or `nil` for CBR.
        public var quality: Int?
        public var channels: Int?
        public var sampleRate: Int?
        public var start: Double?
        public var duration: Double?
        public var title: String?
        public var artist: String?
        public var album: String?
        /// `auto` or `none`; `nil` for the default (auto).
        public var cover: String?
        /// The loudness asked for, in LUFS.
        public var loudness: Double?

        enum CodingKeys: String, CodingKey {
            case bitrate, quality, channels, sampleRate = "sample_rate", start, duration, title, artist, album, cover, loudness
        }
    }

    public struct Output: Sendable, Hashable, Codable {
        public var byteCount: Int64
        /// Seconds of audio.
        public var duration: Double
        public var sampleRate: Int
        public var channels: Int
        public var bitrate: Int?
        public var quality: Int?
        public var title: String?
        public var artist: String?
        public var album: String?
        /// The MP3's chapters, in its own time.
        public var chapters: [Chapter]
        /// Whether the MP3 carries a cover picture.
        public var cover: Bool
        /// The source's integrated loudness (LUFS) and the gain applied (dB), with loudness normalisation.
        public var sourceLoudness: Double?
        public var loudnessGain: Double?

        enum CodingKeys: String, CodingKey {
            case byteCount = "byte_count", duration, sampleRate = "sample_rate", channels, bitrate, quality, title, artist, album, chapters, cover
            case sourceLoudness = "source_loudness", loudnessGain = "loudness_gain"
        }

        public init(
            byteCount: Int64, duration: Double, sampleRate: Int, channels: Int, bitrate: Int?, quality: Int?,
            title: String?, artist: String?, album: String?, chapters: [Chapter] = [], cover: Bool = false,
            sourceLoudness: Double? = nil, loudnessGain: Double? = nil
        ) {
            self.byteCount = byteCount
            self.duration = duration
            self.sampleRate = sampleRate
            self.channels = channels
            self.bitrate = bitrate
            self.quality = quality
            self.title = title
            self.artist = artist
            self.album = album
            self.chapters = chapters
            self.cover = cover
            self.sourceLoudness = sourceLoudness
            self.loudnessGain = loudnessGain
        }

        /// Documents from before chapters and covers were reported decode with none.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            byteCount = try container.decode(Int64.self, forKey: .byteCount)
            duration = try container.decode(Double.self, forKey: .duration)
            sampleRate = try container.decode(Int.self, forKey: .sampleRate)
            channels = try container.decode(Int.self, forKey: .channels)
            bitrate = try container.decodeIfPresent(Int.self, forKey: .bitrate)
            quality = try container.decodeIfPresent(Int.self, forKey: .quality)
            title = try container.decodeIfPresent(String.self, forKey: .title)
            artist = try container.decodeIfPresent(String.self, forKey: .artist)
            album = try container.decodeIfPresent(String.self, forKey: .album)
            chapters = try container.decodeIfPresent([Chapter].self, forKey: .chapters) ?? []
            cover = try container.decodeIfPresent(Bool.self, forKey: .cover) ?? false
            sourceLoudness = try container.decodeIfPresent(Double.self, forKey: .sourceLoudness)
            loudnessGain = try container.decodeIfPresent(Double.self, forKey: .loudnessGain)
        }
    }

    public struct Failure: Sendable, Hashable, Codable {
        public var code: String
        public var message: String
    }

    public var id: JobID
    public var status: JobStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var progress: Double?
    public var sourceName: String?
    public var sourceSize: Int64?
    public var options: Options
    public var output: Output?
    public var failure: Failure?
    public var attempts: Int
    /// Whether the MP3 was copied from an earlier identical conversion instead of being made.
    public var fromCache: Bool

    enum CodingKeys: String, CodingKey {
        case id, status, createdAt = "created_at", updatedAt = "updated_at", progress, sourceName = "source_name"
        case sourceSize = "source_size", options, output, failure, attempts, fromCache = "from_cache"
    }

    public init(_ job: Job) {
        id = job.id
        status = job.status
        createdAt = job.createdAt
        updatedAt = job.updatedAt
        progress = job.progress
        sourceName = job.sourceName
        sourceSize = job.sourceSize
        fromCache = job.fromCache ?? false
        let encoding = job.options.encoding.parameters
        options = Options(
            bitrate: encoding.bitrate, quality: encoding.quality, channels: job.options.channels?.rawValue,
            sampleRate: job.options.sampleRate, start: job.options.start, duration: job.options.duration,
            title: job.options.tags.title, artist: job.options.tags.artist, album: job.options.tags.album,
            cover: job.options.cover.map { if case .file = $0 { "file" } else { $0.argument } }, loudness: job.options.loudness
        )
        output = job.output.map { output in
            let encoding = output.encoding.parameters
            return Output(
                byteCount: output.byteCount, duration: output.duration, sampleRate: output.sampleRate,
                channels: output.channels.rawValue, bitrate: encoding.bitrate, quality: encoding.quality,
                title: output.tags.title, artist: output.tags.artist, album: output.tags.album,
                chapters: output.chapters ?? [], cover: output.coverType != nil,
                sourceLoudness: output.loudness?.source, loudnessGain: output.loudness?.gain
            )
        }
        failure = job.failure.map { Failure(code: $0.code, message: $0.message) }
        attempts = job.attempts
    }

    /// The encoder the documents use: ISO 8601 dates, sorted keys (stable bytes for signatures).
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The decoder matching ``makeEncoder()``.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension ConversionOptions.Encoding {
    /// `(bitrate, quality)`: one of the two is set.
    var parameters: (bitrate: Int?, quality: Int?) {
        switch self {
        case .constantBitRate(let kbps): (kbps, nil)
        case .variableBitRate(let quality): (nil, quality)
        }
    }
}
