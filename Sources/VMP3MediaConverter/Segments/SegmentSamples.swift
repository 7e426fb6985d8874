import VMP3Core

/// The planar float samples of one segment: filled by the pipeline's thread, then handed to the
/// thread that encodes them, which gives the memory back as it reads.
///
/// `@unchecked Sendable`: the producer writes it only before ``SegmentedMP3Encoder`` hands it to
/// an encoding thread and never touches it afterwards; the lock of ``EncodingWorkers``' queue
/// orders those writes before the encoding thread's reads. One owner at a time, so no lock of its
/// own (the blocks' pool, which both threads use, has one).
final class SegmentSamples: @unchecked Sendable {
    /// Samples of one plane that lie together in memory.
    struct Run {
        let left: UnsafePointer<Float>
        /// `left` again for one channel.
        let right: UnsafePointer<Float>
        let count: Int
    }

    let capacity: Int
    private(set) var count = 0
    private let pool: SampleBlockPool
    /// Block `i` holds samples `i · blockSamples ..< (i + 1) · blockSamples`; `nil` once given back.
    private var blocks: [UnsafeMutablePointer<Float>?] = []
    /// Blocks before this one are given back.
    private var givenBack = 0

    private static var blockSamples: Int { SampleBlockPool.blockSamples }

    init(capacity: Int, pool: SampleBlockPool) {
        self.capacity = capacity
        self.pool = pool
    }

    deinit {
        for case let block? in blocks { pool.give(block) }
    }

    var isFull: Bool { count == capacity }

    /// Appends samples `range` of `pcm` (which has the pool's channels), which must fit.
    ///
    /// - Throws: `encoding_failed` if no memory can be mapped for them.
    func append(_ pcm: PCMBuffer, range: Range<Int>) throws(ConversionError) {
        let size = Self.blockSamples
        var source = range.lowerBound
        while source < range.upperBound {
            let (index, within) = count.quotientAndRemainder(dividingBy: size)
            if index == blocks.count { blocks.append(try pool.take()) }
            guard let block = blocks[index] else { return }
            let length = min(size - within, range.upperBound - source)
            for (plane, samples) in pcm.planes.prefix(pool.channels).enumerated() {
                (block + plane * size + within).update(from: samples + source, count: length)
            }
            count += length
            source += length
        }
    }

    /// The samples from `offset` to at most `maximum` later, as far as they lie together in
    /// memory (to the end of a block); `nil` if there are none there (past ``count``, or given back).
    func run(from offset: Int, maximum: Int) -> Run? {
        let size = Self.blockSamples
        let (index, within) = offset.quotientAndRemainder(dividingBy: size)
        guard offset >= 0, offset < count, maximum > 0, let start = blocks[index] else { return nil }
        let block = UnsafePointer(start) + within
        let length = min(maximum, size - within, count - offset)
        return Run(left: block, right: pool.channels == 2 ? block + size : block, count: length)
    }

    /// Gives the blocks wholly before `offset` back to the pool (the encoder has read them).
    func discard(upTo offset: Int) {
        let end = min(offset / Self.blockSamples, blocks.count)
        while givenBack < end {
            if let block = blocks[givenBack] { pool.give(block) }
            blocks[givenBack] = nil
            givenBack += 1
        }
    }
}
