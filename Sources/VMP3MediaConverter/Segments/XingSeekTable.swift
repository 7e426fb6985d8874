/// The Xing frame's table of contents, built as LAME builds it: from the running sum of the
/// frames' bit rates, sampled into at most 400 points (halved, and sampled half as often, each
/// time it fills), so its size does not grow with the stream.
struct XingSeekTable: Sendable, Equatable {
    private var points: [Int] = []
    private var sum = 0
    private var seen = 0
    private var every = 1
    private static let capacity = 400

    mutating func add(kilobitsPerSecond: Int) {
        sum += kilobitsPerSecond
        seen += 1
        guard seen >= every else { return }
        if points.count < Self.capacity {
            points.append(sum)
            seen = 0
        }
        if points.count == Self.capacity {
            points = stride(from: 1, to: Self.capacity, by: 2).map { points[$0] }
            every *= 2
        }
    }

    /// The 100 entries: entry i is the position, in 256ths of the stream, at i % of its length.
    var entries: [UInt8] {
        var table = [UInt8](repeating: 0, count: 100)
        guard !points.isEmpty, sum > 0 else { return table }
        for entry in 1..<100 {
            // Single precision, as LAME computes it, so both give the same table.
            let fraction = Float(entry) / 100
            let index = min(Int((fraction * Float(points.count)).rounded(.down)), points.count - 1)
            table[entry] = UInt8(min(255, Int(256 * Double(Float(points[index])) / Double(Float(sum)))))
        }
        return table
    }
}
