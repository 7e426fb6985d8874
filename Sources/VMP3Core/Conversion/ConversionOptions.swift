/// How to encode the MP3. Every field has a default a listener would accept.
public struct ConversionOptions: Sendable, Hashable, Codable {
    /// Constant bit rate or variable bit rate by quality.
    public enum Encoding: Sendable, Hashable, Codable {
        /// Constant bit rate in kilobits per second, 32–320. LAME uses the nearest bit rate the
        /// output sample rate allows (MPEG-2 rates, below 32 kHz, stop at 160 kbps).
        case constantBitRate(kbps: Int)
        /// LAME's VBR quality, 0 (best, largest) to 9 (smallest). 2 is LAME's "standard" preset.
        case variableBitRate(quality: Int)
    }

    /// The channel count of the MP3.
    public enum Channels: Int, Sendable, Hashable, Codable {
        case mono = 1
        case stereo = 2
    }

    public static let bitRateRange = 32...320
    public static let qualityRange = 0...9
    /// The longest `start` or `duration`: one day. Beyond it a value is a mistake or an attack,
    /// not a wish (and sample positions stay far from overflowing).
    public static let maximumSeconds: Double = 86_400
    /// The shortest `duration`: 1 ms, which is at least 8 samples at every MP3 sample rate.
    public static let minimumDuration: Double = 0.001

    /// Default: VBR quality 2.
    public var encoding: Encoding
    /// Default (`nil`): mono for a mono source, stereo for anything else (downmixed).
    public var channels: Channels?
    /// Output sample rate in hertz, one of ``MP3SampleRate/all``. Default (`nil`): the source's
    /// if MP3 allows it, else the nearest one.
    public var sampleRate: Int?
    /// Seconds to skip at the start of the source. Default: none.
    public var start: Double?
    /// Seconds of audio to keep from ``start``. Default: to the end.
    public var duration: Double?
    /// Index of the stream to convert (as ``MediaInfo/streams`` numbers them). Default (`nil`):
    /// the best audio stream FFmpeg finds.
    public var audioStreamIndex: Int?
    /// Tags to write in place of the source's (see ``AudioTags``).
    public var tags: AudioTags
    /// Whether the source's title, artist, album, date and comment are copied. Default: `true`.
    public var copiesSourceTags: Bool
    /// The MP3's cover picture. `nil` (the default) is ``CoverArt/automatic``: the source's own, else a frame of its video.
    public var cover: CoverArt?
    /// Loudness normalisation: the integrated loudness (LUFS, ITU-R BS.1770 / EBU R128) the MP3
    /// is brought to, measured in a first pass over the decoded audio. `nil` (the default) keeps
    /// the source's level. Allowed: ``LoudnessMeasurement/targetRange``.
    public var loudness: Double?
    /// Threads that encode the MP3 at once (``threadRange``): the input is cut into segments that
    /// are encoded side by side and joined into one stream. `nil` (the default) takes the cores
    /// no other conversion in the process is using, and one thread for inputs too short to gain.
    public var threads: Int?

    /// The allowed ``threads``.
    public static let threadRange = 1...64

    public init(
        encoding: Encoding = .variableBitRate(quality: 2),
        channels: Channels? = nil,
        sampleRate: Int? = nil,
        start: Double? = nil,
        duration: Double? = nil,
        audioStreamIndex: Int? = nil,
        tags: AudioTags = AudioTags(),
        copiesSourceTags: Bool = true,
        cover: CoverArt? = nil,
        loudness: Double? = nil,
        threads: Int? = nil
    ) {
        self.encoding = encoding
        self.channels = channels
        self.sampleRate = sampleRate
        self.start = start
        self.duration = duration
        self.audioStreamIndex = audioStreamIndex
        self.tags = tags
        self.copiesSourceTags = copiesSourceTags
        self.cover = cover
        self.loudness = loudness
        self.threads = threads
    }

    /// Checks every option against its allowed range.
    ///
    /// - Throws: ``ConversionError/Code/invalidOption`` naming the first option out of range.
    public func validate() throws(ConversionError) {
        switch encoding {
        case .constantBitRate(let kbps) where !Self.bitRateRange.contains(kbps):
            throw .invalidOption("bitrate", value: "\(kbps)", allowed: "32–320 kbps")
        case .variableBitRate(let quality) where !Self.qualityRange.contains(quality):
            throw .invalidOption("quality", value: "\(quality)", allowed: "0–9")
        default:
            break
        }
        if let loudness, !LoudnessMeasurement.targetRange.contains(loudness) {
            throw .invalidOption("loudness", value: "\(loudness)", allowed: "-40 to -5 LUFS")
        }
        if let sampleRate, !MP3SampleRate.all.contains(sampleRate) {
            throw .invalidOption(
                "sample-rate", value: "\(sampleRate)",
                allowed: MP3SampleRate.all.map(String.init).joined(separator: ", ") + " Hz"
            )
        }
        if let start, !(start.isFinite && start >= 0 && start <= Self.maximumSeconds) {
            throw .invalidOption("start", value: "\(start)", allowed: "0 to 86400 seconds")
        }
        if let duration, !(duration.isFinite && duration >= Self.minimumDuration && duration <= Self.maximumSeconds) {
            throw .invalidOption("duration", value: "\(duration)", allowed: "0.001 to 86400 seconds")
        }
        if case .frame(let seconds) = cover, !(seconds.isFinite && seconds >= 0 && seconds <= Self.maximumSeconds) {
            throw .invalidOption("cover", value: "at:\(seconds)", allowed: "auto, none, or at:SECONDS with 0 to 86400 seconds")
        }
        if let threads, !Self.threadRange.contains(threads) {
            throw .invalidOption("threads", value: "\(threads)", allowed: "1–64")
        }
        if let audioStreamIndex, audioStreamIndex < 0 {
            throw .invalidOption("audio-stream", value: "\(audioStreamIndex)", allowed: "a stream index, 0 or more")
        }
        for (name, value) in tags.fields where (value?.utf8.count ?? 0) > AudioTags.maximumLength {
            throw .invalidOption(name, value: "of \(value!.utf8.count) bytes", allowed: "at most \(AudioTags.maximumLength) bytes of UTF-8")
        }
    }
}
