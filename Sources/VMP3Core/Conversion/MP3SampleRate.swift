/// The sample rates an MP3 stream can have (MPEG-1, MPEG-2 and MPEG-2.5 layer III).
public enum MP3SampleRate {
    /// Every rate an MP3 can carry, in hertz, ascending.
    public static let all: [Int] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]

    /// The rate for a source at `sourceRate`: the same rate when MP3 allows it, otherwise the
    /// nearest allowed one (the higher of two equally near).
    public static func nearest(to sourceRate: Int) -> Int {
        all.min { lhs, rhs in
            let (left, right) = (abs(lhs - sourceRate), abs(rhs - sourceRate))
            return left == right ? lhs > rhs : left < right
        }!
    }
}
