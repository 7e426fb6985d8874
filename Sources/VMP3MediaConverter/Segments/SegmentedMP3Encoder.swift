import Dispatch
import Foundation
import Logging
import VMP3Core

/// Encodes one stream on several threads: the samples are cut into overlapping segments
/// (``SegmentLayout``), each segment is encoded by a LAME encoder of its own on one of `threads`
/// ``EncodingWorkers``, and ``SegmentJoiner`` joins the frames into one stream with one LAME/Xing
/// frame.
///
/// Samples arrive in order on the pipeline's thread, which also writes the output: it fills a
/// segment, hands it to the workers, and joins finished segments in order. At most `threads`
/// segments are encoded at once and one more waits, full, for the first worker free; the pipeline
/// fills the next only once a worker has taken the waiting one, so memory is bounded by the
/// segment length, not the input's. The waiting segment is what keeps both cores busy: without it
/// a worker that finished had nothing to do until the pipeline filled the next one, and Linux gave
/// its core to no one for up to a scheduler tick (4 ms) while the pipeline and the other worker
/// shared the other core (2.73 s against 2.56 s for the 10-minute benchmark input, for 2 MB more
/// at the peak). Filling a second one ahead, as before, held one more segment (2.2 MB at 44.1 kHz
/// stereo) and gained nothing: filling takes a few milliseconds, encoding tens.
final class SegmentedMP3Encoder: MP3StreamEncoder {
    let settings: LameEncoder.Settings
    let layout: SegmentLayout
    let threads: Int
    private let requested: LameEncoder.Settings
    private let encoderDelay: Int
    private let stop: StopCondition
    /// Set when the conversion is abandoned, so that the encoding threads stop early.
    private let abandoned = CancellationFlag()
    private let joiner: SegmentJoiner
    private let logger: Logger

    private var received: Int64 = 0
    private var open: [(index: Int, samples: SegmentSamples)] = []
    private var nextSegment = 0
    private var encoding: [SegmentJob] = []
    /// Signalled by a worker each time it takes a segment.
    private let taken = DispatchSemaphore(value: 0)
    /// Segments handed to the workers that no worker has been seen to take.
    private var waitingForWorker = 0
    private var completedTag: [UInt8]?
    private let workers: EncodingWorkers
    /// The memory of the segments' samples (the pipeline's buffers have the encoder's channels).
    private let blocks: SampleBlockPool

    /// Blocks of samples mapped so far: what the segments held at most, together.
    var sampleBlocksMapped: Int { blocks.blocksMapped }

    /// - Parameters:
    ///   - threads: segments encoded at once (2 or more to gain anything).
    init(
        _ requested: LameEncoder.Settings, threads: Int, stop: StopCondition, logger: Logger
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
        // being encoded stop early, and releasing `workers` then waits for its threads to exit.
        abandoned.cancel()
        for job in encoding { _ = job.wait() }
    }

    /// How the handovers between segments went.
    var statistics: SegmentJoiner.Statistics { joiner.statistics }

    /// Segments encoded (or being encoded) so far.
    private(set) var segmentsStarted = 0

    func encode(_ pcm: PCMBuffer, range: Range<Int>, to file: AtomicOutputFile) throws(ConversionError) {
        guard !range.isEmpty else { return }
        for plane in pcm.planes {
            LameEncoder.sanitize(plane + range.lowerBound, count: range.count)
        }
        // Fill nothing more while a full segment still waits for a worker.
        while waitingForWorker > 0 {
            taken.wait()
            waitingForWorker -= 1
        }
        let blockStart = received
        let blockEnd = received + Int64(range.count)
        while layout.firstSample(nextSegment) < blockEnd {
            open.append((nextSegment, SegmentSamples(capacity: layout.capacity(nextSegment), pool: blocks)))
            nextSegment += 1
        }
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
            try start(first.index, first.samples, to: file)
        }
        // Join what is done, so its memory goes as soon as possible.
        while let first = encoding.first, first.isFinished {
            try joinOldest(to: file)
        }
    }

    func flush(to file: AtomicOutputFile) throws(ConversionError) {
        // The oldest open segment holds every sample up to the end; any later one only repeats them.
        if let last = open.first {
            open.removeAll()
            try start(last.index, last.samples, to: file)
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

    /// Hands segment `index` to the workers.
    private func start(_ index: Int, _ samples: SegmentSamples, to file: AtomicOutputFile) throws(ConversionError) {
        // Only a segment slower than the ones after it keeps them here: the pace is set in `encode`.
        while encoding.count > maximumUnjoined {
            try joinOldest(to: file)
        }
        segmentsStarted += 1
        let job = SegmentJob(index: index)
        let settings = requested
        let firstFrame = layout.firstFrame(index)
        let stop = stop
        let abandoned = abandoned
        let taken = taken
        waitingForWorker += 1
        workers.run {
            taken.signal()
            job.complete(Result { () throws(ConversionError) in
                try Self.encodeSegment(index, samples, firstFrame: firstFrame, settings: settings, stop: stop, abandoned: abandoned)
            })
        }
        encoding.append(job)
    }

    private func joinOldest(to file: AtomicOutputFile) throws(ConversionError) {
        let job = encoding.removeFirst()
        try joiner.join(try job.wait().get(), to: file)
    }

    /// Encodes one segment's samples with an encoder of its own (run on the segment's thread).
    private static func encodeSegment(
        _ index: Int, _ samples: SegmentSamples, firstFrame: Int, settings: LameEncoder.Settings,
        stop: StopCondition, abandoned: CancellationFlag
    ) throws(ConversionError) -> EncodedSegment {
        let encoder = try LameEncoder(settings, writesLameTag: index == 0)
        var bytes: [UInt8] = []
        var offset = 0
        let chunk = 8 * encoder.frameSize
        while offset < samples.count {
            if let reason = stop.reason { throw stop.error(reason) }
            if abandoned.isCancelled { throw .cancelled() }
            // LAME buffers what it is given, so cutting the calls at the blocks' ends changes nothing.
            guard let run = samples.run(from: offset, maximum: chunk) else {
                throw ConversionError(code: .encodingFailed, message: "segment \(index) has no samples at \(offset)")
            }
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
