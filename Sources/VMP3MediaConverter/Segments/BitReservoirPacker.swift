import VMP3Core

/// Lays out frames from any number of encoders as one valid Layer III stream and appends it to
/// the output file.
///
/// Each frame's main data goes as early as the reservoir allows: right after the previous
/// frame's main data, but no further back than ``MP3FrameHeader/maxMainDataBegin``; the frame's
/// `main_data_begin` is rewritten to match. Unused slots are zero. Placed this way, a frame sees at
/// least as much reservoir as the encoder that made it counted on, provided the first frame from
/// that encoder did (``ReservoirState/reservoir``): so frames of one encoder always fit, and a join
/// only has to check its first frame (mp3packer lays out frames the same way).
///
/// It also keeps what the LAME/Xing frame reports: frame count, bytes, seek table and the CRC-16
/// of the audio.
final class BitReservoirPacker {
    /// Where the main data stream stands: enough to tell whether a frame fits.
    struct ReservoirState: Equatable {
        /// Slot bytes of all frames placed so far.
        var slotEnd = 0
        /// End of the last frame's main data (never after `slotEnd`).
        var dataEnd = 0
        let maxMainDataBegin: Int

        /// Bytes of main data a next frame may put before its own slots.
        var reservoir: Int { slotEnd - max(dataEnd, slotEnd - maxMainDataBegin) }

        /// Where `frame`'s main data would begin in the main data stream, or `nil` if it does
        /// not fit in the reservoir and the frame's own slots.
        func placement(of frame: MP3Frame, header: MP3FrameHeader? = nil) -> Int? {
            let start = max(dataEnd, slotEnd - maxMainDataBegin)
            return start + frame.mainData.count <= slotEnd + (header ?? frame.header).slotCount ? start : nil
        }

        /// The state after `frame` is placed (it must fit).
        func advanced(by frame: MP3Frame, header: MP3FrameHeader? = nil) -> ReservoirState {
            var next = self
            next.dataEnd = (placement(of: frame, header: header) ?? dataEnd) + frame.mainData.count
            next.slotEnd += (header ?? frame.header).slotCount
            return next
        }
    }

    /// A frame written to the packer but not yet to the file: later frames may still put their
    /// main data in its slots.
    private struct PendingFrame {
        var head: [UInt8]
        var slotStart: Int
        var slots: [UInt8]
    }

    private let file: AtomicOutputFile
    private(set) var state: ReservoirState
    private var pending: [PendingFrame] = []
    private(set) var frameCount = 0
    private(set) var byteCount: Int64 = 0
    private(set) var musicCRC = CRC16()
    private(set) var seekTable = XingSeekTable()

    init(file: AtomicOutputFile, maxMainDataBegin: Int) {
        self.file = file
        state = ReservoirState(maxMainDataBegin: maxMainDataBegin)
    }

    /// Places `frame`, with `header` in place of its own if given (a join that needed a larger
    /// frame), and writes out the frames no later frame can reach.
    /// - Throws: `encoding_failed` if it does not fit (``ReservoirState/placement(of:header:)``);
    ///   a file error.
    func append(_ frame: MP3Frame, header: MP3FrameHeader? = nil) throws(ConversionError) {
        let header = header ?? frame.header
        guard let start = state.placement(of: frame, header: header) else {
            throw ConversionError(code: .encodingFailed, message: "a frame's main data does not fit in the bit reservoir at a segment join")
        }
        pending.append(PendingFrame(
            head: header.bytes + frame.sideInfo(withMainDataBegin: state.slotEnd - start),
            slotStart: state.slotEnd,
            slots: [UInt8](repeating: 0, count: header.slotCount)
        ))
        // The main data runs from `start` through the slots of the pending frames it reaches.
        let end = start + frame.mainData.count
        for index in pending.indices.reversed() {
            let slotStart = pending[index].slotStart
            let slotEnd = slotStart + pending[index].slots.count
            if slotEnd <= start { break }
            let low = max(start, slotStart)
            let high = min(end, slotEnd)
            if low < high {
                pending[index].slots.replaceSubrange((low - slotStart)..<(high - slotStart), with: frame.mainData[(low - start)..<(high - start)])
            }
        }
        state = state.advanced(by: frame, header: header)
        frameCount += 1
        seekTable.add(kilobitsPerSecond: header.kilobitsPerSecond)
        // A frame whose slots all lie further back than any later frame may begin is complete.
        let reach = state.slotEnd - state.maxMainDataBegin
        var complete = 0
        while complete < pending.count - 1, pending[complete].slotStart + pending[complete].slots.count <= reach {
            complete += 1
        }
        try write(complete)
    }

    /// Writes out every frame still held.
    func finish() throws(ConversionError) {
        try write(pending.count)
    }

    private func write(_ count: Int) throws(ConversionError) {
        guard count > 0 else { return }
        for frame in pending.prefix(count) {
            let bytes = frame.head + frame.slots
            musicCRC.update(bytes)
            byteCount += Int64(bytes.count)
            try file.append(bytes)
        }
        pending.removeFirst(count)
    }
}
