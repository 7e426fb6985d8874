import VMP3Core

/// Which output samples fall inside the trim window `[start, end)`.
///
/// Samples arrive in chunks; the window tracks the position of the next one on the output
/// timeline and says which part of each chunk to keep. Memory is constant: only positions are kept.
struct SampleWindow: Equatable {
    /// First sample to keep.
    let start: Int64
    /// First sample not to keep, or `nil` for "to the end".
    let end: Int64?
    /// Position of the next sample to arrive, once ``begin(at:)`` has placed the first.
    private(set) var position: Int64?
    /// Samples kept so far.
    private(set) var kept: Int64 = 0

    /// A window from `start` to `end`; `nil` if it would hold no sample (the caller turns that into
    /// an error naming the option).
    init?(start: Int64, end: Int64?) {
        guard start >= 0, (end ?? .max) > start else { return nil }
        self.start = start
        self.end = end
    }

    /// Places the first sample that will arrive (it may lie before ``start``).
    mutating func begin(at firstSample: Int64) {
        if position == nil { position = firstSample }
    }

    /// Whether every sample of the window has been kept.
    var isComplete: Bool {
        guard let end, let position else { return false }
        return position >= end
    }

    /// Advances over a chunk of `count` samples.
    ///
    /// - Returns: the indices within the chunk that lie inside the window (possibly empty).
    mutating func take(_ count: Int) -> Range<Int> {
        let first = position ?? 0
        position = first + Int64(count)
        let lower = Int(min(Int64(count), max(0, start - first)))
        let upper = end.map { Int(min(Int64(count), max(0, $0 - first))) } ?? count
        let range = lower < upper ? lower..<upper : 0..<0
        kept += Int64(range.count)
        return range
    }
}
