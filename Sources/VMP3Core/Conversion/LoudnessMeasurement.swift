/// What loudness normalisation measured and did: the source's integrated loudness (ITU-R BS.1770,
/// after the downmix, before any gain), the target, and the gain applied to reach it (a limiter
/// then keeps the peaks under −1 dBFS).
public struct LoudnessMeasurement: Sendable, Hashable, Codable {
    /// LUFS.
    public var source: Double
    /// LUFS.
    public var target: Double
    /// dB.
    public var gain: Double

    /// The targets accepted, in LUFS: from quiet speech to the loudest streaming services.
    public static let targetRange = -40.0 ... -5.0

    public init(source: Double, target: Double, gain: Double) {
        self.source = source
        self.target = target
        self.gain = gain
    }
}
