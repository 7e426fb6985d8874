import VMP3Core

/// Joins encoded segments, in order, into one stream written to the output file.
///
/// Segment k's frames are used up to the handover frame j, segment k+1's from j on. j is chosen
/// among the ``SegmentLayout/handover`` frames both encoders encoded, best first:
/// 1. the two encoders' frame j encode the same audio (after a few frames of lead-in LAME's output
///    is usually bit for bit that of an encoder that started at the beginning), they agree on the
///    window of the frame before, and the packed stream's reservoir holds at least what segment
///    k+1's encoder counted on: the decoder's output is that of a single encoder;
/// 2. the windows agree and the reservoir suffices: the join is like any frame boundary;
/// 3. the reservoir suffices.
/// If no frame allows even that, frames after the join get a larger bit rate until the deficit is
/// made up (never seen in testing; the file stays valid, a few frames larger).
final class SegmentJoiner {
    /// How the handovers went, for the log and for tests.
    struct Statistics: Sendable, Equatable {
        var identical = 0
        var matchingWindows = 0
        var reservoirOnly = 0
        var enlargedFrames = 0
    }

    private let layout: SegmentLayout
    private var packer: BitReservoirPacker?
    private var current: EncodedSegment?
    private var nextFrame = 0
    private(set) var lameTag: [UInt8]?
    private(set) var statistics = Statistics()

    init(layout: SegmentLayout) {
        self.layout = layout
    }

    /// Appends `segment`'s frames after the previous segment's; the first segment's LAME/Xing
    /// frame (a placeholder until ``finish(inputSamples:encoderDelay:)``) goes first.
    func join(_ segment: EncodedSegment, to file: AtomicOutputFile) throws(ConversionError) {
        guard let current, let packer else {
            guard let first = segment.frames.first else {
                throw ConversionError(code: .encodingFailed, message: "LAME wrote no frames")
            }
            if let tag = segment.lameTag {
                lameTag = tag
                try file.append(tag)
            }
            packer = BitReservoirPacker(file: file, maxMainDataBegin: first.header.maxMainDataBegin)
            self.current = segment
            nextFrame = segment.firstFrame
            return
        }
        let start = layout.nominalStartFrame(segment.index)
        try emit(current, upTo: start, into: packer)

        var simulated = packer.state
        var best: (frame: Int, rank: Int)?
        for candidate in start..<(start + SegmentLayout.handover) {
            let mine = try current.frame(candidate)
            let theirs = try segment.frame(candidate)
            if simulated.reservoir >= theirs.mainDataBegin {
                let windowsAgree = try current.frame(candidate - 1).lastGranuleWindows == segment.frame(candidate - 1).lastGranuleWindows
                let rank = windowsAgree ? (mine.encodesSameAudio(as: theirs) ? 0 : 1) : 2
                if best.map({ rank < $0.rank }) ?? true { best = (candidate, rank) }
                if rank == 0 { break }
            }
            guard simulated.placement(of: mine) != nil else { break }
            simulated = simulated.advanced(by: mine)
        }
        switch best?.rank {
        case 0: statistics.identical += 1
        case 1: statistics.matchingWindows += 1
        case 2: statistics.reservoirOnly += 1
        default: break
        }
        let handover = best?.frame ?? start
        try emit(current, upTo: handover, into: packer)
        self.current = segment
        if best == nil {
            try enlargeFrames(of: segment, from: handover, into: packer)
        }
    }

    /// Appends the last segment's remaining frames and the frames still held; returns the
    /// completed LAME/Xing frame, if there is one, for the place of the placeholder.
    /// - Parameters:
    ///   - inputSamples: samples per channel given to the encoders.
    ///   - encoderDelay: the silence LAME puts before the first sample.
    func finish(inputSamples: Int64, encoderDelay: Int) throws(ConversionError) -> [UInt8]? {
        guard let current, let packer else { return nil }
        try emit(current, upTo: current.endFrame, into: packer)
        try packer.finish()
        guard let lameTag else { return nil }
        let padding = Int64(packer.frameCount) * Int64(layout.frameSize) - Int64(encoderDelay) - inputSamples
        return LameTagFrame.completing(
            lameTag, frameCount: packer.frameCount, audioByteCount: packer.byteCount,
            seekTable: packer.seekTable.entries, padding: Int(clamping: padding), musicCRC: packer.musicCRC.value
        )
    }

    private func emit(_ segment: EncodedSegment, upTo end: Int, into packer: BitReservoirPacker) throws(ConversionError) {
        while nextFrame < end {
            try packer.append(try segment.frame(nextFrame))
            nextFrame += 1
        }
    }

    /// The last resort at a join: the packed stream holds less reservoir than `segment`'s encoder
    /// counted on, so its frames from `first` on get larger frames until the shortfall is gone.
    private func enlargeFrames(of segment: EncodedSegment, from first: Int, into packer: BitReservoirPacker) throws(ConversionError) {
        while nextFrame < segment.endFrame {
            let frame = try segment.frame(nextFrame)
            let shortfall = frame.mainDataBegin - packer.state.reservoir
            guard shortfall > 0 else { return }
            let original = frame.header
            var header = original
            for index in original.bitrateIndex...14 {
                guard let larger = original.withBitrateIndex(index) else { continue }
                header = larger
                if larger.slotCount - original.slotCount >= shortfall { break }
            }
            try packer.append(frame, header: header)
            statistics.enlargedFrames += 1
            nextFrame += 1
        }
    }
}
