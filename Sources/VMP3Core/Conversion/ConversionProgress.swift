/// How far a conversion has got, measured on the source's timeline.
public struct ConversionProgress: Sendable, Hashable {
    /// Seconds of audio converted so far.
    public var processedSeconds: Double
    /// Seconds of audio the conversion will produce in all, when the source states its duration.
    public var totalSeconds: Double?

    public init(processedSeconds: Double, totalSeconds: Double?) {
        self.processedSeconds = processedSeconds
        self.totalSeconds = totalSeconds
    }

    /// `processedSeconds / totalSeconds`, from 0 to 1, or `nil` when the total is unknown.
    public var fraction: Double? {
        guard let totalSeconds, totalSeconds > 0 else { return nil }
        return min(1, max(0, processedSeconds / totalSeconds))
    }
}
