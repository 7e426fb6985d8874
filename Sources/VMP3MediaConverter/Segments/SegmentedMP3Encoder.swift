#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import VMP3Core

/// Encodes one stream on several threads: the samples are cut into overlapping segments
/// (``SegmentLayout``), each segment is encoded by a LAME encoder of its own on one of `threads`
/// ``EncodingWorkers``, and ``SegmentJoiner`` joins the frames into one stream with one LAME/Xing
/// frame.
///
/// Samples arrive in order on the pipeline's thread, which also writes the output. The oldest
/// segment still being written goes to the workers at once, and its encoder reads the samples as
/// they come; the next one follows as soon as it is full. While every worker has a segment, the
/// pipeline stays at most ``paceAhead`` samples ahead of the newest segment's encoder
/// (``SegmentFlow``); when a worker finishes, it runs ahead to the next segment's samples. Memory is
/// bounded by about one segment and a few blocks, whatever the input's length.
///
/// Because a worker reads a segment as it is written, no full segment waits in reserve for the
/// next worker free: a worker that finishes waits only for the first blocks of its next segment,
/// and while it waits, its core decodes them (Docs/conversion.md, "Parallel encoding (segments)").
final class SegmentedMP3Encoder: MP3StreamEncoder {
    let settings: LameEncoder.Configuration
    let layout: SegmentLayout
    let threads: Int
    private let requested: LameEncoder.Configuration
    private let encoderDelay: Int
    private let stop: StopCondition
    /// Set when the conversion is abandoned, so that the encoding threads stop early.
    private let abandoned = CancellationFlag()
    private let joiner: SegmentJoiner
    private let logger: Logger

    private var received: Int64 = 0
    /// Segments being written, oldest first; only the oldest may have been handed to the workers.
    private var open: [(index: Int, samples: SegmentSamples, handed: Bool)] = []
    private var nextSegment = 0
    private var encoding: [SegmentJob] = []
    /// The pace between the pipeline and the workers, shared with the segments.
    private let flow = SegmentFlow(finishingLead: paceAhead)
    /// The samples of the segments in `encoding`, in the same order; the newest is the one the
    /// pipeline keeps pace with.
    private var handed: [SegmentSamples] = []
    private var completedTag: [UInt8]?
    private let workers: EncodingWorkers
    /// The memory of the segments' samples (the pipeline's buffers have the encoder's channels).
    private let blocks: SampleBlockPool

    /// Blocks of samples mapped so far: what the segments held at most, together.
    var sampleBlocksMapped: Int { blocks.blocksMapped }

    /// - Parameters:
    ///   - threads: segments encoded at once (2 or more to gain anything).
    init(
        _ requested: LameEncoder.Configuration, threads: Int, stop: StopCondition, logger: Logger
    ) throws(ConversionError) {
        // An encoder made only to learn the settings LAME settles on and its frame geometry.
        let probe = try LameEncoder(requested)
        self.requested = requested
        settings = probe.settings
        encoderDelay = probe.encoderDelay
        layout = SegmentLayout(frameSize: probe.frameSize, sampleRate: Int(probe.settings.sampleRate))
        self.threads = max(1, threads)
        self.stop = stop
        self.logger = logger
        joiner = SegmentJoiner(layout: layout)
        blocks = SampleBlockPool(channels: Int(requested.channels))
        // LAME keeps large arrays on the stack; the size of a Dispatch worker's is plenty.
        workers = try EncodingWorkers(count: self.threads, name: "vmp3-lame", stackSize: 8 << 20)
    }

    deinit {
        // A conversion that failed or was cancelled leaves no thread behind: the segments still
        // being encoded stop early (an encoder waiting for samples is told there are no more),
        // and releasing `workers` then waits for its threads to exit.
        abandoned.cancel()
        for segment in open { segment.samples.end() }
        for job in encoding { _ = job.wait() }
    }

    /// Samples written ahead of the newest segment's encoder at which the pipeline waits while
    /// every worker has a segment, and the lead at which it goes on: four blocks and two (1.5 s
    /// and 0.7 s at 44.1 kHz). Waking a block at a time rather than a chunk keeps the switches
    /// between threads few.
    static let paceAhead = 4 * SampleBlockPool.blockSamples
    static let paceResume = 2 * SampleBlockPool.blockSamples

    /// How the handovers between segments went.
    var statistics: SegmentJoiner.Statistics { joiner.statistics }

    /// Segments encoded (or being encoded) so far.
    private(set) var segmentsStarted = 0

    func encode(_ pcm: PCMBuffer, range: Range<Int>, to file: AtomicOutputFile) throws(ConversionError) {
        guard !range.isEmpty else { return }
        for plane in pcm.planes {
            LameEncoder.sanitize(plane + range.lowerBound, count: range.count)
        }
        keepPace()
        let blockStart = received
        let blockEnd = received + Int64(range.count)
        while layout.firstSample(nextSegment) < blockEnd {
            open.append((nextSegment, SegmentSamples(capacity: layout.capacity(nextSegment), pool: blocks, flow: flow), false))
            nextSegment += 1
        }
        try handOldest(to: file)
        for segment in open {
            let low = max(layout.firstSample(segment.index), blockStart)
            let high = min(layout.endSample(segment.index), blockEnd)
            guard low < high else { continue }
            let offset = range.lowerBound - Int(blockStart)
            try segment.samples.append(pcm, range: (Int(low) + offset)..<(Int(high) + offset))
        }
        received = blockEnd
        while let first = open.first, first.samples.isFull {
            open.removeFirst()
            try handOldest(to: file)
        }
        // Join what is done, so its memory goes as soon as possible.
        while let first = encoding.first, first.isFinished {
            try joinOldest(to: file)
        }
    }

    func flush(to file: AtomicOutputFile) throws(ConversionError) {
        // The oldest open segment holds every sample up to the end; any later one only repeats them
        // (and none of those was handed over: a segment goes only once the one before is full).
        if let last = open.first {
            try handOldest(to: file)
            last.samples.end()
            open.removeAll()
        }
        while !encoding.isEmpty {
            try joinOldest(to: file)
        }
        completedTag = try joiner.finish(inputSamples: received, encoderDelay: encoderDelay)
        let statistics = joiner.statistics
        logger.debug("joined segments", metadata: [
            "segments": "\(segmentsStarted)", "threads": "\(threads)", "identical_handovers": "\(statistics.identical)",
            "window_handovers": "\(statistics.matchingWindows)", "reservoir_handovers": "\(statistics.reservoirOnly)",
            "enlarged_frames": "\(statistics.enlargedFrames)", "sample_blocks": "\(sampleBlocksMapped)",
        ])
    }

    func writeLameTag(to file: AtomicOutputFile, at offset: Int64) throws(ConversionError) {
        guard let completedTag else { return }
        try file.overwrite(completedTag, at: offset)
    }

    /// Segments finished but not yet joined, kept while an earlier one is still being encoded,
    /// at most (their frames only: their samples are gone).
    private var maximumUnjoined: Int { 4 * threads }

    /// While every worker has a segment and the newest one's encoder has ``paceAhead`` samples
    /// still to read, waits until it is down to ``paceResume`` or a worker is free.
    private func keepPace() {
        guard let newest = handed.last else { return }
        let threads = threads
        let handed = handed
        newest.waitForReader(whileLeadReaches: Self.paceAhead, resumeAt: Self.paceResume) {
            handed.count { !$0.isFinishingWithLockHeld } >= threads
        }
    }

    /// Hands the oldest open segment to the workers, unless it has been already.
    private func handOldest(to file: AtomicOutputFile) throws(ConversionError) {
        guard let first = open.first, !first.handed else { return }
        open[0].handed = true
        try start(first.index, first.samples, to: file)
    }

    /// Hands segment `index` to the workers, which read its samples as they are written.
    private func start(_ index: Int, _ samples: SegmentSamples, to file: AtomicOutputFile) throws(ConversionError) {
        // Only a segment slower than the ones after it keeps them here: the pace is set in `encode`.
        // Every segment in `encoding` is full, so each of them finishes without the pipeline.
        while encoding.count > maximumUnjoined {
            try joinOldest(to: file)
        }
        segmentsStarted += 1
        let job = SegmentJob(index: index)
        let settings = requested
        let firstFrame = layout.firstFrame(index)
        let stop = stop
        let abandoned = abandoned
        handed.append(samples)
        workers.run {
            job.complete(Result { () throws(ConversionError) in
                try Self.encodeSegment(index, samples, firstFrame: firstFrame, settings: settings, stop: stop, abandoned: abandoned)
            })
            samples.readerDone()
        }
        encoding.append(job)
    }

    private func joinOldest(to file: AtomicOutputFile) throws(ConversionError) {
        let job = encoding.removeFirst()
        handed.removeFirst()
        try joiner.join(try job.wait().get(), to: file)
    }

    /// Encodes one segment's samples with an encoder of its own (run on the segment's thread).
    private static func encodeSegment(
        _ index: Int, _ samples: SegmentSamples, firstFrame: Int, settings: LameEncoder.Configuration,
        stop: StopCondition, abandoned: CancellationFlag
    ) throws(ConversionError) -> EncodedSegment {
        let encoder = try LameEncoder(settings, writesLameTag: index == 0)
        var bytes: [UInt8] = []
        var offset = 0
        let chunk = 8 * encoder.frameSize
        while true {
            if let reason = stop.reason { throw stop.error(reason) }
            if abandoned.isCancelled { throw .cancelled() }
            // LAME buffers what it is given, so cutting the calls at the blocks' ends, or wherever
            // the pipeline has got to, changes nothing.
            guard let run = samples.run(from: offset, maximum: chunk) else { break }
            try encoder.encode(left: run.left, right: run.right, count: run.count) { (output: UnsafeRawBufferPointer) throws(ConversionError) in
                bytes.append(contentsOf: output)
            }
            offset += run.count
            samples.discard(upTo: offset)
        }
        try encoder.flush { (output: UnsafeRawBufferPointer) throws(ConversionError) in bytes.append(contentsOf: output) }
        let tag = index == 0 ? encoder.lameTagFrame() : nil
        let frames = try MP3FrameSplitter.frames(in: bytes[(tag?.count ?? 0)...])
        return EncodedSegment(index: index, firstFrame: firstFrame, frames: frames, lameTag: tag)
    }
}
