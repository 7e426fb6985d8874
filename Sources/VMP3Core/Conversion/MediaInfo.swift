/// What a media file contains, as FFmpeg's demuxer sees it: the result of
/// ``AudioConverter/probe(_:logger:)``.
public struct MediaInfo: Sendable, Hashable, Codable {
    /// The demuxer's short name, for example `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`.
    public var formatName: String
    /// The demuxer's descriptive name.
    public var formatLongName: String?
    /// Duration of the whole file in seconds, when the container states it.
    public var duration: Double?
    /// Overall bit rate in bits per second, when known.
    public var bitRate: Int?
    /// Container-level tags (keys lower-cased).
    public var tags: [String: String]
    /// Every stream in the file, in index order.
    public var streams: [StreamInfo]
    /// The index of the audio stream a conversion picks when none is named, if there is one.
    public var defaultAudioStreamIndex: Int?
    /// The file's chapters (MP4, Matroska and others that have them), in the file's time.
    public var chapters: [Chapter] = []

    public init(
        formatName: String,
        formatLongName: String? = nil,
        duration: Double? = nil,
        bitRate: Int? = nil,
        tags: [String: String] = [:],
        streams: [StreamInfo] = [],
        defaultAudioStreamIndex: Int? = nil,
        chapters: [Chapter] = []
    ) {
        self.formatName = formatName
        self.formatLongName = formatLongName
        self.duration = duration
        self.bitRate = bitRate
        self.tags = tags
        self.streams = streams
        self.defaultAudioStreamIndex = defaultAudioStreamIndex
        self.chapters = chapters
    }
}

/// One stream of a media file.
public struct StreamInfo: Sendable, Hashable, Codable {
    /// What the stream carries.
    public enum Kind: String, Sendable, Hashable, Codable {
        case audio, video, subtitle, data, attachment, unknown
    }

    public var index: Int
    public var kind: Kind
    /// FFmpeg's codec name, for example `aac`, `opus`, `h264`.
    public var codec: String
    /// Duration of the stream in seconds, when the container states it.
    public var duration: Double?
    public var bitRate: Int?
    /// Audio only: channel count.
    public var channels: Int?
    /// Audio only: channel layout as FFmpeg describes it, for example `5.1`.
    public var channelLayout: String?
    /// Audio only: sample rate in hertz.
    public var sampleRate: Int?
    /// Video only: frame size in pixels.
    public var width: Int?
    public var height: Int?
    /// Stream-level tags (keys lower-cased), for example `language`.
    public var tags: [String: String]

    public init(
        index: Int,
        kind: Kind,
        codec: String,
        duration: Double? = nil,
        bitRate: Int? = nil,
        channels: Int? = nil,
        channelLayout: String? = nil,
        sampleRate: Int? = nil,
        width: Int? = nil,
        height: Int? = nil,
        tags: [String: String] = [:]
    ) {
        self.index = index
        self.kind = kind
        self.codec = codec
        self.duration = duration
        self.bitRate = bitRate
        self.channels = channels
        self.channelLayout = channelLayout
        self.sampleRate = sampleRate
        self.width = width
        self.height = height
        self.tags = tags
    }
}
