import VMP3Core

/// The planar float samples of one segment: written by the pipeline's thread while the thread
/// that encodes them reads them, which gives the memory back as it goes.
///
/// `@unchecked Sendable`: the counts and the list of blocks are read and written only with the
/// ``SegmentFlow``'s lock held. A block's samples are written outside it, but only past ``count``,
/// which the reader never reads, and `count` moves past them only afterwards, under the lock,
/// which orders the writes before the reader's reads.
final class SegmentSamples: @unchecked Sendable {
    /// Samples of one plane that lie together in memory.
    struct Run {
        let left: UnsafePointer<Float>
        /// `left` again for one channel.
        let right: UnsafePointer<Float>
        let count: Int
    }

    let capacity: Int
    private let pool: SampleBlockPool
    private let flow: SegmentFlow
    private var written = 0
    /// No more samples will come: it is full, or the input ended (or the conversion was abandoned).
    private var ended = false
    /// Block `i` holds samples `i · blockSamples ..< (i + 1) · blockSamples`; `nil` once given back.
    private var blocks: [UnsafeMutablePointer<Float>?] = []
    /// Blocks before this one are given back.
    private var givenBack = 0
    /// Samples the reader is done with.
    private var read = 0
    /// What a waiting reader waits for: this many samples written (`Int.max` when none waits).
    private var readerWants = Int.max
    /// What a waiting writer waits for: the reader's lead down to this (`nil` when none waits).
    private var writerWantsLead: Int?
    /// The writer was woken when the reader came within the flow's `finishingLead` of the end.
    private var finishingAnnounced = false
    /// The reader's encoder is done with the segment (encoded, failed or abandoned).
    private var done = false

    private static var blockSamples: Int { SampleBlockPool.blockSamples }

    init(capacity: Int, pool: SampleBlockPool, flow: SegmentFlow = SegmentFlow()) {
        self.capacity = capacity
        self.pool = pool
        self.flow = flow
    }

    deinit {
        for case let block? in blocks { pool.give(block) }
    }

    /// Samples written so far.
    var count: Int { flow.withLock { written } }

    var isFull: Bool { count == capacity }

    /// Whether its encoder is done, or soon will be: all its samples are written and its reader
    /// has no more than the flow's `finishingLead` of them left (with the flow's lock held).
    var isFinishingWithLockHeld: Bool { done || (ended && written - read <= flow.finishingLead) }

    /// The reader's encoder is done with the segment: the writer, if it waits, looks again.
    func readerDone() {
        flow.withLock {
            done = true
            flow.wakeWriter()
        }
    }

    /// While `busy` holds and the reader has `lead` samples or more still to read, waits until it
    /// is down to `resume` or `busy` no longer holds (evaluated with the flow's lock held; whoever
    /// makes it false must wake the writer).
    func waitForReader(whileLeadReaches lead: Int, resumeAt resume: Int, busy: () -> Bool) {
        flow.withLock {
            guard busy(), written - read >= lead else { return }
            writerWantsLead = resume
            flow.waitAsWriter { !busy() || written - read <= resume }
            writerWantsLead = nil
        }
    }

    /// Appends samples `range` of `pcm` (which has the pool's channels), which must fit; the
    /// segment ends when it is full.
    ///
    /// - Throws: `encoding_failed` if no memory can be mapped for them.
    func append(_ pcm: PCMBuffer, range: Range<Int>) throws(ConversionError) {
        let size = Self.blockSamples
        var source = range.lowerBound
        var position = flow.withLock { written }
        while source < range.upperBound {
            let (index, within) = position.quotientAndRemainder(dividingBy: size)
            var block = flow.withLock { index < blocks.count ? blocks[index] : nil }
            if block == nil {
                let taken = try pool.take()
                flow.withLock { blocks.append(taken) }
                block = taken
            }
            guard let block else { return }
            let length = min(size - within, range.upperBound - source)
            for (plane, samples) in pcm.planes.prefix(pool.channels).enumerated() {
                (block + plane * size + within).update(from: samples + source, count: length)
            }
            position += length
            source += length
        }
        flow.withLock {
            written = position
            if written >= capacity { ended = true }
            if written >= readerWants || ended { flow.wakeReaders() }
        }
    }

    /// No more samples come: the input ended before the segment was full, or the conversion
    /// is abandoned. A reader waiting for more reads what there is and stops.
    func end() {
        flow.withLock {
            ended = true
            flow.wakeReaders()
        }
    }

    /// The samples from `offset` to at most `maximum` later, as far as they lie together in
    /// memory (to the end of a block). Waits until all of those are written, or the segment
    /// ended: a reader given a part would be back at once for the rest, and each wait costs the
    /// two threads a switch. `nil` past the last sample of an ended segment, and for samples
    /// given back.
    func run(from offset: Int, maximum: Int) -> Run? {
        let size = Self.blockSamples
        let (index, within) = offset.quotientAndRemainder(dividingBy: size)
        guard offset >= 0, maximum > 0 else { return nil }
        let wanted = min(offset + maximum, (index + 1) * size, capacity)
        return flow.withLock {
            if written < wanted, !ended {
                readerWants = wanted
                flow.waitAsReader { written >= wanted || ended }
                readerWants = .max
            }
            guard offset < written, index >= givenBack, let start = blocks[index] else { return nil }
            let block = UnsafePointer(start) + within
            let length = min(maximum, size - within, written - offset)
            return Run(left: block, right: pool.channels == 2 ? block + size : block, count: length)
        }
    }

    /// The reader is done with the samples before `offset`: the blocks wholly before it go back to
    /// the pool, and a writer waiting for the reader's lead to fall is woken once it has.
    func discard(upTo offset: Int) {
        flow.withLock {
            read = max(read, offset)
            let end = min(offset / Self.blockSamples, blocks.count)
            while givenBack < end {
                if let block = blocks[givenBack] { pool.give(block) }
                blocks[givenBack] = nil
                givenBack += 1
            }
            if let writerWantsLead, written - read <= writerWantsLead {
                flow.wakeWriter()
            } else if !finishingAnnounced, isFinishingWithLockHeld {
                finishingAnnounced = true
                flow.wakeWriter()
            }
        }
    }
}
