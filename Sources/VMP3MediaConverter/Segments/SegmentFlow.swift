import VMP3Core

/// The pace between the pipeline's thread, which writes the segments' samples, and the encoding
/// threads, which read them as they come: one lock and condition for all of a conversion's
/// segments (``SegmentSamples`` keeps its counts under it).
///
/// A segment goes to an encoder before it is full, so no encoder waits for a whole segment to be
/// decoded, and while every encoder has work the pipeline stays a few blocks ahead of the newest
/// segment's encoder. It runs further ahead only when an encoder has nothing to do: it must then
/// decode the rest of the segment that another encoder is still reading before it reaches the
/// next segment, and that rest (one segment at most) is the most it holds.
///
/// `@unchecked Sendable`: its counts, and those of the segments that share it, are read and
/// written only with `condition` locked.
final class SegmentFlow: @unchecked Sendable {
    private let condition = ConditionLock()
    /// Whether the pipeline's thread waits on `condition`, and how many encoding threads do: a
    /// change wakes the side it concerns only when that side waits. Every wake costs two switches
    /// between threads and the caches of the one woken; waking an encoder for every buffer the
    /// pipeline wrote cost 12 % more processor time.
    private var writerWaiting = false
    private var readersWaiting = 0
    /// An encoder with no more than this many samples left to read in its segment is finishing:
    /// the pipeline runs ahead to the next segment's samples, so that they are there when it ends.
    let finishingLead: Int

    init(finishingLead: Int = 4 * SampleBlockPool.blockSamples) {
        self.finishingLead = finishingLead
    }

    /// Runs `body` with the lock held.
    func withLock<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// With the lock held, on the pipeline's thread: waits until `ready` (evaluated with the lock
    /// held) is true.
    func waitAsWriter(until ready: () -> Bool) {
        while !ready() {
            writerWaiting = true
            condition.wait()
            writerWaiting = false
        }
    }

    /// With the lock held, on an encoding thread: waits until `ready` (evaluated with the lock
    /// held) is true.
    func waitAsReader(until ready: () -> Bool) {
        while !ready() {
            readersWaiting += 1
            condition.wait()
            readersWaiting -= 1
        }
    }

    /// With the lock held: has the pipeline's thread look again, if it waits.
    func wakeWriter() {
        if writerWaiting { condition.broadcast() }
    }

    /// With the lock held: has the encoding threads that wait look again.
    func wakeReaders() {
        if readersWaiting > 0 { condition.broadcast() }
    }
}
