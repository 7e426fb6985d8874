import Foundation
import Testing
import VMP3Kit
@testable import VMP3MediaConverter

/// The look-ahead limiter on its own: what it lets through, what it brings down, and that it
/// keeps every sample, in order, delayed by exactly its look-ahead.
@Suite struct PeakLimiterTests {
    /// Runs `signal` (one array per channel) through a limiter in blocks of `block`, flushes it,
    /// and returns the output, as long as the input.
    static func limit(_ signal: [[Float]], block: Int = 1000, sampleRate: Int = 48_000) -> (output: [[Float]], limiter: PeakLimiter) {
        let channels = signal.count
        let limiter = PeakLimiter(channels: channels, sampleRate: sampleRate)
        let pcm = PCMBuffer(channels: channels == 1 ? .mono : .stereo, capacity: 8192 + 8)
        var output = Array(repeating: [Float](), count: channels)
        var offset = 0
        while offset < signal[0].count {
            let count = min(block, signal[0].count - offset)
            // Put the block at a moving position in the buffer, as the pipeline's trim window does.
            let at = offset % 7
            for channel in 0..<channels {
                for index in 0..<count { pcm.planes[channel][at + index] = signal[channel][offset + index] }
            }
            let produced = limiter.process(pcm, range: at..<(at + count))
            for channel in 0..<channels { output[channel] += (produced).map { pcm.planes[channel][$0] } }
            offset += count
        }
        let held = limiter.flush(into: pcm)
        for channel in 0..<channels { output[channel] += (0..<held).map { pcm.planes[channel][$0] } }
        return (output, limiter)
    }

    /// The first index where `a` and `b` differ (`nil` if equal), so a failure prints one place, not the arrays.
    static func firstDifference(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Int? {
        guard a.count == b.count else { return -1 }
        return zip(a.indices, zip(a, b)).first { $0.1.0 != $0.1.1 }?.0
    }

    static func sine(_ amplitude: Float, _ frequency: Double, count: Int, sampleRate: Double = 48_000, phase: Double = 0) -> [Float] {
        (0..<count).map { amplitude * Float(sin(2 * .pi * frequency * Double($0) / sampleRate + phase)) }
    }

    @Test("a signal under the ceiling comes out unchanged, sample for sample, in blocks of any size")
    func transparent() {
        let signal = [Self.sine(0.8, 440, count: 48_000), Self.sine(0.5, 1000, count: 48_000)]
        for block in [1, 100, 240, 4096] {
            let (output, limiter) = Self.limit(signal, block: block)
            #expect(Self.firstDifference(output[0][...], signal[0][...]) == nil && Self.firstDifference(output[1][...], signal[1][...]) == nil, "block \(block)")
            #expect(limiter.limitedFrames == 0)
        }
    }

    @Test("peaks far over full scale come out under the ceiling, with every sample kept in order")
    func limits() {
        // +9 dB over full scale in one channel for half a second, in the middle of quiet music.
        var loud = Self.sine(0.3, 440, count: 150_000)
        for index in 30_000..<54_000 { loud[index] *= 9 }
        let signal = [loud, Self.sine(0.3, 660, count: 150_000)]
        for block in [1, 1000, 8192] {
            let (output, limiter) = Self.limit(signal, block: block)
            #expect(output[0].count == signal[0].count && output[1].count == signal[1].count)
            let peak = output.flatMap { $0 }.map(abs).max() ?? 0
            #expect(peak <= PeakLimiter.defaultCeiling + 1e-6, "block \(block): peak \(peak)")
            #expect(limiter.limitedFrames > 15_000)
            // Before the look-ahead reaches the loud part, and once the gain is back at 1 (the
            // release's time constant is 80 ms), the signal is untouched.
            #expect(Self.firstDifference(output[1][0..<29_000], signal[1][0..<29_000]) == nil)
            #expect(Self.firstDifference(output[1][120_000...], signal[1][120_000...]) == nil, "block \(block)")
            // The gain is one for both channels: the quiet channel is lowered with the loud one,
            // never more than the loud one needs.
            let ratio = output[1][40_000] / signal[1][40_000]
            #expect(ratio > 0.3 && ratio < 0.4, "\(ratio)")
        }
    }

    @Test("the gain comes down smoothly before a peak: no step larger than the look-ahead's ramp")
    func smooth() {
        var signal = [Float](repeating: 0.5, count: 20_000)
        signal[10_000] = 4  // one spike, 12 dB over the rest
        let (output, _) = Self.limit([signal], block: 512)
        let gains = zip(output[0], signal).map { $0 / $1 }
        let steps = zip(gains.dropFirst(), gains).map { abs($0 - $1) }.filter { $0 > 0 }
        // The ramp over 240 samples (5 ms at 48 kHz) from 1 to 0.22 moves under 0.004 a sample.
        #expect((steps.max() ?? 0) < 0.005, "\(steps.max() ?? 0)")
        #expect(abs(output[0][10_000]) <= PeakLimiter.defaultCeiling + 1e-6)
        #expect(gains[9_700] == 1, "nothing changes before the look-ahead")
    }

    @Test("a stream shorter than the look-ahead comes out whole at the flush; NaN does not poison the gain")
    func short() {
        let quiet: [Float] = [0.1, -0.2, 0.3, 0.8, -0.1]
        #expect(Self.limit([quiet], block: 2).output[0] == quiet)
        let spiked: [Float] = [0.1, -0.2, 0.3, 2, -0.1]
        let (output, _) = Self.limit([spiked], block: 2)
        #expect(output[0].count == 5 && output[0].allSatisfy { abs($0) <= PeakLimiter.defaultCeiling + 1e-6 })
        #expect(output[0][4] < 0 && output[0][0] > 0, "the samples keep their order and sign")

        var poisoned = Self.sine(0.5, 440, count: 4800)
        poisoned[100] = .nan
        let (clean, _) = Self.limit([poisoned])
        #expect(clean[0][2000] == poisoned[2000], "the gain stays 1 around a NaN")
    }

    @Test("the loudness meter takes a float source's infinities and huge values without trapping, and measures a tone")
    func meterBounds() {
        let meter = LoudnessMeter(channels: 1, sampleRate: 48_000)
        let pcm = PCMBuffer(channels: .mono, capacity: 4800)
        for block in 0..<20 {
            for index in 0..<4800 { pcm.planes[0][index] = block % 2 == 0 ? .infinity : (index % 2 == 0 ? 1e38 : -.greatestFiniteMagnitude) }
            meter.add(pcm, range: 0..<4800)
        }
        let loud = meter.integratedLoudness
        #expect(loud.map { $0.isFinite } == true, "\(String(describing: loud))")

        let tone = LoudnessMeter(channels: 1, sampleRate: 48_000)
        let sine = Self.sine(0.1, 1000, count: 48_000 * 3)
        for start in stride(from: 0, to: sine.count, by: 4800) {
            for index in 0..<4800 { pcm.planes[0][index] = sine[start + index] }
            tone.add(pcm, range: 0..<4800)
        }
        // A 1 kHz sine of amplitude 0.1: −23.0 dB mean square; at 1 kHz the K-weighting's gain
        // and the standard's −0.691 cancel, so −23.0 LUFS.
        let measured = tone.integratedLoudness ?? 0
        #expect(abs(measured - -23.0) < 0.3, "\(measured)")
    }
}
