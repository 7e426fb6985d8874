import VMP3Core

/// Takes a Layer III stream that LAME wrote apart into ``MP3Frame``s, each with its own main data.
enum MP3FrameSplitter {
    /// The frames of `stream`, which must hold whole frames only (no tags, no CRCs).
    ///
    /// - Throws: `encoding_failed` if the bytes are not such a stream: this reads LAME's output,
    ///   never an upload, so anything else is a fault of the encoder.
    static func frames(in stream: ArraySlice<UInt8>) throws(ConversionError) -> [MP3Frame] {
        var frames: [MP3Frame] = []
        frames.reserveCapacity(stream.count / 96)
        // The main data stream: every frame's slots, one after another.
        var slots: [UInt8] = []
        slots.reserveCapacity(stream.count)
        var slotStarts: [Int] = []
        var offset = stream.startIndex
        while offset < stream.endIndex {
            guard let header = MP3FrameHeader(stream[offset...]), !header.hasCRC,
                  offset + header.byteCount <= stream.endIndex,
                  let frame = MP3Frame(header: header, sideInfo: Array(stream[(offset + 4)..<(offset + 4 + header.sideInfoCount)])) else {
                throw failure("a frame VMP3 cannot read at byte \(offset - stream.startIndex)")
            }
            slotStarts.append(slots.count)
            slots.append(contentsOf: stream[(offset + header.headCount)..<(offset + header.byteCount)])
            frames.append(frame)
            offset += header.byteCount
        }
        var previousEnd = 0
        for index in frames.indices {
            let start = slotStarts[index] - frames[index].mainDataBegin
            let end = start + frames[index].mainDataByteCount
            // Main data begins after the previous frame's and ends within the frame's own slots.
            guard start >= previousEnd, end <= slotStarts[index] + frames[index].header.slotCount else {
                throw failure("frame \(index) places its main data outside the reservoir")
            }
            frames[index].mainData = Array(slots[start..<end])
            previousEnd = end
        }
        return frames
    }

    private static func failure(_ what: String) -> ConversionError {
        ConversionError(code: .encodingFailed, message: "LAME wrote \(what)")
    }
}
