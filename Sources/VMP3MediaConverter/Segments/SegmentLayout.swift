/// Where the segments of a parallel encode begin and end, in frames of the output.
///
/// Segment k is the input from frame `k·S − leadIn` to frame `(k+1)·S + handover + settle`. The
/// first `leadIn` frames warm its encoder up (psychoacoustic model, filter bank, reservoir) and are
/// dropped; the stream passes from segment k to k+1 at one of the `handover` frames after
/// `(k+1)·S`, both encoders having encoded them; the `settle` frames after those keep LAME's flush
/// (silence after the last sample) away from any frame that is kept. Segments start on frame
/// boundaries, so every encoder's frame i covers the same samples as a single encoder's: LAME puts
/// its fixed delay (576 samples) before each segment's first sample, just as before the file's.
struct SegmentLayout: Sendable, Equatable {
    /// Samples per channel in a frame (1152 or 576).
    let frameSize: Int
    /// S: frames from one segment's start to the next's.
    let segmentFrames: Int

    static let leadIn = 6
    static let handover = 6
    static let settle = 2

    /// The length of a segment, in seconds. Shorter ones spend more on lead-in and handover (14
    /// frames, 0.37 s: 4 % of 9 s, 6 % of 6 s); longer ones keep more samples in memory (the
    /// segment an encoder still reads while the pipeline fills the next: about 0.35 MB a second at
    /// 44.1 kHz stereo) and leave a thread idle longer at the end. From 6 to 9 s: 3–4 % less time
    /// and processor time for 0.5 MB more at the peak; 12 s saved 1 % more for 2 MB more
    /// (Docs/performance.md).
    static let seconds = 9.0

    init(frameSize: Int, segmentFrames: Int) {
        self.frameSize = frameSize
        self.segmentFrames = max(segmentFrames, Self.leadIn + Self.handover + Self.settle + 1)
    }

    /// Segments of ``seconds`` at `sampleRate`.
    init(frameSize: Int, sampleRate: Int) {
        self.init(frameSize: frameSize, segmentFrames: Int(Self.seconds * Double(sampleRate)) / frameSize)
    }

    /// Whether an input of `seconds` (`nil`: unknown) is long enough to gain from segments: two or more.
    static func isWorthwhile(forSeconds seconds: Double?) -> Bool {
        (seconds ?? .infinity) >= 2 * Self.seconds
    }

    /// The frame at which segment `index`'s part of the stream nominally begins.
    func nominalStartFrame(_ index: Int) -> Int { index * segmentFrames }

    /// The first frame segment `index` encodes (its lead-in included).
    func firstFrame(_ index: Int) -> Int { index == 0 ? 0 : index * segmentFrames - Self.leadIn }

    /// The first input sample of segment `index`.
    func firstSample(_ index: Int) -> Int64 { Int64(firstFrame(index)) * Int64(frameSize) }

    /// The input sample after segment `index`'s last, unless the input ends first.
    func endSample(_ index: Int) -> Int64 {
        Int64((index + 1) * segmentFrames + Self.handover + Self.settle) * Int64(frameSize)
    }

    /// Samples segment `index` holds at most.
    func capacity(_ index: Int) -> Int { Int(endSample(index) - firstSample(index)) }
}
