/// The four-byte header of an MPEG-1/2/2.5 Layer III frame, decoded.
///
/// Only what joining encoded segments needs: the frame's size, where its side information ends,
/// and how far back its main data may begin. Layer I/II, free format (bit-rate index 0) and the
/// reserved values are refused: LAME writes none of them.
struct MP3FrameHeader: Sendable, Hashable {
    /// The header as a big-endian word.
    private(set) var word: UInt32

    /// MPEG-1 (32, 44.1, 48 kHz); otherwise MPEG-2 or 2.5, whose frames hold one granule.
    var isMPEG1: Bool { (word >> 19) & 3 == 3 }
    var bitrateIndex: Int { Int((word >> 12) & 15) }
    var hasPadding: Bool { (word >> 9) & 1 == 1 }
    /// Whether a CRC-16 follows the header (the protection bit is 0).
    var hasCRC: Bool { (word >> 16) & 1 == 0 }
    var channelCount: Int { (word >> 6) & 3 == 3 ? 1 : 2 }

    var sampleRate: Int {
        let base = [44_100, 48_000, 32_000][Int((word >> 10) & 3)]
        switch (word >> 19) & 3 {
        case 3: return base
        case 2: return base / 2
        default: return base / 4
        }
    }

    var kilobitsPerSecond: Int {
        (isMPEG1 ? Self.mpeg1Rates : Self.mpeg2Rates)[bitrateIndex]
    }

    /// The whole frame, header included.
    var byteCount: Int {
        (isMPEG1 ? 144 : 72) * kilobitsPerSecond * 1000 / sampleRate + (hasPadding ? 1 : 0)
    }

    /// Bytes of side information after the header (and its CRC).
    var sideInfoCount: Int {
        isMPEG1 ? (channelCount == 2 ? 32 : 17) : (channelCount == 2 ? 17 : 9)
    }

    /// Header, CRC and side information: where the frame's share of the main data stream begins.
    var headCount: Int { 4 + (hasCRC ? 2 : 0) + sideInfoCount }

    /// The bytes of main data the frame carries (its "slots").
    var slotCount: Int { byteCount - headCount }

    /// The farthest back, in bytes of main data, that a frame's main data may begin
    /// (`main_data_begin` has 9 bits in MPEG-1, 8 in MPEG-2).
    var maxMainDataBegin: Int { isMPEG1 ? 511 : 255 }

    /// Decodes `bytes` (at least four); `nil` for anything but a Layer III header LAME could write.
    init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count >= 4 else { return nil }
        let word = bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard word >> 21 == 0x7FF,            // frame sync
              (word >> 19) & 3 != 1,          // reserved MPEG version
              (word >> 17) & 3 == 1,          // Layer III
              (1...14).contains((word >> 12) & 15),
              (word >> 10) & 3 != 3 else { return nil }
        self.word = word
    }

    /// The same frame at another bit rate, without padding (used to give a frame at a join the
    /// room its main data needs); `nil` for an index out of 1...14.
    func withBitrateIndex(_ index: Int) -> MP3FrameHeader? {
        guard (1...14).contains(index) else { return nil }
        var copy = self
        copy.word = (word & ~(UInt32(15) << 12) & ~(UInt32(1) << 9)) | UInt32(index) << 12
        return copy
    }

    /// The header's four bytes.
    var bytes: [UInt8] {
        [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
    }

    private static let mpeg1Rates = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    private static let mpeg2Rates = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
}
