#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a finished conversion wrote.
public struct ConversionResult: Sendable, Hashable, Codable {
    /// The MP3's path.
    public var output: URL
    /// Length of the audio in seconds (samples written divided by the sample rate).
    public var duration: Double
    /// Size of the MP3 in bytes.
    public var byteCount: Int64
    public var sampleRate: Int
    public var channels: ConversionOptions.Channels
    /// The encoding used; for constant bit rate, the rate LAME settled on.
    public var encoding: ConversionOptions.Encoding
    /// The tags written into the MP3.
    public var tags: AudioTags
    /// Index of the source stream that was converted, and its codec.
    public var sourceStreamIndex: Int
    public var sourceCodec: String
    /// Wall-clock seconds the conversion took.
    public var elapsed: Double
    /// The chapters written into the MP3 (ID3v2 `CHAP`), in its own time.
    public var chapters: [Chapter] = []
    /// The MIME type of the cover picture written into the MP3 (ID3v2 `APIC`), if one was.
    public var coverType: String?
    /// What loudness normalisation measured and applied, when it was asked for and the source
    /// was not silent.
    public var loudness: LoudnessMeasurement?
    /// How many threads encoded the MP3 side by side (see ``ConversionOptions/threads``); `nil`
    /// for results recorded before VMP3 reported it.
    public var encoderThreads: Int?

    /// How many seconds of audio were converted per second of wall-clock time.
    public var speed: Double {
        elapsed > 0 ? duration / elapsed : 0
    }

    public init(
        output: URL, duration: Double, byteCount: Int64, sampleRate: Int,
        channels: ConversionOptions.Channels, encoding: ConversionOptions.Encoding, tags: AudioTags,
        sourceStreamIndex: Int, sourceCodec: String, elapsed: Double
    ) {
        self.output = output
        self.duration = duration
        self.byteCount = byteCount
        self.sampleRate = sampleRate
        self.channels = channels
        self.encoding = encoding
        self.tags = tags
        self.sourceStreamIndex = sourceStreamIndex
        self.sourceCodec = sourceCodec
        self.elapsed = elapsed
    }
}
