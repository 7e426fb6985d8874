import VMP3Core

/// The planar float samples of one segment: filled by the pipeline's thread, then handed to the
/// thread that encodes them.
///
/// `@unchecked Sendable`: the producer writes it only before ``SegmentedMP3Encoder`` starts the
/// encoding thread and never touches it afterwards; `Thread.start()` orders those writes before
/// the encoding thread's reads. One owner at a time, so no lock.
final class SegmentSamples: @unchecked Sendable {
    let capacity: Int
    private(set) var count = 0
    let planes: [UnsafeMutablePointer<Float>]

    init(channels: Int, capacity: Int) {
        self.capacity = capacity
        planes = (0..<channels).map { _ in .allocate(capacity: capacity) }
    }

    deinit {
        planes.forEach { $0.deallocate() }
    }

    var isFull: Bool { count == capacity }

    /// Appends samples `range` of `pcm`, which must fit.
    func append(_ pcm: PCMBuffer, range: Range<Int>) {
        for (plane, source) in zip(planes, pcm.planes) {
            (plane + count).update(from: source + range.lowerBound, count: range.count)
        }
        count += range.count
    }
}
