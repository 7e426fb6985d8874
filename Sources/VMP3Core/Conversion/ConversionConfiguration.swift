/// Tuning that is the same for every conversion a converter runs, in this process
/// (`MediaConverter`) or in a child process (`SandboxedConverter`).
public struct ConversionConfiguration: Sendable, Hashable {
    /// Gain of the LFE channel in a downmix (FFmpeg's default, 0, drops it). Default: 0.5 (−6 dB).
    public var lfeMixLevel: Double
    /// Shortest interval between two progress reports. Default: 100 ms.
    public var progressInterval: Duration
    /// The most a conversion may cost. Default: `ConversionLimits.init(maxAudioDuration:maxOutputBytes:maxConversionTime:probeBytes:analyzeDuration:maxStreams:)`'s
    /// defaults (6 hours of audio, a 1 GiB MP3, an hour of wall time).
    public var limits: ConversionLimits

    public init(lfeMixLevel: Double = 0.5, progressInterval: Duration = .milliseconds(100), limits: ConversionLimits = ConversionLimits()) {
        self.lfeMixLevel = lfeMixLevel
        self.progressInterval = progressInterval
        self.limits = limits
    }
}
