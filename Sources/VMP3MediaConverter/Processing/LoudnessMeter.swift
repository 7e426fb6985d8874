#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Integrated loudness per ITU-R BS.1770-4 / EBU R128, in LUFS, of planar float audio fed to it
/// a block at a time.
///
/// K-weighting (the standard's high shelf and high-pass, their coefficients derived for any
/// sample rate as libebur128 does), mean squares over 400 ms blocks overlapping by 75 %, an
/// absolute gate at −70 LUFS and a relative gate 10 LU under the loudness of the blocks above it.
/// Memory is fixed whatever the length: blocks are kept as a histogram of their loudness in
/// 0.05 LU steps (with each bin's exact sum of energies), which moves the relative gate by at
/// most 0.05 LU and leaves the sums exact. Every channel has weight 1: the meter measures the
/// MP3's own mono or stereo signal, after the downmix.
final class LoudnessMeter {
    private struct Biquad {
        var b0, b1, b2, a1, a2: Double
        var z1 = 0.0, z2 = 0.0

        init(b0: Double, b1: Double, b2: Double, a1: Double, a2: Double) {
            (self.b0, self.b1, self.b2, self.a1, self.a2) = (b0, b1, b2, a1, a2)
        }

        mutating func process(_ x: Double) -> Double {
            let y = b0 * x + z1
            z1 = b1 * x - a1 * y + z2
            z2 = b2 * x - a2 * y
            return y
        }
    }

    static let absoluteGate = -70.0
    private static let sampleBound = Double(LameEncoder.sampleBound)
    static let relativeGate = -10.0
    private static let binWidth = 0.05
    private static let lowest = -70.0, highest = 10.0

    private let channelCount: Int
    private var shelves: [Biquad]
    private var highPasses: [Biquad]
    /// Samples per 100 ms step; a gating block is four steps.
    private let stepLength: Int
    private var stepPosition = 0
    /// The current step's sum of squares, per channel.
    private var stepSums: [Double]
    /// The last four steps' mean squares summed over the channels, newest last.
    private var recentSteps: [Double] = []
    private var counts: [Int]
    private var energies: [Double]

    init(channels: Int, sampleRate: Int) {
        channelCount = channels
        let rate = Double(sampleRate)
        // Stage 1: the head's high shelf (+4 dB above about 1.7 kHz).
        var k = tan(Double.pi * 1681.974450955533 / rate)
        let q1 = 0.7071752369554196, vh = pow(10, 3.999843853973347 / 20), vb = pow(vh, 0.4996667741545416)
        var a0 = 1 + k / q1 + k * k
        let shelf = Biquad(
            b0: (vh + vb * k / q1 + k * k) / a0, b1: 2 * (k * k - vh) / a0, b2: (vh - vb * k / q1 + k * k) / a0,
            a1: 2 * (k * k - 1) / a0, a2: (1 - k / q1 + k * k) / a0
        )
        // Stage 2: the RLB high-pass (about 38 Hz).
        k = tan(Double.pi * 38.13547087602444 / rate)
        let q2 = 0.5003270373238773
        a0 = 1 + k / q2 + k * k
        let highPass = Biquad(b0: 1, b1: -2, b2: 1, a1: 2 * (k * k - 1) / a0, a2: (1 - k / q2 + k * k) / a0)
        shelves = Array(repeating: shelf, count: channels)
        highPasses = Array(repeating: highPass, count: channels)
        stepLength = max(1, sampleRate / 10)
        stepSums = Array(repeating: 0, count: channels)
        let bins = Int(((Self.highest - Self.lowest) / Self.binWidth).rounded()) + 1
        counts = Array(repeating: 0, count: bins)
        energies = Array(repeating: 0, count: bins)
    }

    /// Adds the samples `range` of `pcm`.
    func add(_ pcm: PCMBuffer, range: Range<Int>) {
        var index = range.lowerBound
        while index < range.upperBound {
            let count = min(range.upperBound - index, stepLength - stepPosition)
            for channel in 0..<channelCount {
                let plane = pcm.planes[channel]
                var sum = 0.0
                for sample in index..<(index + count) {
                    let value = Double(plane[sample])
                    // NaN counts as silence, and a float source's huge values are clamped as LAME's
                    // input is (±8), so that no sum becomes infinite or NaN.
                    let bounded = value.isNaN ? 0 : min(max(value, -Self.sampleBound), Self.sampleBound)
                    let weighted = highPasses[channel].process(shelves[channel].process(bounded))
                    sum += weighted * weighted
                }
                stepSums[channel] += sum
            }
            stepPosition += count
            index += count
            if stepPosition == stepLength { endStep() }
        }
    }

    private func endStep() {
        let power = stepSums.reduce(0, +) / Double(stepLength)
        stepSums = Array(repeating: 0, count: channelCount)
        stepPosition = 0
        recentSteps.append(power)
        if recentSteps.count > 4 { recentSteps.removeFirst() }
        guard recentSteps.count == 4 else { return }
        let energy = recentSteps.reduce(0, +) / 4
        let loudness = Self.loudness(energy)
        guard loudness.isFinite, loudness >= Self.absoluteGate else { return }
        // Clamped before the conversion to Int: the loudest bin holds everything above it.
        let bin = Int((min(loudness, Self.highest) - Self.lowest) / Self.binWidth)
        let index = min(bin, counts.count - 1)
        counts[index] += 1
        energies[index] += energy
    }

    private static func loudness(_ energy: Double) -> Double {
        energy > 0 ? -0.691 + 10 * log10(energy) : -.infinity
    }

    /// The integrated loudness in LUFS; `nil` when no block is above the absolute gate (silence,
    /// or less than 400 ms of sound).
    var integratedLoudness: Double? {
        let blocks = counts.reduce(0, +)
        guard blocks > 0 else { return nil }
        let ungated = Self.loudness(energies.reduce(0, +) / Double(blocks))
        let threshold = ungated + Self.relativeGate
        var count = 0, energy = 0.0
        for bin in counts.indices where Self.lowest + Double(bin + 1) * Self.binWidth > threshold {
            count += counts[bin]
            energy += energies[bin]
        }
        return count > 0 ? Self.loudness(energy / Double(count)) : nil
    }
}
