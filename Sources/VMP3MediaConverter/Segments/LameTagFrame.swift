/// Completes the LAME/Xing frame of a stream joined from several encoders.
///
/// The first segment's encoder writes the frame with everything that describes the encoding (the
/// version, VBR method, quality, lowpass, preset); what describes the stream is its own and is
/// replaced by the whole stream's: frame count, byte count, seek table, encoder padding, music
/// length and music CRC, then the tag's CRC over its first bytes (190 for MPEG-1 stereo).
/// Layout: Xing's header (`Xing`/`Info`, flags, frames, bytes, 100-byte TOC, quality), then LAME's
/// extension (version at +120, delay and padding at +141, music length at +148, music CRC at
/// +152, tag CRC at +154, counted from `Xing`).
enum LameTagFrame {
    /// `frame` with the stream's figures; `frame` unchanged if it is not a LAME/Xing frame.
    /// - Parameters:
    ///   - frameCount: audio frames, the tag frame not counted.
    ///   - audioByteCount: bytes of the audio frames.
    ///   - padding: samples of silence the encoder added after the last input sample.
    static func completing(
        _ frame: [UInt8], frameCount: Int, audioByteCount: Int64, seekTable: [UInt8], padding: Int, musicCRC: UInt16
    ) -> [UInt8] {
        guard let header = MP3FrameHeader(frame) else { return frame }
        let xing = 4 + header.sideInfoCount
        guard frame.count >= xing + 156, seekTable.count == 100,
              frame[xing..<(xing + 4)].elementsEqual("Xing".utf8) || frame[xing..<(xing + 4)].elementsEqual("Info".utf8),
              (0..<4096).contains(padding) else { return frame }
        var tag = frame
        let streamBytes = audioByteCount + Int64(frame.count)
        put(UInt32(clamping: frameCount), at: xing + 8, in: &tag)
        put(UInt32(clamping: streamBytes), at: xing + 12, in: &tag)
        tag.replaceSubrange((xing + 16)..<(xing + 116), with: seekTable)
        // Delay (12 bits) stays; padding (12 bits) follows it.
        tag[xing + 142] = tag[xing + 142] & 0xF0 | UInt8(padding >> 8)
        tag[xing + 143] = UInt8(truncatingIfNeeded: padding)
        put(UInt32(clamping: streamBytes), at: xing + 148, in: &tag)
        tag[xing + 152] = UInt8(musicCRC >> 8)
        tag[xing + 153] = UInt8(truncatingIfNeeded: musicCRC)
        var crc = CRC16()
        crc.update(tag[0..<(xing + 154)])
        tag[xing + 154] = UInt8(crc.value >> 8)
        tag[xing + 155] = UInt8(truncatingIfNeeded: crc.value)
        return tag
    }

    /// The encoder delay the frame records (12 bits at +141), or `nil` if it is not a LAME frame.
    static func encoderDelay(in frame: [UInt8]) -> Int? {
        guard let header = MP3FrameHeader(frame), frame.count >= 4 + header.sideInfoCount + 156 else { return nil }
        let at = 4 + header.sideInfoCount + 141
        return Int(frame[at]) << 4 | Int(frame[at + 1] >> 4)
    }

    private static func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<4 {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index))
        }
    }
}
