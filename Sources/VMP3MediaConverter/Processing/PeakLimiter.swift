#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A look-ahead peak limiter: keeps every sample within ``ceiling`` by lowering the gain smoothly
/// just before a peak and raising it slowly after, instead of clipping the peak or lowering the
/// whole file.
///
/// Why: a downmix with the standard coefficients (centre and surrounds at −3 dB, no
/// normalisation) is as loud as the source, and a loud 5.1 mix can then add up past full scale in
/// stereo; so can gain for loudness normalisation, and float sources hold samples above 1 of their
/// own. LAME would clip them.
///
/// How: the signal is delayed by the look-ahead `L` samples. For each input frame the gain that
/// would keep it under the ceiling is `r = ceiling / peak` (1 when it is under); the gain applied
/// is the minimum of `r` over the next `L` frames, averaged over `L` frames (so it ramps down over
/// the look-ahead and never lets a peak through: every value averaged is at most the peak's `r`),
/// then released towards 1 with a one-pole filter. The ceiling is −1 dBFS of sample peak, which
/// leaves room for the peaks between samples and for the MP3 encoder's own overshoot (the
/// documented stand-in for a true-peak limiter, `Docs/conversion.md`).
///
/// While no frame is over the ceiling and the gain is back at 1, whole blocks only pass through
/// the delay, so that the usual case costs a copy. Memory is fixed: a delay line and two
/// windows of `L` values.
final class PeakLimiter {
    /// The largest magnitude a sample leaves with: −1 dBFS.
    static let defaultCeiling: Float = 0.891_250_9

    let channelCount: Int
    let lookahead: Int
    let ceiling: Float
    private let releaseCoefficient: Double

    /// One delay line per channel, `lookahead` samples each, written at `delayPosition`.
    private var delay: [[Float]]
    private var delayPosition = 0
    /// The delay line in order, while a block passes through.
    private var scratch: [Float]
    /// Samples taken in so far; the first `lookahead` outputs are the delay filling up.
    private var taken: Int64 = 0

    /// Sliding minimum of `r` over the last `lookahead + 1` frames: a deque of (frame, r) with
    /// increasing r, in a ring.
    private var minimumFrames: [Int64]
    private var minimumValues: [Float]
    private var minimumHead = 0
    private var minimumCount = 0
    /// The last `lookahead` minima and their sum, for the average.
    private var averaged: [Float]
    private var averagedPosition = 0
    private var averagedSum: Double
    /// The gain applied to the frame leaving the delay.
    private var gain: Double = 1
    /// Frames since the last one over the ceiling: at `2 × lookahead + 1` the windows hold only 1s.
    private var framesSinceOver: Int64 = .max
    /// Frames that were over the ceiling, for the log.
    private(set) var limitedFrames: Int64 = 0

    /// - Parameters:
    ///   - channels: 1 or 2.
    ///   - sampleRate: the output's rate, which the times are in.
    ///   - lookahead: how long before a peak the gain starts to come down. Default: 5 ms.
    ///   - release: the time constant of the gain's way back to 1. Default: 80 ms.
    init(channels: Int, sampleRate: Int, ceiling: Float = defaultCeiling, lookahead: Double = 0.005, release: Double = 0.08) {
        channelCount = channels
        self.ceiling = ceiling
        self.lookahead = max(1, Int((lookahead * Double(sampleRate)).rounded()))
        releaseCoefficient = 1 - exp(-1 / max(1, release * Double(sampleRate)))
        delay = Array(repeating: Array(repeating: 0, count: self.lookahead), count: channels)
        scratch = Array(repeating: 0, count: self.lookahead)
        minimumFrames = Array(repeating: 0, count: self.lookahead + 1)
        minimumValues = Array(repeating: 1, count: self.lookahead + 1)
        averaged = Array(repeating: 1, count: self.lookahead)
        averagedSum = Double(self.lookahead)
    }

    /// Limits the samples `range` of `pcm` in place, delayed by the look-ahead: sample `i` of the
    /// result is input sample `i − lookahead` of the stream.
    ///
    /// - Returns: the part of `range` that holds output: all of it, except at the very start of
    ///   the stream while the delay fills.
    func process(_ pcm: PCMBuffer, range: Range<Int>) -> Range<Int> {
        guard !range.isEmpty else { return range }
        let filling = Int(max(0, min(Int64(range.count), Int64(lookahead) - taken)))
        if isIdle && range.count >= lookahead && peak(pcm, range) <= ceiling {
            passThrough(pcm, range)
        } else {
            for index in range { limitFrame(pcm, at: index, frame: taken + Int64(index - range.lowerBound)) }
        }
        taken += Int64(range.count)
        return (range.lowerBound + filling)..<range.upperBound
    }

    /// Writes what the delay still holds, limited, to the start of `pcm`.
    /// - Returns: how many samples were written (at most the look-ahead).
    func flush(into pcm: PCMBuffer) -> Int {
        let held = Int(min(taken, Int64(lookahead)))
        guard held > 0 else { return 0 }
        // Silence pushes the held samples out; the first `lookahead - held` outputs (which would
        // be the delay's initial zeros, for a stream shorter than the look-ahead) are dropped.
        for channel in 0..<channelCount { pcm.planes[channel].update(repeating: 0, count: lookahead) }
        for index in 0..<lookahead { limitFrame(pcm, at: index, frame: taken + Int64(index)) }
        let skip = lookahead - held
        if skip > 0 {
            for channel in 0..<channelCount { (pcm.planes[channel]).update(from: pcm.planes[channel] + skip, count: held) }
        }
        taken = 0
        return held
    }

    private var isIdle: Bool {
        gain == 1 && framesSinceOver > Int64(2 * lookahead + 1)
    }

    private func peak(_ pcm: PCMBuffer, _ range: Range<Int>) -> Float {
        var peak: Float = 0
        for channel in 0..<channelCount {
            let plane = pcm.planes[channel]
            for index in range {
                let magnitude = abs(plane[index])
                // NaN compares false and is left to the encoder, which silences it.
                if magnitude > peak { peak = magnitude }
            }
        }
        return peak
    }

    /// The whole block through the delay unchanged (gain 1, nothing over the ceiling near it).
    private func passThrough(_ pcm: PCMBuffer, _ range: Range<Int>) {
        let count = range.count
        for channel in 0..<channelCount {
            let plane = pcm.planes[channel] + range.lowerBound
            delay[channel].withUnsafeMutableBufferPointer { line in
                let base = line.baseAddress!
                // The delay line in stream order: oldest first.
                scratch.withUnsafeMutableBufferPointer { ordered in
                    let tail = lookahead - delayPosition
                    ordered.baseAddress!.update(from: base + delayPosition, count: tail)
                    (ordered.baseAddress! + tail).update(from: base, count: delayPosition)
                }
                // The block's last `lookahead` samples become the delay line; the rest move down.
                base.update(from: plane + count - lookahead, count: lookahead)
                (plane + lookahead).update(from: plane, count: count - lookahead)
                plane.update(from: scratch, count: lookahead)
            }
        }
        delayPosition = 0
        framesSinceOver = framesSinceOver == .max ? .max : framesSinceOver + Int64(count)
        minimumHead = 0
        minimumCount = 0
    }

    /// One frame in, one frame out (delayed), at `index` of `pcm`; `frame` is its number in the stream.
    private func limitFrame(_ pcm: PCMBuffer, at index: Int, frame: Int64) {
        var peak: Float = 0
        for channel in 0..<channelCount {
            let magnitude = abs(pcm.planes[channel][index])
            if magnitude > peak { peak = magnitude }
        }
        let needed: Float = peak > ceiling ? ceiling / peak : 1
        if needed < 1 {
            framesSinceOver = 0
            limitedFrames += 1
        } else if framesSinceOver != .max {
            framesSinceOver += 1
        }

        // Sliding minimum over the last lookahead + 1 frames.
        let capacity = lookahead + 1
        while minimumCount > 0 {
            let last = (minimumHead + minimumCount - 1) % capacity
            guard minimumValues[last] >= needed else { break }
            minimumCount -= 1
        }
        let slot = (minimumHead + minimumCount) % capacity
        minimumFrames[slot] = frame
        minimumValues[slot] = needed
        minimumCount += 1
        while minimumFrames[minimumHead] < frame - Int64(lookahead) {
            minimumHead = (minimumHead + 1) % capacity
            minimumCount -= 1
        }
        let minimum = minimumValues[minimumHead]

        // Average of the last lookahead minima: a ramp down over the look-ahead.
        averagedSum += Double(minimum) - Double(averaged[averagedPosition])
        averaged[averagedPosition] = minimum
        averagedPosition = (averagedPosition + 1) % lookahead
        // Once the window holds only 1s again, its sum is set exactly, so rounding cannot keep the
        // gain a hair under 1 (and the limiter out of its pass-through) for ever.
        if framesSinceOver == Int64(2 * lookahead) { averagedSum = Double(lookahead) }
        let target = min(1, averagedSum / Double(lookahead))
        gain = target < gain ? target : min(1, gain + (target - gain) * releaseCoefficient)
        if target >= 1 && gain > 0.999_99 { gain = 1 }

        let applied = Float(gain)
        for channel in 0..<channelCount {
            let incoming = pcm.planes[channel][index]
            pcm.planes[channel][index] = delay[channel][delayPosition] * applied
            delay[channel][delayPosition] = incoming
        }
        delayPosition = (delayPosition + 1) % lookahead
    }
}
