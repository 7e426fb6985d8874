import VMP3Core
import CFFmpeg

/// Which of FFmpeg's demuxers may open an input, and which decoders may see its bytes.
///
/// FFmpeg recognises hundreds of formats, and some of them are not media but instructions to
/// read other things: an HLS or DASH playlist names segment files or URLs, `concat` lists files,
/// `image2` opens numbered files beside the input, `sdp` opens network sockets, `ffmetadata` and
/// `tty` read text. An upload in such a format would make the converter read the server's own
/// files (or its network) and hand their audio back. So only containers that hold audio or video
/// in themselves are opened: the probe's choice is checked before the demuxer reads a header, and
/// the same list is given to libavformat as `format_whitelist`.
struct InputFormatPolicy {
    /// The demuxers allowed, by FFmpeg's short name (the first of a comma-separated name such as
    /// `mov,mp4,m4a,3gp,3g2,mj2`); `nil` allows every demuxer (for tests of the other defences only).
    let allowedDemuxers: [String]?

    /// What VMP3 opens: audio and video containers and raw audio streams.
    static let mediaContainers = InputFormatPolicy(allowedDemuxers: [
        // Video containers
        "mov",        // MP4, MOV, M4A, 3GP
        "matroska",   // MKV, WebM
        "avi", "flv", "asf", "mpegts", "mpeg", "mxf", "nut", "rm", "dv",
        // Audio containers and raw audio streams
        "ogg", "wav", "w64", "aiff", "caf", "au",
        "mp3", "aac", "loas", "flac", "ac3", "eac3", "dts", "truehd", "mlp",
        "amr", "wv", "ape", "tta", "mpc", "mpc8",
    ])

    /// Every demuxer FFmpeg has. Never for real input: tests use it to show that the refusal of
    /// nested opens holds on its own.
    static let anyDemuxer = InputFormatPolicy(allowedDemuxers: nil)

    /// The list as libavformat's comma-separated `format_whitelist`, or `nil` for no list.
    var formatWhitelist: String? { allowedDemuxers?.joined(separator: ",") }

    /// Whether the demuxer named `name` (FFmpeg's full name, e.g. `matroska,webm`) is allowed.
    func allows(_ name: String) -> Bool {
        guard let allowedDemuxers else { return true }
        return name.split(separator: ",").contains { allowedDemuxers.contains(String($0)) }
    }

    /// Every audio decoder of this FFmpeg build, as libavformat's comma-separated
    /// `codec_whitelist`: `avformat_find_stream_info` would otherwise open the video decoders
    /// (H.264, HEVC, VP9, …) and feed them the upload's frames just to learn a pixel format VMP3
    /// never uses. With it, no video, subtitle or image decoder ever sees an upload's bytes.
    static let audioDecoderWhitelist: String = {
        var iterator: UnsafeMutableRawPointer? = nil
        var names: [String] = []
        while let codec = av_codec_iterate(&iterator) {
            if av_codec_is_decoder(codec) != 0 && codec.pointee.type == AVMEDIA_TYPE_AUDIO {
                names.append(String(cString: codec.pointee.name))
            }
        }
        return names.joined(separator: ",")
    }()
}
