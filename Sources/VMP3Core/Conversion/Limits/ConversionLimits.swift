/// The most one conversion may cost: how much audio it converts, how large its MP3 may grow and
/// how long it may run, plus the bounds on what the demuxer reads while it identifies the file.
///
/// Uploads are written by strangers: a 14 KB FLAC can declare an hour of audio, and a few bytes
/// can describe a file that takes hours to decode. Crossing a limit fails the conversion with a
/// typed code (``ConversionError/Code/inputTooLong``, ``ConversionError/Code/outputTooLarge``,
/// ``ConversionError/Code/timeLimit``) and leaves no output. A `nil` limit is no limit.
public struct ConversionLimits: Sendable, Hashable, Codable {
    /// Longest audio converted (after `start`/`duration` trimming). Default: 6 hours.
    public var maxAudioDuration: Duration?
    /// Largest MP3, in bytes, tags included. Default: 1 GiB (6 hours at 320 kbps is 864 MB).
    public var maxOutputBytes: Int64?
    /// Longest wall time of one conversion or probe, from opening the input to the rename of the
    /// MP3. Default: 1 hour (this machine converts about 150× real time, so 6 hours of audio take
    /// minutes: an hour means something is wrong).
    public var maxConversionTime: Duration?
    /// Bytes the demuxer may read to identify the format and its streams. Default: 10 MB.
    public var probeBytes: Int
    /// Media time the demuxer may read to find each stream's parameters. Default: 10 s.
    public var analyzeDuration: Duration
    /// Streams a container may declare; more fails the open. Default: 100.
    public var maxStreams: Int
    /// Whether a cover may be taken from a frame of the video (``CoverArt/automatic`` with no
    /// picture in the source, ``CoverArt/frame(at:)``). That is the one place where a video
    /// decoder sees an upload's bytes: one of a few common decoders, key frames only, one thread,
    /// at most ``maxCoverFramePixels``, a few seconds. `false` keeps every video decoder away from
    /// uploads, and such jobs get no cover. Default: `true`.
    public var videoFrameCovers: Bool

    /// The largest video frame decoded for a cover, in pixels: DCI 4K (4096 × 2304). A larger
    /// picture gets no cover, whatever memory its decoder would have wanted.
    public static let maxCoverFramePixels = 4096 * 2304

    /// Sample rates a decoded stream may have, in hertz. Audio codecs produce 8–192 kHz, a few
    /// telephony and studio formats 4 kHz and 384–768 kHz; a 2 Hz "stream" is an attack on the
    /// resampler, which would size its output a thousand times larger than the input.
    public static let sampleRates: ClosedRange<Int32> = 1000...768_000
    /// Channels a decoded stream may have (FFmpeg's resampler takes at most 64).
    public static let channelCounts: ClosedRange<Int32> = 1...64
    /// Samples per channel one decoded frame may hold. FLAC's largest block is 65,535 samples; this
    /// leaves room for PCM packets and is also given to the decoder (`max_samples`), so that it
    /// refuses to allocate more for a frame whatever the bitstream declares.
    public static let maxFrameSamples = 1 << 20

    public init(
        maxAudioDuration: Duration? = .seconds(6 * 3600),
        maxOutputBytes: Int64? = 1 << 30,
        maxConversionTime: Duration? = .seconds(3600),
        probeBytes: Int = 10_000_000,
        analyzeDuration: Duration = .seconds(10),
        maxStreams: Int = 100,
        videoFrameCovers: Bool = true
    ) {
        self.maxAudioDuration = maxAudioDuration
        self.maxOutputBytes = maxOutputBytes
        self.maxConversionTime = maxConversionTime
        self.probeBytes = probeBytes
        self.analyzeDuration = analyzeDuration
        self.maxStreams = maxStreams
        self.videoFrameCovers = videoFrameCovers
    }

    /// No limit on length, size or time (the demuxer's read bounds stay): for trusted local files.
    public static let unlimited = ConversionLimits(maxAudioDuration: nil, maxOutputBytes: nil, maxConversionTime: nil)
}
