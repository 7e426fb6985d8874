/// One Layer III frame taken apart at the bit reservoir: its header and side information, and
/// the main data (scale factors and Huffman-coded spectrum) that may live in earlier frames.
///
/// An encoder places a frame's main data up to ``MP3FrameHeader/maxMainDataBegin`` bytes before
/// the frame itself, in space earlier frames left unused. Once taken apart, frames from different
/// encoders can be laid out afresh by ``BitReservoirPacker``.
struct MP3Frame: Sendable, Equatable {
    var header: MP3FrameHeader
    /// Side information as the encoder wrote it (its `main_data_begin` is rewritten on packing).
    var sideInfo: [UInt8]
    /// The main data: the bytes the granules' `part2_3_length` fields cover, rounded up.
    var mainData: [UInt8]
    /// `main_data_begin` as the encoder wrote it: how much reservoir the encoder counted on.
    var mainDataBegin: Int
    /// Per channel, the block type and mixed-block flag of the frame's last granule. The next
    /// granule's window must continue it (long → start → short → stop → long), so two encoders
    /// can hand over after a frame only if they agree on it.
    var lastGranuleWindows: [UInt8]

    /// Reads the side information of a frame whose header is `header`.
    /// - Returns: `nil` if `sideInfo` is shorter than the header says.
    init?(header: MP3FrameHeader, sideInfo: [UInt8]) {
        guard sideInfo.count == header.sideInfoCount else { return nil }
        var reader = BitReader(sideInfo)
        let mpeg1 = header.isMPEG1
        let channels = header.channelCount
        mainDataBegin = reader.read(mpeg1 ? 9 : 8)
        reader.skip(mpeg1 ? (channels == 1 ? 5 : 3) : (channels == 1 ? 1 : 2))
        if mpeg1 { reader.skip(4 * channels) } // scfsi
        var bits = 0
        var windows = [UInt8](repeating: 0, count: channels)
        for _ in 0..<(mpeg1 ? 2 : 1) {
            for channel in 0..<channels {
                bits += reader.read(12)          // part2_3_length
                reader.skip(9 + 8)               // big_values, global_gain
                reader.skip(mpeg1 ? 4 : 9)       // scalefac_compress
                if reader.read(1) == 1 {         // window_switching_flag
                    let blockType = reader.read(2)
                    let mixed = reader.read(1)
                    windows[channel] = UInt8(blockType << 1 | mixed)
                    reader.skip(2 * 5 + 3 * 3)   // table_select, subblock_gain
                } else {
                    windows[channel] = 0
                    reader.skip(3 * 5 + 4 + 3)   // table_select, region0/1_count
                }
                reader.skip(mpeg1 ? 3 : 2)       // (preflag), scalefac_scale, count1table_select
            }
        }
        self.header = header
        self.sideInfo = sideInfo
        self.mainData = []
        self.lastGranuleWindows = windows
        mainDataByteCount = (bits + 7) / 8
    }

    /// Bytes of main data the side information announces (``mainData`` once filled in).
    let mainDataByteCount: Int

    /// Whether `other` encodes the same audio: the same main data and side information apart from
    /// where the main data begins. A decoder gives the same samples for either.
    func encodesSameAudio(as other: MP3Frame) -> Bool {
        guard mainData == other.mainData, sideInfo.count == other.sideInfo.count,
              header.bitrateIndex == other.header.bitrateIndex else { return false }
        // main_data_begin takes the first 9 (MPEG-1) or 8 bits.
        let firstFull = header.isMPEG1 ? 2 : 1
        if header.isMPEG1, sideInfo[1] & 0x7F != other.sideInfo[1] & 0x7F { return false }
        return sideInfo[firstFull...] == other.sideInfo[firstFull...]
    }

    /// The side information with `main_data_begin` set to `begin`.
    func sideInfo(withMainDataBegin begin: Int) -> [UInt8] {
        var copy = sideInfo
        if header.isMPEG1 {
            copy[0] = UInt8(begin >> 1)
            copy[1] = copy[1] & 0x7F | UInt8(begin & 1) << 7
        } else {
            copy[0] = UInt8(begin)
        }
        return copy
    }
}

/// Reads big-endian bit fields from a byte array (side information is at most 32 bytes).
private struct BitReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func read(_ count: Int) -> Int {
        var value = 0
        for _ in 0..<count {
            let byte = position >> 3 < bytes.count ? bytes[position >> 3] : 0
            value = value << 1 | Int(byte >> (7 - UInt8(position & 7)) & 1)
            position += 1
        }
        return value
    }

    mutating func skip(_ count: Int) { position += count }
}
