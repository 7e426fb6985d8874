import Foundation

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

        enum CodingKeys: String, CodingKey {
            case bitrate, quality, channels, sampleRate = "sample_rate", start, duration, title, artist, album
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

        enum CodingKeys: String, CodingKey {
            case byteCount = "byte_count", duration, sampleRate = "sample_rate", channels, bitrate, quality, title, artist, album
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
            title: job.options.tags.title, artist: job.options.tags.artist, album: job.options.tags.album
        )
        output = job.output.map { output in
            let encoding = output.encoding.parameters
            return Output(
                byteCount: output.byteCount, duration: output.duration, sampleRate: output.sampleRate,
                channels: output.channels.rawValue, bitrate: encoding.bitrate, quality: encoding.quality,
                title: output.tags.title, artist: output.tags.artist, album: output.tags.album
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
