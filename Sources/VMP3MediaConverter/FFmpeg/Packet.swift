import VMP3Core
import CFFmpeg

/// Owns one `AVPacket`, reused for every read; freed in `deinit`.
final class Packet {
    let pointer: UnsafeMutablePointer<AVPacket>

    init() throws(AVError) {
        guard let packet = av_packet_alloc() else { throw AVError.outOfMemory }
        pointer = packet
    }

    deinit {
        var packet: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&packet)
    }

    /// Index of the stream this packet belongs to.
    var streamIndex: Int { Int(pointer.pointee.stream_index) }

    /// Presentation timestamp in the stream's time base, or `nil` if unset.
    var presentationTimestamp: Int64? {
        let pts = pointer.pointee.pts
        return pts == avNoTimestamp ? nil : pts
    }

    /// Whether the demuxer flagged the packet as damaged, as it does when the file ends inside it.
    var isCorrupt: Bool { pointer.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 }

    /// Whether the demuxer marked the packet as a key frame (decodable on its own).
    var isKey: Bool { pointer.pointee.flags & AV_PKT_FLAG_KEY != 0 }

    /// Releases the payload so that the packet can be filled again.
    func unref() {
        av_packet_unref(pointer)
    }
}
